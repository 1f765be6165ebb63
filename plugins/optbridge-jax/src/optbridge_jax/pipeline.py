"""The stateful gradient pipeline traced into a jitted step (``optbridge_jax.transform``).

:class:`TracedCall` is a :class:`optbridge.transforms.PipelineCall` whose scalar arithmetic
(:class:`optbridge.transforms.pipeline.HostScalars`) builds ``jax.numpy`` operations and
whose gates are recorded for :func:`run_traced`. JAX arrays are values, so the traced step
selects instead of branching: every transform and the update rule run, and what each
writes (its host numbers, its per-parameter arrays, the parameters) is kept where every
gate before it let the call through (``jnp.where``; a value of the branch not taken, a NaN
of a skipped step, never reaches the kept one). The transforms' formulas are the shared
ones, with the same numbers as the eager optimizer.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from optbridge.transforms import GradientTransform
from optbridge.transforms.pipeline import SKIP, PipelineCall

from . import ops as jax_ops

__all__ = ["TracedCall", "run_traced", "state_dtype"]


def state_dtype() -> Any:
    """The dtype of the host numbers in the state: float64 with ``jax_enable_x64``, else float32."""
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def _num(x: Any) -> Any:
    return jnp.asarray(x, state_dtype())


def _is_static(flag: Any) -> bool:
    return isinstance(flag, bool)


class _WritesMaterialize:
    """The JAX ops, but a write (``assign_``) is a materialization point (an optimization
    barrier): XLA would otherwise recompute a written expression once per output that uses
    it (an EMA's average, kept as a slot and written into a parameter) and may round the
    copies differently."""

    def __getattr__(self, name: str) -> Any:
        return getattr(jax_ops, name)

    @staticmethod
    def assign_(x: Any, value: Any) -> Any:
        return jax_ops.assign_(x, jax.lax.optimization_barrier(value))


_OPS = _WritesMaterialize()


def _select(flag: Any, new: Any, old: Any) -> Any:
    """``new`` where ``flag``, else ``old`` (pytrees of the same structure). The values pass an
    optimization barrier first: XLA would otherwise recompute an expression once per output
    that uses it (an EMA's average, kept as a slot and written into the parameter), and
    round the copies differently."""
    if _is_static(flag):
        return new if flag else old
    new, old = jax.lax.optimization_barrier((new, old))
    return jax.tree_util.tree_map(lambda a, b: jnp.where(flag, a, b), new, old)


class TracedCall(PipelineCall):
    """A pipeline call traced into a jitted step (see the module docstring)."""

    def __init__(self, transforms: Sequence[GradientTransform], step: Any, params: list[Any],
                 slots: dict[str, list[Any]], states: Sequence[Mapping[str, Any]]):
        super().__init__(jax_ops, transforms, 0, params, slots, states)
        self.step = step
        self.pending: tuple[Any, str] | None = None

    def gate(self, proceed: Any, outcome: str) -> None:
        self.pending = (proceed, outcome)

    # -- the scalar arithmetic, as jax.numpy operations ---------------------------------------
    def where(self, flag: Any, a: Any, b: Any) -> Any:
        if _is_static(flag):
            return a if flag else b
        return jnp.where(flag, _num(a), _num(b))

    def equal(self, a: Any, b: Any) -> Any:
        return jnp.equal(_num(a), _num(b))

    def at_least(self, a: Any, b: Any) -> Any:
        return jnp.greater_equal(_num(a), _num(b))

    def both(self, a: Any, b: Any) -> Any:
        if _is_static(a) and _is_static(b):
            return a and b
        return jnp.logical_and(a, b)

    def either(self, a: Any, b: Any) -> Any:
        if _is_static(a) and _is_static(b):
            return a or b
        return jnp.logical_or(a, b)

    def negate(self, a: Any) -> Any:
        return (not a) if _is_static(a) else jnp.logical_not(a)

    def larger(self, a: Any, b: Any) -> Any:
        return jnp.maximum(_num(a), _num(b))

    def is_finite(self, a: Any) -> Any:
        return jnp.isfinite(_num(a))

    def f32(self, x: Any) -> Any:
        return _num(jnp.asarray(x).astype(jnp.float32))

    def mul32(self, a: Any, b: Any) -> Any:
        return _num(jnp.asarray(a).astype(jnp.float32) * jnp.asarray(b).astype(jnp.float32))

    def reciprocal32(self, a: Any) -> Any:
        return _num(jnp.float32(1.0) / jnp.asarray(a).astype(jnp.float32))

    def scalar(self, value: Any, like: Any) -> Any:
        """``value`` in ``like``'s dtype; a traced one behind a barrier, so that XLA does not fold
        the rounding into the arithmetic around it (``1 − m`` must be a subtraction of the
        rounded ``m``, as on the host)."""
        if isinstance(value, (int, float)):
            return jax_ops.scalar(float(value), like)
        return jax.lax.optimization_barrier(jnp.asarray(value).astype(jnp.result_type(like)))

    def branch(self, flag: Any, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Any:
        if _is_static(flag):
            return if_true() if flag else if_false()
        return _select(flag, if_true(), if_false())

    def all_finite(self, grads: Sequence[Any]) -> Any:
        return jnp.all(jnp.stack([jnp.all(jnp.isfinite(g)) for g in grads]))

    def host(self, value: Any) -> Any:
        return value


def run_traced(call: TracedCall, grads: list[Any], rule: Callable[[list[Any]], tuple[list[Any], Any]],
               params: list[Any], slots: Any) -> tuple[list[Any], Any, Any]:
    """One traced step (see the module docstring): the transforms' ``forward`` in order, each
    one's writes kept where the gates before it passed; ``rule(grads) -> (new params, new
    slots)``, kept where every gate passed (else ``params``, ``slots``); then the ``after``
    stages on the parameters (those without ``runs_after_skip`` kept where no loss scale
    skipped).

    Returns:
        ``(params, slots, updated)``: ``updated`` is whether the rule's step counts. The
        transforms' host numbers and arrays are left in ``call.states`` / ``call.slots``.
    """
    active: Any = True      # every gate so far passed
    not_skipped: Any = True  # no SKIP gate failed
    for i, transform in enumerate(call.transforms):
        call._current = i
        call.pending = None
        before = (dict(call.states[i]), {s: list(call.slots[s]) for s in transform.slot_fills()})
        out = transform.apply(_OPS, grads) if transform.stateless else transform.forward(_OPS, grads, call)
        if not _is_static(active) or active is False:
            call.states[i] = _select(active, dict(call.states[i]), before[0])
            for s, old in before[1].items():
                call.slots[s] = _select(active, list(call.slots[s]), old)
        grads = out
        if call.pending is not None:
            proceed, outcome = call.pending
            active = call.both(active, proceed)
            if outcome == SKIP:
                not_skipped = call.both(not_skipped, proceed)
    # the rule's results are materialized before the after stages read them: XLA would
    # otherwise recompute an update inside an EMA's expression and may contract it there
    new_params, new_slots = jax.lax.optimization_barrier(rule(grads))
    params = _select(active, new_params, list(params))
    slots = _select(active, new_slots, slots)
    call.params = params
    for i, transform in enumerate(call.transforms):
        if type(transform).after is GradientTransform.after:
            continue
        call._current = i
        before = (dict(call.states[i]), {s: list(call.slots[s]) for s in transform.slot_fills()}, list(params))
        after = transform.after(_OPS, list(params), call)
        keep = True if transform.runs_after_skip else not_skipped
        params = _select(keep, list(after), before[2])
        call.states[i] = _select(keep, dict(call.states[i]), before[0])
        for s, old in before[1].items():
            call.slots[s] = _select(keep, list(call.slots[s]), old)
    return params, slots, active
