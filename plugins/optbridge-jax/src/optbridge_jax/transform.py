"""An Optax-style ``init``/``update`` pair over the same engine and jitted bucket steps.

::

    tx = optbridge_jax.transform(spec)            # spec: a dialect optimizer or OptimizerSpec
    state = tx.init(params)
    updates, state = tx.update(grads, state, params)
    params = jax.tree_util.tree_map(jnp.add, params, updates)   # = optax.apply_updates

The state is an :class:`OptState`: the slots (a pytree of arrays) and the engine's host
counters (global step, per-group host state such as Adam's accumulated β powers, learning
rate overrides, the state of schedules declared in the spec) as plain Python data.
``update`` is a function of its arguments: the same ``(grads, state, params)`` gives the
same result, and an old state can be reused.

Like the optimizer, ``update`` runs the host-side engine (schedules are evaluated on the
host, in the origin framework's precision), so it is called outside ``jax.jit``; the
per-bucket steps inside it are jitted. A tracer passed in raises a ``TypeError``.

``updates`` are ``new_params − params``. Adding them back gives the new parameters bit
for bit wherever an element changes by less than a factor of two in a step (the
subtraction is then exact, Sterbenz's lemma), which holds for every realistic step;
otherwise ``params + updates`` may differ from the optimizer's result in the last bit.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optbridge.dialects.base import DialectOptimizer
from optbridge.spec import OptimizerSpec

from .optimizer import JaxOptimizer

__all__ = ["OptState", "GradientTransformation", "transform"]


class OptState(NamedTuple):
    """State of :func:`transform`: slot arrays and the engine's host counters.

    Attributes:
        slots: ``{param name: {slot name: array}}``.
        host: ``{"global_step": int, "groups": [{"host_state": {...}, "lr_override": float | None,
            "schedules": {...}, "scheduler_values": {...}, "hyperparameters": {...}}]}``: each group
            as in the neutral state dict (less ``index`` and ``params``), with the state of the
            schedules declared in the spec, so an old state replays and a new transformation
            resumes them.
    """

    slots: dict
    host: dict

    @property
    def count(self) -> int:  # type: ignore[override]  # Optax's name, not tuple.count
        """Steps taken (Optax's ``count``)."""
        return int(self.host["global_step"])


class GradientTransformation(NamedTuple):
    """Optax's ``GradientTransformation`` shape: ``init(params)`` and ``update(grads, state, params)``."""

    init: Callable[[Any], OptState]
    update: Callable[..., tuple[Any, OptState]]


def transform(spec: DialectOptimizer | OptimizerSpec, *, fma: bool = False) -> GradientTransformation:
    """An Optax-style gradient transformation running ``spec`` on the JAX backend (shared rules).

    Args:
        spec: a dialect optimizer (``nn.Adam(...)``) or a canonical spec.
        fma: see :class:`~optbridge_jax.optimizer.JaxOptimizer`.
    """
    canonical = spec.to_canonical() if isinstance(spec, DialectOptimizer) else spec
    if not isinstance(canonical, OptimizerSpec):
        raise TypeError(f"transform takes a dialect optimizer or an OptimizerSpec. Received: {type(spec).__name__}")
    runners: dict[Any, JaxOptimizer] = {}

    def runner(params: Any) -> JaxOptimizer:
        key = (jax.tree_util.tree_structure(params),
               tuple((tuple(x.shape), str(x.dtype)) for x in jax.tree_util.tree_leaves(params)))
        if key not in runners:
            runners[key] = JaxOptimizer(canonical, params, fma=fma)
        return runners[key]

    def init(params: Any) -> OptState:
        opt = JaxOptimizer(canonical, params, fma=fma)
        return OptState(slots={n: dict(s) for n, s in opt.slots.items()}, host=opt.host_state())

    def update(grads: Any, state: OptState, params: Any = None) -> tuple[Any, OptState]:
        if params is None:
            raise TypeError("update needs params: optbridge algorithms read them (weight decay, averaging)")
        opt = runner(params)
        opt.restore(params, state.slots, state.host)
        new_params = opt.step(grads)
        updates = jax.tree_util.tree_map(jnp.subtract, new_params, params)
        return updates, OptState(slots=opt.slots, host=opt.host_state())

    return GradientTransformation(init, update)
