"""One step's pass through the gradient pipeline, for backends that step eagerly.

A backend's step (``BaseOptimizer.step``, the torch backend's) runs the spec's transforms
(``OptimizerSpec.transforms``) in two stages around the update rule::

    call = PipelineCall(ops, engine, params, slots, host=float)
    grads = call.forward(grads)            # None: the call ended early (call.outcome)
    if grads is not None:
        ... the rule on grads; engine.commit(plan) ...
    params = call.after(params, updated=grads is not None)
    engine.commit_transforms(call.states)  # the host state the transforms left

* ``"update"``: every transform ran on the gradients, the rule runs and the optimizer's
  step count advances;
* ``"hold"`` (``call.gate(proceed, HOLD)``, gradient accumulation between updates): the rule does not
  run and the step count does not advance; the transforms' state and the :meth:`after`
  stage do (Keras updates its EMA on every call);
* ``"skip"`` (``call.gate(proceed, SKIP)``, a loss scaler met a non-finite gradient): nothing else runs
  but the :meth:`after` stage of a transform with ``runs_after_skip``; the step count does
  not advance; the skipping transform's own state changes (the loss scale backs off).

The host numbers (a loss scale, a counter) are copied at the start; the engine takes the
new ones only when the backend commits them, after every array write of the step, so a
call that raises changes no host state.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .base import GradientTransform

__all__ = ["PipelineCall", "HostScalars", "UPDATE", "HOLD", "SKIP", "stateful", "transform_slots"]

UPDATE, HOLD, SKIP = "update", "hold", "skip"


class HostScalars:
    """The scalar arithmetic a transform's decisions and host numbers are written with, on
    Python numbers. A backend that traces the whole step (TensorFlow inside a
    ``tf.function``) passes a call whose methods take and give scalar tensors instead, so
    one formula serves both: ``where`` instead of ``if``, :meth:`branch` around writes."""

    def __init__(self, ops: Any):
        self.ops = ops

    def where(self, flag: Any, a: Any, b: Any) -> Any:
        return a if flag else b

    def equal(self, a: Any, b: Any) -> Any:
        return a == b

    def at_least(self, a: Any, b: Any) -> Any:
        return a >= b

    def both(self, a: Any, b: Any) -> Any:
        return bool(a) and bool(b)

    def either(self, a: Any, b: Any) -> Any:
        return bool(a) or bool(b)

    def negate(self, a: Any) -> Any:
        return not a

    def larger(self, a: Any, b: Any) -> Any:
        return max(a, b)

    def is_finite(self, a: Any) -> Any:
        return math.isfinite(a)

    def f32(self, x: Any) -> Any:
        """``x`` rounded to float32 (a float32 number held as a float)."""
        return float(np.float32(x))

    def mul32(self, a: Any, b: Any) -> Any:
        """``float32(a)·float32(b)`` rounded to float32 (a float32 multiplication)."""
        return float(np.float32(a) * np.float32(b))

    def reciprocal32(self, a: Any) -> Any:
        """``1/float32(a)`` correctly rounded in float32."""
        return float(np.float32(1.0) / np.float32(a))

    def scalar(self, value: Any, like: Any) -> Any:
        """``value`` as a scalar of ``like``'s dtype (``ops.scalar``)."""
        return self.ops.scalar(float(value), like)

    def branch(self, flag: Any, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Any:
        """``if_true()`` if ``flag`` else ``if_false()``. The branches compute values and write
        nothing (the caller writes the chosen values), so a traced backend may evaluate
        them under a ``cond`` or both and select."""
        return if_true() if flag else if_false()

    def all_finite(self, grads: Sequence[Any]) -> Any:
        """Whether every element of ``grads`` is finite (here: one device sync)."""
        ops = self.ops
        worst = None
        for g in grads:
            if not all(ops.shape_of(g)):
                continue
            top = ops.astype(ops.amax(ops.abs(g)), "float64")
            worst = top if worst is None else ops.maximum(worst, top)
        return worst is None or math.isfinite(self.host(worst))

    def host(self, value: Any) -> float:
        """A backend 0-d array as a Python float: the step waits for the value (a device sync)."""
        return float(value)


class PipelineCall(HostScalars):
    """The context a transform sees in one step (see the module docstring).

    Attributes:
        ops: the backend's ops namespace.
        transforms: the spec's transforms, in order.
        step: the optimizer's steps so far (``Engine.global_step``; Keras ``iterations``).
        params: every parameter of the step, in the gradients' order.
        slots: ``{slot name: [array per parameter]}``: the transforms' per-parameter arrays
            (lists a transform rebinds, like a rule's slots).
        states: the transforms' host numbers, one dict per transform (copies).
        outcome: ``"update"``, ``"hold"`` or ``"skip"``.
    """

    def __init__(self, ops: Any, transforms: Sequence[GradientTransform], step: int, params: list[Any],
                 slots: dict[str, list[Any]], states: Sequence[Mapping[str, float]],
                 host: Callable[[Any], float] = float):
        super().__init__(ops)
        self.transforms = tuple(transforms)
        self.step = step
        self.params = params
        self.slots = slots
        self.states = [dict(s) for s in states]
        self.outcome = UPDATE
        self._host = host
        self._current = 0

    @property
    def state(self) -> dict[str, float]:
        """The running transform's host numbers (a copy: set the new ones with ``call.state = ...``)."""
        return dict(self.states[self._current])

    @state.setter
    def state(self, value: Mapping[str, float]) -> None:
        self.states[self._current] = dict(value)

    def host(self, value: Any) -> float:
        return float(self._host(value))

    def gate(self, proceed: Any, outcome: str) -> None:
        """End the call with ``outcome`` (:data:`HOLD`: before the update rule, the step count
        not advancing; :data:`SKIP`: also before every later stage but the ``runs_after_skip``
        ones) unless ``proceed``."""
        if not proceed:
            self.outcome = outcome

    @property
    def updated(self) -> bool:
        """Whether the update rule runs (ran) in this call."""
        return self.outcome == UPDATE

    def forward(self, grads: list[Any],
                apply: Callable[[GradientTransform, list[Any]], list[Any]] | None = None) -> list[Any] | None:
        """Run every transform's :meth:`~GradientTransform.forward` in order; the gradients for
        the rule, or ``None`` when a transform ended the call. ``apply``: a backend's own way
        to run a stateless transform (``apply(transform, grads)``)."""
        for i, transform in enumerate(self.transforms):
            self._current = i
            if apply is not None and transform.stateless:
                grads = apply(transform, grads)
            elif transform.stateless:
                grads = transform.apply(self.ops, grads)
            else:
                grads = transform.forward(self.ops, grads, self)
            if self.outcome != UPDATE:
                return None
        return grads

    def after(self, params: list[Any],
              apply: Callable[[GradientTransform, list[Any], PipelineCall], list[Any] | None] | None = None
              ) -> list[Any]:
        """Run every transform's :meth:`~GradientTransform.after` that this outcome allows;
        the parameters (rebound where written). ``apply``: a backend's own way to run one
        (``apply(transform, params, call)``, ``None`` where it has none)."""
        for i, transform in enumerate(self.transforms):
            if self.outcome == SKIP and not transform.runs_after_skip:
                continue
            self._current = i
            done = None if apply is None else apply(transform, params, self)
            params = transform.after(self.ops, params, self) if done is None else done
        return params


def transform_slots(transforms: Sequence[GradientTransform]) -> list[str]:
    """The names of the per-parameter arrays ``transforms`` keep, in order."""
    return [slot for t in transforms for slot in t.slot_fills()]


def stateful(transforms: Sequence[GradientTransform]) -> bool:
    """Whether any of ``transforms`` is not :attr:`~GradientTransform.stateless` (so the step
    needs a :class:`PipelineCall`)."""
    return not all(t.stateless for t in transforms)
