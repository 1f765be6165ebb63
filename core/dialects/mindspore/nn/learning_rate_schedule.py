r"""MindSpore's ``mindspore.nn.learning_rate_schedule``: learning rates computed from the step.

In MindSpore each schedule is a ``Cell`` whose ``construct(global_step)`` runs as float32
graph ops when the optimizer fetches its learning rate. Here each is a
:class:`~optbridge.schedules.base.Schedule` with ``precision = "float32"`` whose
:meth:`value` repeats that graph op for op on NumPy float32 scalars, in MindSpore's
order, so the result has the same bits. Python scalars in MindSpore's expressions become
float32 tensors before the op that uses them (``float32(x)`` below); constants MindSpore
computes in Python at construction (``delta``, ``diff_learning_rate``, ``-decay_rate``)
are computed in float64 first, as there. With :math:`s` the step (``int32``) and
:math:`g = \mathrm{float32}(s)`:

* ``ExponentialDecayLR``: :math:`p = g / d` (``floor`` when ``is_stair``);
  :math:`\text{lr} \cdot \mathrm{pow}(r, p)`.
* ``NaturalExpDecayLR``: :math:`p = g`, or :math:`\mathrm{floordiv}(g, d) \cdot d` when
  ``is_stair``; :math:`\text{lr} \cdot \mathrm{pow}(\mathrm{float32}(e), -r \cdot p)`.
* ``InverseDecayLR``: :math:`p = g / d` (``floor`` when ``is_stair``);
  :math:`\mathrm{reciprocal}(1 + r \cdot p) \cdot \text{lr}` (MindSpore's
  ``Tensor.__rtruediv__`` turns ``lr / x`` into ``x.reciprocal() * lr``, which rounds twice).
* ``CosineDecayLR``: :math:`p = \mathrm{float32}(\min(s, d))`;
  :math:`m + \delta \cdot (1 + \sin(\pi \cdot (p / d + 0.5)))` with
  :math:`\delta = \tfrac12 (M - m)`.
* ``PolynomialDecayLR``: :math:`t = \min(g, d)`, :math:`T = d`; with
  ``update_decay_steps`` :math:`t = g`, :math:`T = d \cdot \max(\lceil g / d \rceil, 1)`;
  :math:`(\text{lr} - \text{end}) \cdot \mathrm{pow}(1 - t / T, \text{power}) + \text{end}`.
* ``WarmUpLR``: :math:`\text{lr} \cdot (\mathrm{float32}(\min(s, w)) / w)`.

Elementary functions: MindSpore's CPU ``Pow`` on scalar tensors gives C ``powf``'s
result, which NumPy's float32 scalar ``**`` also calls (the ``np.power`` ufunc takes
vectorised paths with other roundings); MindSpore's ``Sin`` gives float64 ``sin``
rounded to float32, computed here as ``float32(math.sin(x))``. ``floor``, ``ceil``,
``min``, ``max`` and the arithmetic are exact or correctly rounded either way.

Dialect notes (MindSpore 2.10 source vs its documentation):

* ``NaturalExpDecayLR`` does not divide by ``decay_steps``: it computes
  :math:`\text{lr} \cdot e^{-r s}`, and with ``is_stair``
  :math:`\text{lr} \cdot e^{-r d \lfloor s / d \rfloor}`, where the documentation says
  :math:`p = s / d` and :math:`p = \lfloor s / d \rfloor`.
* ``CosineDecayLR`` evaluates :math:`1 + \sin(\pi (p/d + 1/2))` (equal to the documented
  cosine in exact arithmetic, not in float32) and clamps the step at ``decay_steps``.
* ``PolynomialDecayLR`` with ``update_decay_steps=True`` does not clamp the step and uses
  :math:`\max(\lceil s/d \rceil, 1)` (so step 0 does not divide by zero).
* ``WarmUpLR`` accepts ``learning_rate=0.0``; its documentation says it must be > 0.
* ``CosineDecayLR`` and ``PolynomialDecayLR`` are documented for Ascend and GPU only but
  run on CPU.

Source: ``mindspore/nn/learning_rate_schedule.py`` of MindSpore 2.10.0,
https://www.mindspore.cn/docs/en/master/api_python/mindspore.nn.html#learningrateschedule-class
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ....errors import SpecValueError
from ....schedules.base import Schedule, register_schedule
from .dynamic_lr import (
    _check_float_type,
    _check_is_float,
    _check_non_negative_float,
    _check_positive_float,
    _check_positive_int,
    _check_rate_inputs,
    _check_value_type,
)

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecayLR",
    "NaturalExpDecayLR",
    "InverseDecayLR",
    "CosineDecayLR",
    "PolynomialDecayLR",
    "WarmUpLR",
]

_ONE = np.float32(1.0)
_HALF = np.float32(0.5)
_PI = np.float32(math.pi)
_E = np.float32(math.e)


class LearningRateSchedule(Schedule):
    """Base class of MindSpore-style schedules (``mindspore.nn.LearningRateSchedule``).

    Subclasses implement :meth:`value`, MindSpore's ``construct(global_step)``, in float32.
    The built-in subclasses are immutable once constructed.
    """

    precision = "float32"

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(
                f"{type(self).__name__} is immutable: cannot set {name!r}; build a new schedule"
            )
        super().__setattr__(name, value)

    def value(self, step: int) -> float:
        """Return the learning rate at global step ``step``; subclasses must override it."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement value(step), the counterpart of "
            "MindSpore's LearningRateSchedule.construct(global_step)"
        )


def _check_decay_inputs(
    learning_rate: Any, decay_rate: Any, decay_steps: Any, is_stair: Any, cls_name: str
) -> None:
    _check_positive_int(decay_steps, "decay_steps", cls_name)
    _check_rate_inputs(learning_rate, decay_rate, is_stair, cls_name)


class _DecayLR(LearningRateSchedule):
    """Shared constructor of the three ``(learning_rate, decay_rate, decay_steps, is_stair)`` schedules."""

    def __init__(
        self, learning_rate: float, decay_rate: float, decay_steps: int, is_stair: bool = False
    ) -> None:
        _check_decay_inputs(learning_rate, decay_rate, decay_steps, is_stair, type(self).__name__)
        self.learning_rate = float(learning_rate)
        self.decay_rate = float(decay_rate)
        self.decay_steps = int(decay_steps)
        self.is_stair = bool(is_stair)
        self._learning_rate32 = np.float32(self.learning_rate)
        self._decay_rate32 = np.float32(self.decay_rate)
        self._decay_steps32 = np.float32(self.decay_steps)
        # NaturalExpDecayLR's ``-self.decay_rate`` is negated in Python before the cast.
        self._neg_decay_rate32 = np.float32(-self.decay_rate)
        self._frozen = True

    def _progress(self, step: int) -> np.float32:
        """``p = step / decay_steps`` in float32, floored with ``is_stair``."""
        p = np.float32(step) / self._decay_steps32
        return np.floor(p) if self.is_stair else p

    def get_config(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "decay_rate": self.decay_rate,
            "decay_steps": self.decay_steps,
            "is_stair": self.is_stair,
        }


@register_schedule
class ExponentialDecayLR(_DecayLR):
    r"""Exponential decay: :math:`\text{lr} \cdot r^{p}`, :math:`p = s / d` (floored if ``is_stair``).

    Args:
        learning_rate: initial learning rate, a float > 0.
        decay_rate: decay rate, a float > 0.
        decay_steps: steps to decay over, an int > 0.
        is_stair: floor ``p``, decaying once every ``decay_steps`` steps.

    Raises:
        TypeError: a float argument is not a ``float``, ``decay_steps`` not an ``int`` or
            ``is_stair`` not a ``bool``.
        ValueError: an argument is not > 0 or a float is not finite.
    """

    kind = "mindspore.nn.ExponentialDecayLR"

    def value(self, step: int) -> float:
        p = self._progress(step)
        return float(self._learning_rate32 * self._decay_rate32**p)


@register_schedule
class NaturalExpDecayLR(_DecayLR):
    r"""Natural exponential decay: :math:`\text{lr} \cdot e^{-r p}`, :math:`p = s`.

    With ``is_stair``, :math:`p = d \lfloor s / d \rfloor`. As in MindSpore (and unlike
    its documentation) ``p`` is not divided by ``decay_steps``.

    Args:
        learning_rate: initial learning rate, a float > 0.
        decay_rate: decay rate, a float > 0.
        decay_steps: stair length in steps, an int > 0.
        is_stair: decay once every ``decay_steps`` steps.

    Raises:
        TypeError: a float argument is not a ``float``, ``decay_steps`` not an ``int`` or
            ``is_stair`` not a ``bool``.
        ValueError: an argument is not > 0 or a float is not finite.
    """

    kind = "mindspore.nn.NaturalExpDecayLR"

    def value(self, step: int) -> float:
        p = np.float32(step)
        if self.is_stair:
            p = np.floor(p / self._decay_steps32) * self._decay_steps32
        return float(self._learning_rate32 * _E ** (self._neg_decay_rate32 * p))


@register_schedule
class InverseDecayLR(_DecayLR):
    r"""Inverse-time decay: :math:`\text{lr} / (1 + r p)`, :math:`p = s / d` (floored if ``is_stair``).

    The division is MindSpore's ``reciprocal(1 + r p) * lr`` (two float32 roundings).

    Args:
        learning_rate: initial learning rate, a float > 0.
        decay_rate: decay rate, a float > 0.
        decay_steps: steps to decay over, an int > 0.
        is_stair: floor ``p``, decaying once every ``decay_steps`` steps.

    Raises:
        TypeError: a float argument is not a ``float``, ``decay_steps`` not an ``int`` or
            ``is_stair`` not a ``bool``.
        ValueError: an argument is not > 0 or a float is not finite.
    """

    kind = "mindspore.nn.InverseDecayLR"

    def value(self, step: int) -> float:
        p = self._progress(step)
        # ``learning_rate / tensor`` is Tensor.__rtruediv__: ``tensor.reciprocal() * learning_rate``.
        return float(_ONE / (_ONE + self._decay_rate32 * p) * self._learning_rate32)


@register_schedule
class CosineDecayLR(LearningRateSchedule):
    r"""Cosine decay: :math:`m + \tfrac12 (M - m)(1 + \sin(\pi (\min(s, d)/d + \tfrac12)))`.

    Args:
        min_lr: minimum learning rate, a float >= 0.
        max_lr: maximum learning rate, a float > ``min_lr``.
        decay_steps: steps to decay over, an int > 0; later steps stay at ``min_lr``.

    Raises:
        TypeError: ``min_lr`` or ``max_lr`` is not a ``float`` or ``decay_steps`` not an ``int``.
        ValueError: ``min_lr`` < 0, ``max_lr`` <= 0, ``decay_steps`` < 1,
            ``min_lr`` >= ``max_lr``, or a float is not finite.
    """

    kind = "mindspore.nn.CosineDecayLR"

    def __init__(self, min_lr: float, max_lr: float, decay_steps: int) -> None:
        cls_name = type(self).__name__
        _check_float_type(min_lr, "min_lr", cls_name)
        _check_non_negative_float(min_lr, "min_lr", cls_name)
        _check_positive_float(max_lr, "max_lr", cls_name)
        _check_is_float(max_lr, "max_lr", cls_name)
        _check_positive_int(decay_steps, "decay_steps", cls_name)
        if min_lr >= max_lr:
            raise SpecValueError(
                f"For '{cls_name}', the 'max_lr' must be greater than the 'min_lr', "
                f"but got 'max_lr' value: {max_lr}, 'min_lr' value: {min_lr}."
            )
        self.min_lr = float(min_lr)
        self.max_lr = float(max_lr)
        self.decay_steps = int(decay_steps)
        self.delta = 0.5 * (self.max_lr - self.min_lr)
        self._min_lr32 = np.float32(self.min_lr)
        self._delta32 = np.float32(self.delta)
        self._decay_steps32 = np.float32(self.decay_steps)
        self._frozen = True

    def value(self, step: int) -> float:
        p = np.float32(min(step, self.decay_steps))
        angle = _PI * (p / self._decay_steps32 + _HALF)
        sine = np.float32(math.sin(float(angle)))
        return float(self._min_lr32 + self._delta32 * (_ONE + sine))

    def get_config(self) -> dict[str, Any]:
        return {"min_lr": self.min_lr, "max_lr": self.max_lr, "decay_steps": self.decay_steps}


@register_schedule
class PolynomialDecayLR(LearningRateSchedule):
    r"""Polynomial decay: :math:`(\text{lr} - \text{end})(1 - t/T)^{\text{power}} + \text{end}`.

    :math:`t = \min(s, d)`, :math:`T = d`; with ``update_decay_steps``, :math:`t = s` and
    :math:`T = d \max(\lceil s / d \rceil, 1)`.

    Args:
        learning_rate: initial learning rate, a float > 0.
        end_learning_rate: final learning rate, a float >= 0.
        decay_steps: steps to decay over, an int > 0.
        power: exponent, a float > 0.
        update_decay_steps: stretch the decay period to the next multiple of
            ``decay_steps`` instead of holding ``end_learning_rate``.

    Raises:
        TypeError: a float argument is not a ``float``, ``decay_steps`` not an ``int`` or
            ``update_decay_steps`` not a ``bool``.
        ValueError: ``learning_rate`` or ``power`` <= 0, ``end_learning_rate`` < 0,
            ``decay_steps`` < 1, or a float is not finite.
    """

    kind = "mindspore.nn.PolynomialDecayLR"

    def __init__(
        self,
        learning_rate: float,
        end_learning_rate: float,
        decay_steps: int,
        power: float,
        update_decay_steps: bool = False,
    ) -> None:
        cls_name = type(self).__name__
        _check_positive_float(learning_rate, "learning_rate", cls_name)
        _check_is_float(learning_rate, "learning_rate", cls_name)
        _check_float_type(end_learning_rate, "end_learning_rate", cls_name)
        _check_non_negative_float(end_learning_rate, "end_learning_rate", cls_name)
        _check_positive_int(decay_steps, "decay_steps", cls_name)
        _check_value_type("update_decay_steps", update_decay_steps, (bool,), cls_name)
        _check_positive_float(power, "power", cls_name)
        _check_is_float(power, "power", cls_name)
        self.decay_steps = int(decay_steps)
        self.start_learning_rate = float(learning_rate)
        self.end_learning_rate = float(end_learning_rate)
        self.diff_learning_rate = self.start_learning_rate - self.end_learning_rate
        self.power = float(power)
        self.update_decay_steps = bool(update_decay_steps)
        self._decay_steps32 = np.float32(self.decay_steps)
        self._end_learning_rate32 = np.float32(self.end_learning_rate)
        self._diff_learning_rate32 = np.float32(self.diff_learning_rate)
        self._power32 = np.float32(self.power)
        self._frozen = True

    def value(self, step: int) -> float:
        global_step = np.float32(step)
        if self.update_decay_steps:
            periods = np.maximum(np.ceil(global_step / self._decay_steps32), _ONE)
            decay_steps = self._decay_steps32 * periods
        else:
            decay_steps = self._decay_steps32
            global_step = np.minimum(global_step, self._decay_steps32)
        p = global_step / decay_steps
        return float(self._diff_learning_rate32 * (_ONE - p) ** self._power32 + self._end_learning_rate32)

    def get_config(self) -> dict[str, Any]:
        return {
            "learning_rate": self.start_learning_rate,
            "end_learning_rate": self.end_learning_rate,
            "decay_steps": self.decay_steps,
            "power": self.power,
            "update_decay_steps": self.update_decay_steps,
        }


@register_schedule
class WarmUpLR(LearningRateSchedule):
    r"""Linear warm-up: :math:`\text{lr} \cdot \min(s, w) / w`.

    Args:
        learning_rate: learning rate reached at step ``warmup_steps``, a float >= 0
            (MindSpore accepts 0.0 although its documentation asks for > 0).
        warmup_steps: warm-up length in steps, an int > 0.

    Raises:
        TypeError: ``learning_rate`` is not a ``float`` or ``warmup_steps`` not an ``int``.
        ValueError: ``learning_rate`` < 0 or not finite, or ``warmup_steps`` < 1.
    """

    kind = "mindspore.nn.WarmUpLR"

    def __init__(self, learning_rate: float, warmup_steps: int) -> None:
        cls_name = type(self).__name__
        _check_float_type(learning_rate, "learning_rate", cls_name)
        _check_non_negative_float(learning_rate, "learning_rate", cls_name)
        _check_positive_int(warmup_steps, "warmup_steps", cls_name)
        self.warmup_steps = int(warmup_steps)
        self.learning_rate = float(learning_rate)
        self._learning_rate32 = np.float32(self.learning_rate)
        self._warmup_steps32 = np.float32(self.warmup_steps)
        self._frozen = True

    def value(self, step: int) -> float:
        warmup_percent = np.float32(min(step, self.warmup_steps)) / self._warmup_steps32
        return float(self._learning_rate32 * warmup_percent)

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps}
