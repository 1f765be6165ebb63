r"""Gradient accumulation: an update every ``steps``-th call, with the mean gradient.

Keras ``gradient_accumulation_steps`` (``BaseOptimizer._backend_apply_gradients``,
``keras/src/optimizers/base_optimizer.py``): each parameter has an accumulator ``a``
(zeros); on a call that is not the ``steps``-th since the last update, ``a ← g + a`` and
nothing else happens to the parameter (the update rule does not run); on the
``steps``-th:

1. ``g ← (g + a) / steps`` (a correctly rounded division);
2. ``a ← 0``;
3. the rest of the pipeline (clipping, weight decay) and the update rule run on ``g``.

The optimizer's step count (Keras ``iterations``, ``_iterations // steps``) counts
updates, so bias corrections count updates; Keras's learning-rate schedule reads the
calls (``_iterations``), which at the ``k``-th update (from 0) is ``k·steps + steps − 1``:
:meth:`AccumulateGradients.schedule_step` gives the engine that position.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import StateDictError
from .base import GradientTransform, check_count, register_transform
from .pipeline import HOLD, PipelineCall

__all__ = ["AccumulateGradients"]


@register_transform
@dataclasses.dataclass(frozen=True)
class AccumulateGradients(GradientTransform):
    """The mean of ``steps`` calls' gradients, applied on every ``steps``-th call (see the
    module docstring).

    Args:
        steps: an int >= 2 (Keras's rule).

    Raises:
        SpecTypeError / SpecValueError: ``steps`` is not an int >= 2.
    """

    steps: int

    name = "accumulate_gradients"

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", check_count("accumulate_gradients", "steps", self.steps, 2))

    def slot_fills(self) -> dict[str, float]:
        return {"gradient_accumulator": 0.0}

    def initial_state(self) -> dict[str, float]:
        return {"count": 0}

    def integer_state(self) -> frozenset[str]:
        return frozenset({"count"})

    def check_state(self, values: Any, path: str) -> dict[str, float]:
        out = super().check_state(values, path)
        if out["count"] >= self.steps:
            raise StateDictError(f"{path}.count: must be < steps ({self.steps}). Received: {out['count']}")
        return out

    def schedule_step(self, step: int) -> int:
        """The call count a schedule reads at the update after ``step`` updates (Keras
        ``_iterations``)."""
        return step * self.steps + self.steps - 1

    def forward(self, ops: Any, grads: list[Any], call: PipelineCall) -> list[Any]:
        acc = call.slots["gradient_accumulator"]
        count = call.state["count"]
        update = call.equal(count + 1, self.steps)

        def mean() -> tuple[list[Any], list[Any]]:
            return ([ops.div(g + a, ops.scalar(float(self.steps), g)) for g, a in zip(grads, acc)],
                    [ops.full_like(a, 0.0) for a in acc])

        def add() -> tuple[list[Any], list[Any]]:
            return list(grads), [g + a for g, a in zip(grads, acc)]

        out, new = call.branch(update, mean, add)
        for i, value in enumerate(new):
            acc[i] = ops.assign_(acc[i], value)
        call.state = {"count": call.where(update, 0, count + 1)}
        call.gate(update, HOLD)
        return out
