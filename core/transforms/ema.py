r"""An exponential moving average of the parameters, kept beside them.

``form="keras"`` -- Keras ``use_ema`` (``BaseOptimizer._update_model_variables_moving_average``,
``keras/src/optimizers/base_optimizer.py``), after the update rule on every call the
optimizer's ``apply`` runs (also between accumulated updates), with ``t`` the optimizer's
step count before this call's (Keras ``iterations``):

1. ``m = [t ≠ 0]·momentum`` (in the parameter's dtype);
2. ``average ← m·average + (1 − m)·p``, each operation rounded (so the first call copies);
3. with ``overwrite_frequency`` ``F``: ``p ← average`` when ``(t + 1) mod F = 0``.

``finalize_variable_values`` (Keras; ``optimizer.finalize_averages()``) sets every
parameter to its average.

``form="torch"`` -- ``torch.optim.swa_utils.AveragedModel(model,
multi_avg_fn=get_ema_multi_avg_fn(decay))`` with ``update_parameters(model)`` called after
every ``optimizer.step()`` (``torch/optim/swa_utils.py``), also after a step a
``GradScaler`` skipped:

1. the first call: ``average ← p``;
2. later: ``average ← lerp(average, p, 1 − decay)`` (``torch._foreach_lerp_``, ATen's
   formula, ``1 − decay`` computed in float64 then rounded to the parameter's dtype);
3. ``n_averaged ← n_averaged + 1``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..errors import SpecTypeError, SpecValueError
from .base import GradientTransform, check_choice, check_count, register_transform
from .pipeline import PipelineCall

__all__ = ["ExponentialMovingAverage", "EMA_FORMS", "check_averaged"]

#: the forms of :class:`ExponentialMovingAverage`
EMA_FORMS = ("keras", "torch")


@register_transform
@dataclasses.dataclass(frozen=True)
class ExponentialMovingAverage(GradientTransform):
    """Keep an EMA of every parameter (slot ``"average"``; see the module docstring).

    Args:
        momentum: Keras ``ema_momentum``, torch's ``decay``: in ``[0, 1]``.
        form: ``"keras"`` or ``"torch"``.
        overwrite_frequency: Keras ``ema_overwrite_frequency`` (an int >= 1, or ``None``);
            ``form="keras"`` only.

    Raises:
        SpecTypeError / SpecValueError: naming the argument.
    """

    momentum: float = 0.99
    form: str = "keras"
    overwrite_frequency: int | None = None

    name = "ema"

    def __post_init__(self) -> None:
        owner = "ema"
        check_choice(owner, "form", self.form, EMA_FORMS)
        value = self.momentum
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecTypeError(f"{owner}: 'momentum' must be a number. Received: {value!r:.80}")
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise SpecValueError(f"{owner}: 'momentum' must be in the range [0, 1]. Received: momentum={value}")
        object.__setattr__(self, "momentum", float(value))
        if self.overwrite_frequency is not None:
            if self.form != "keras":
                raise SpecValueError(f"{owner}: 'overwrite_frequency' is a Keras argument (form='keras'). "
                                     f"Received: {self.overwrite_frequency!r} with form={self.form!r}")
            object.__setattr__(self, "overwrite_frequency",
                               check_count(owner, "overwrite_frequency", self.overwrite_frequency, 1))

    @property
    def runs_after_skip(self) -> bool:  # type: ignore[override]
        return self.form == "torch"

    def slot_fills(self) -> dict[str, float]:
        return {"average": 0.0}

    def initial_state(self) -> dict[str, float]:
        return {"n_averaged": 0} if self.form == "torch" else {}

    def integer_state(self) -> frozenset[str]:
        return frozenset({"n_averaged"}) if self.form == "torch" else frozenset()

    def forward(self, ops: Any, grads: list[Any], call: PipelineCall) -> list[Any]:
        return grads

    def after(self, ops: Any, params: list[Any], call: PipelineCall) -> list[Any]:
        avg = call.slots["average"]
        if self.form == "torch":
            n = call.state["n_averaged"]
            weight = 1.0 - self.momentum

            def first() -> list[Any]:
                return list(params)

            def later() -> list[Any]:
                return [ops.lerp(a, p, ops.scalar(weight, p), small=weight < 0.5) for a, p in zip(avg, params)]

            for i, value in enumerate(call.branch(call.equal(n, 0), first, later)):
                avg[i] = ops.assign_(avg[i], value)
            call.state = {"n_averaged": n + 1}
            return params
        momentum = call.where(call.equal(call.step, 0), 0.0, self.momentum)
        for i, p in enumerate(params):
            m = call.scalar(momentum, p)
            avg[i] = ops.assign_(avg[i], m * avg[i] + (ops.scalar(1.0, p) - m) * p)
        if self.overwrite_frequency:
            overwrite = call.equal((call.step + 1) % self.overwrite_frequency, 0)
            chosen = call.branch(overwrite, lambda: list(avg), lambda: list(params))
            params = [ops.assign_(p, v) for p, v in zip(params, chosen)]
        return params

def check_averaged(transforms: Any) -> None:
    """Refuse unless ``transforms`` hold an :class:`ExponentialMovingAverage` (the averages
    ``finalize_averages`` writes into the parameters).

    Raises:
        SpecValueError: naming what the spec holds.
    """
    if not any(isinstance(t, ExponentialMovingAverage) for t in transforms):
        raise SpecValueError("finalize_averages: the spec keeps no moving average (add an 'ema' transform, Keras "
                             f"use_ema=True). Its transforms: {[t.name for t in transforms]}")
