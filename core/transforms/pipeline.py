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
* ``"hold"`` (``call.hold()``, gradient accumulation between updates): the rule does not
  run and the step count does not advance; the transforms' state and the :meth:`after`
  stage do (Keras updates its EMA on every call);
* ``"skip"`` (``call.skip()``, a loss scaler met a non-finite gradient): nothing else runs
  but the :meth:`after` stage of a transform with ``runs_after_skip``; the step count does
  not advance; the skipping transform's own state changes (the loss scale backs off).

The host numbers (a loss scale, a counter) are copied at the start; the engine takes the
new ones only when the backend commits them, after every array write of the step, so a
call that raises changes no host state.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .base import GradientTransform

__all__ = ["PipelineCall", "UPDATE", "HOLD", "SKIP", "stateful"]

UPDATE, HOLD, SKIP = "update", "hold", "skip"


class PipelineCall:
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
        self.ops = ops
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
        """A backend 0-d array as a Python float: the step waits for the value (a device sync)."""
        return float(self._host(value))

    def hold(self) -> None:
        """End the call before the update rule; the step count does not advance."""
        self.outcome = HOLD

    def skip(self) -> None:
        """End the call: no update, no step; only ``runs_after_skip`` transforms run after."""
        self.outcome = SKIP

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


def stateful(transforms: Sequence[GradientTransform]) -> bool:
    """Whether any of ``transforms`` is not :attr:`~GradientTransform.stateless` (so the step
    needs a :class:`PipelineCall`)."""
    return not all(t.stateless for t in transforms)
