r"""``keras.optimizers.schedules`` (Keras 3): learning rates computed from the step, in float32.

In Keras a ``LearningRateSchedule`` is called with the optimizer's ``iterations`` (0 for
the first update) and computes with ``keras.ops`` on float32 tensors. Each class here is a
:class:`~optbridge.schedules.base.Schedule` with ``precision = "float32"`` whose
:meth:`value` repeats Keras' ops in Keras' order on NumPy float32 scalars: Python
constants in Keras' expressions become float32 before the op that uses them (``f(x)``
below), constants Keras computes in Python (``1 - alpha`` in ``CosineDecay``) are computed
in float64 first, as there. With :math:`s` = ``float32(step)``:

* ``ExponentialDecay``: :math:`p = s/d` (``floor`` with ``staircase``); :math:`\text{lr}\cdot r^{p}`.
* ``PiecewiseConstantDecay``: ``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]``
  (boundaries cast to the step's integer type, as Keras does).
* ``PolynomialDecay``: :math:`t = \min(s, d)`, :math:`T = d`; with ``cycle``
  :math:`t = s`, :math:`T = d\cdot\lceil s/d\rceil` (1 at step 0);
  :math:`(\text{lr} - \text{end})(1 - t/T)^{\text{power}} + \text{end}`.
* ``InverseTimeDecay``: :math:`p = s/d` (``floor`` with ``staircase``); :math:`\text{lr} / (1 + r p)`.
* ``CosineDecay``: :math:`\text{lr}\cdot((1-\alpha)\cdot\tfrac12(1 + \cos(\pi\min(s,d)/d)) + \alpha)`;
  with ``warmup_target``: linear warm-up from ``initial_learning_rate`` to the target
  over ``warmup_steps``, then the cosine from the target.
* ``CosineDecayRestarts``: SGDR restarts with periods growing by ``t_mul`` and
  amplitudes by ``m_mul``; the restart index is
  :math:`\lfloor\log(1 - f(1 - t_{mul}))/\log t_{mul}\rfloor`.

Elementary functions: TensorFlow's float32 ``log``/``pow`` on scalars return the float64
result rounded to float32, computed here as ``float32(math.log(x))``; its float32 ``cos``
differs from that by at most 1 ulp for some arguments (measured: 32 of 2,000 random
angles), so values agree with Keras to within 1 ulp and are usually equal
(``tests/test_keras_schedules.py`` checks it live).

Deviations: Keras keeps an integer ``initial_learning_rate`` (or ``values``) as an integer
tensor and computes in integers; here every rate is a float32.

Source: ``keras/src/optimizers/schedules/learning_rate_schedule.py`` of Keras 3.15,
https://keras.io/api/optimizers/learning_rate_schedules/
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np

from ....errors import SpecTypeError, SpecValueError
from ....schedules.base import Schedule, register_schedule

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
]

_f32 = np.float32
_ONE = _f32(1.0)
_HALF = _f32(0.5)
_PI = _f32(math.pi)


def _pow(base: np.float32, exponent: np.float32) -> np.float32:
    """TensorFlow's float32 ``pow``: the float64 power rounded to float32."""
    try:
        return _f32(math.pow(float(base), float(exponent)))
    except (ValueError, OverflowError):
        with np.errstate(all="ignore"):
            return _f32(base) ** _f32(exponent)


def _log(x: np.float32) -> np.float32:
    try:
        return _f32(math.log(float(x)))
    except ValueError:
        with np.errstate(all="ignore"):
            return np.log(_f32(x))


def _cos(x: np.float32) -> np.float32:
    return _f32(math.cos(float(x)))


def _number(cls: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)):
        raise SpecTypeError(f"{cls}: '{name}' must be a number. Received: {value!r} of type {type(value).__name__}")


def _check_decay_steps(name: str, value: Any, cls: str) -> None:
    _number(cls, name, value)
    if value <= 0:
        raise SpecValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


class LearningRateSchedule(Schedule):
    """Base class of Keras-style schedules (``keras.optimizers.schedules.LearningRateSchedule``).

    Subclasses implement :meth:`value` (Keras' ``__call__(step)``) in float32 and
    :meth:`get_config`.
    """

    precision = "float32"

    def value(self, step: int) -> float:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )


@register_schedule
class ExponentialDecay(LearningRateSchedule):
    r"""``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored exponent with ``staircase``).

    Args:
        initial_learning_rate: the initial learning rate.
        decay_steps: steps per decay period, > 0.
        decay_rate: the decay rate.
        staircase: decay at discrete intervals.
        name: Keras' name scope (kept in the config).
    """

    kind = "keras.optimizers.schedules.ExponentialDecay"

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "ExponentialDecay") -> None:
        cls = type(self).__name__
        _number(cls, "initial_learning_rate", initial_learning_rate)
        _number(cls, "decay_rate", decay_rate)
        _check_decay_steps("decay_steps", decay_steps, cls)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = bool(staircase)
        self.name = name

    def value(self, step: int) -> float:
        p = _f32(step) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return float(_f32(self.initial_learning_rate) * _pow(_f32(self.decay_rate), p))

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


@register_schedule
class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (inclusive), ``values[i]`` up to ``boundaries[i]``, then ``values[-1]``.

    Args:
        boundaries: increasing step boundaries (cast to integers, as Keras casts them to
            the step's integer type).
        values: one more value than boundaries.
        name: Keras' name scope.
    """

    kind = "keras.optimizers.schedules.PiecewiseConstantDecay"

    def __init__(self, boundaries: Sequence[int], values: Sequence[float], name: str = "PiecewiseConstant") -> None:
        cls = type(self).__name__
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise SpecTypeError(f"{cls}: 'boundaries' and 'values' must be lists. Received: {boundaries!r}, {values!r}")
        if len(boundaries) != len(values) - 1:
            raise SpecValueError(
                "The length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length {len(values)}."
            )
        if not boundaries:
            raise SpecValueError(f"{cls}: 'boundaries' must not be empty (Keras indexes boundaries[0])")
        for i, b in enumerate(boundaries):
            _number(cls, f"boundaries[{i}]", b)
        for i, v in enumerate(values):
            _number(cls, f"values[{i}]", v)
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name
        self._bounds = [int(b) for b in self.boundaries]

    def value(self, step: int) -> float:
        b = self._bounds
        if step <= b[0]:
            return float(_f32(self.values[0]))
        if step > b[-1]:
            return float(_f32(self.values[-1]))
        for low, high, v in zip(b[:-1], b[1:], self.values[1:-1]):
            if low < step <= high:
                return float(_f32(v))
        return 0.0  # unreachable for increasing boundaries; Keras sums no term either

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}


@register_schedule
class PolynomialDecay(LearningRateSchedule):
    r"""``(lr - end) * (1 - t / T) ** power + end``; with ``cycle`` the period grows to the next multiple.

    Args:
        initial_learning_rate: the initial learning rate.
        decay_steps: steps to decay over, > 0.
        end_learning_rate: the final learning rate.
        power: the polynomial's power.
        cycle: restart beyond ``decay_steps`` instead of holding ``end_learning_rate``.
        name: Keras' name scope.
    """

    kind = "keras.optimizers.schedules.PolynomialDecay"

    def __init__(self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
                 power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay") -> None:
        cls = type(self).__name__
        for key, v in (("initial_learning_rate", initial_learning_rate), ("end_learning_rate", end_learning_rate),
                       ("power", power)):
            _number(cls, key, v)
        _check_decay_steps("decay_steps", decay_steps, cls)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = bool(cycle)
        self.name = name

    def value(self, step: int) -> float:
        lr = _f32(self.initial_learning_rate)
        end = _f32(self.end_learning_rate)
        s = _f32(step)
        d = _f32(self.decay_steps)
        if self.cycle:
            multiplier = _ONE if s == 0 else np.ceil(s / _f32(self.decay_steps))
            d = d * multiplier
        else:
            s = min(s, d)
        p = s / d
        return float((lr - end) * _pow(_ONE - p, _f32(self.power)) + end)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


@register_schedule
class InverseTimeDecay(LearningRateSchedule):
    r"""``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored with ``staircase``).

    Args:
        initial_learning_rate: the initial learning rate.
        decay_steps: how often to apply the decay, > 0.
        decay_rate: the decay rate.
        staircase: decay at discrete intervals.
        name: Keras' name scope.
    """

    kind = "keras.optimizers.schedules.InverseTimeDecay"

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "InverseTimeDecay") -> None:
        cls = type(self).__name__
        _number(cls, "initial_learning_rate", initial_learning_rate)
        _number(cls, "decay_rate", decay_rate)
        _check_decay_steps("decay_steps", decay_steps, cls)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = bool(staircase)
        self.name = name

    def value(self, step: int) -> float:
        p = _f32(step) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        denom = _ONE + _f32(self.decay_rate) * p
        return float(_f32(self.initial_learning_rate) / denom)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


@register_schedule
class CosineDecay(LearningRateSchedule):
    r"""Cosine decay to ``alpha * lr`` over ``decay_steps``, after an optional linear warm-up.

    Args:
        initial_learning_rate: the initial learning rate (the warm-up's start).
        decay_steps: steps of the cosine decay, > 0.
        alpha: minimum as a fraction of the rate decayed from.
        name: Keras' name scope.
        warmup_target: lr reached by the warm-up (``None``: no warm-up).
        warmup_steps: steps of the warm-up.
    """

    kind = "keras.optimizers.schedules.CosineDecay"

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0, name: str = "CosineDecay",
                 warmup_target: float | None = None, warmup_steps: int = 0) -> None:
        cls = type(self).__name__
        _number(cls, "initial_learning_rate", initial_learning_rate)
        _number(cls, "alpha", alpha)
        _number(cls, "warmup_steps", warmup_steps)
        if warmup_target is not None:
            _number(cls, "warmup_target", warmup_target)
        _check_decay_steps("decay_steps", decay_steps, cls)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, s: np.float32, d: np.float32, decay_from: np.float32) -> np.float32:
        completed = s / d
        cosine_decayed = _HALF * (_ONE + _cos(_PI * completed))
        decayed = _f32(1 - self.alpha) * cosine_decayed + _f32(self.alpha)
        return decay_from * decayed

    def value(self, step: int) -> float:
        lr = _f32(self.initial_learning_rate)
        d = _f32(self.decay_steps)
        s = _f32(step)
        if self.warmup_target is None:
            return float(self._decay(min(s, d), d, lr))
        target = _f32(self.warmup_target)
        w = _f32(self.warmup_steps)
        s = min(s, d + w)
        if s < w:
            return float((target - lr) * (s / w) + lr)
        return float(self._decay(s - w, d, target))

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}

    def to_dict(self) -> dict[str, Any]:
        """The config form, without ``warmup_target`` when it is ``None`` (TOML has no null)."""
        data = super().to_dict()
        if data["warmup_target"] is None:
            del data["warmup_target"]
        return data


@register_schedule
class CosineDecayRestarts(LearningRateSchedule):
    r"""Cosine decay with warm restarts (SGDR): periods grow by ``t_mul``, amplitudes by ``m_mul``.

    Args:
        initial_learning_rate: the initial learning rate.
        first_decay_steps: steps of the first period, > 0.
        t_mul: factor of each next period's length.
        m_mul: factor of each next period's initial rate.
        alpha: minimum as a fraction of ``initial_learning_rate``.
        name: Keras' name scope.
    """

    kind = "keras.optimizers.schedules.CosineDecayRestarts"

    def __init__(self, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0, m_mul: float = 1.0,
                 alpha: float = 0.0, name: str = "SGDRDecay") -> None:
        cls = type(self).__name__
        for key, v in (("initial_learning_rate", initial_learning_rate), ("t_mul", t_mul), ("m_mul", m_mul),
                       ("alpha", alpha)):
            _number(cls, key, v)
        _check_decay_steps("first_decay_steps", first_decay_steps, cls)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def value(self, step: int) -> float:
        lr = _f32(self.initial_learning_rate)
        first = _f32(self.first_decay_steps)
        alpha = _f32(self.alpha)
        t_mul = _f32(self.t_mul)
        m_mul = _f32(self.m_mul)
        completed = _f32(step) / first
        if t_mul == _ONE:
            i_restart = np.floor(completed)
            completed = completed - i_restart
        else:
            i_restart = np.floor(_log(_ONE - completed * (_ONE - t_mul)) / _log(t_mul))
            sum_r = (_ONE - _pow(t_mul, i_restart)) / (_ONE - t_mul)
            completed = (completed - sum_r) / _pow(t_mul, i_restart)
        m_fac = _pow(m_mul, i_restart)
        cosine_decayed = _HALF * m_fac * (_ONE + _cos(_PI * completed))
        decayed = (_ONE - alpha) * cosine_decayed + alpha
        return float(lr * decayed)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}
