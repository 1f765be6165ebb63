r"""MindSpore's ``mindspore.nn.dynamic_lr``: learning rates precomputed as one list per step.

Each function returns a Python ``list`` of floats, one entry per global step (an
optimizer takes entry ``i`` at step ``i``), exactly as MindSpore 2.10 does. MindSpore
computes these lists in plain Python ``float`` (IEEE float64) arithmetic; every function
here repeats its expression operation for operation (same ``math.floor`` of a true
division, same ``**`` and ``math.e ** x`` rather than ``math.exp``, same association), so
the values are bit-identical to MindSpore's.

With :math:`e_i = \lfloor i / \text{step\_per\_epoch} \rfloor` (the epoch of step
:math:`i`):

* ``piecewise_constant_lr``: :math:`y_i = x_t` for :math:`i \in [M_{t-1}, M_t)`.
* ``exponential_decay_lr``: :math:`\text{lr} \cdot r^{e_i / D}`, or
  :math:`\text{lr} \cdot r^{\lfloor e_i / D \rfloor}` with ``is_stair``.
* ``natural_exp_decay_lr``: :math:`\text{lr} \cdot e^{-r \cdot e_i}`, or
  :math:`\text{lr} \cdot e^{-r \cdot D \lfloor e_i / D \rfloor}` with ``is_stair``
  (``decay_epoch`` :math:`D` is used only by the stair form).
* ``inverse_decay_lr``: :math:`\text{lr} / (1 + r \cdot e_i / D)`, or
  :math:`\text{lr} / (1 + r \lfloor e_i / D \rfloor)` with ``is_stair``.
* ``cosine_decay_lr``: :math:`m + \tfrac12 (M - m)(1 + \cos(\pi \min(e_i, D) / D))`.
* ``polynomial_decay_lr``: :math:`(\text{lr} - \text{end})(1 - t_i / T_i)^{p} + \text{end}`
  with :math:`t_i = \min(e_i, D)`, :math:`T_i = D`; with ``update_decay_epoch``
  :math:`t_i = e_i` and :math:`T_i = D \max(\lceil e_i / D \rceil, 1)`.
* ``warmup_lr``: :math:`\text{lr} \cdot \min(e_i, W) / W`.

Validation follows MindSpore's ``_checkparam`` validators in MindSpore's order, with the
same exception types (:class:`~optbridge.errors.SpecTypeError` is a ``TypeError``,
:class:`~optbridge.errors.SpecValueError` a ``ValueError``): integers must be ``int``
(not ``bool``) and > 0, floats must be ``float`` (``int`` is refused), finite, and in range.

Dialect notes (MindSpore 2.10 source vs its documentation):

* ``piecewise_constant_lr`` requires ``milestone`` to be non-decreasing (equal neighbours
  are accepted and contribute no steps), not "monotonically decreasing" as its Raises
  section says, and its learning rates must be ``float`` (an ``int`` raises TypeError).
* ``polynomial_decay_lr`` with ``update_decay_epoch=True`` uses the unclamped epoch
  :math:`e_i` (the documented :math:`\min(e_i, D)` applies only without it).

Source: ``mindspore/nn/dynamic_lr.py`` of MindSpore 2.10.0,
https://www.mindspore.cn/docs/en/master/api_python/mindspore.nn.html#dynamic-lr-function
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ....errors import SpecTypeError, SpecValueError
from ...base import check_fits_float

__all__ = [
    "piecewise_constant_lr",
    "exponential_decay_lr",
    "natural_exp_decay_lr",
    "inverse_decay_lr",
    "cosine_decay_lr",
    "polynomial_decay_lr",
    "warmup_lr",
]


def _subject(arg_name: str, prim_name: str | None) -> str:
    prefix = f"For '{prim_name}', the" if prim_name else "The"
    return f"{prefix} '{arg_name}'"


def _check_finite_number(
    arg_value: Any,
    bound: int,
    rel: str,
    arg_type: type[Any],
    arg_name: str,
    prim_name: str | None,
) -> None:
    """MindSpore's ``_checkparam._check_number``: type, finiteness, then ``arg rel bound``.

    ``bool`` passes the ``int`` isinstance test but is then refused with a TypeError, as
    in MindSpore.
    """
    subject = _subject(arg_name, prim_name)
    check_fits_float(arg_name, arg_value, f"For '{prim_name}', " if prim_name else "")
    if not isinstance(arg_value, arg_type):
        raise SpecTypeError(
            f"{subject} must be {arg_type.__name__}, but got '{arg_value}' "
            f"with type '{type(arg_value).__name__}'."
        )
    if math.isinf(arg_value) or math.isnan(arg_value):
        raise SpecValueError(f"{subject} must be a legal value, but got '{arg_value}'.")
    holds = arg_value > bound if rel == ">" else arg_value >= bound
    if isinstance(arg_value, bool) or not holds:
        message = (
            f"{subject} must be {arg_type.__name__} and must be {rel} {bound}, "
            f"but got '{arg_value}' with type '{type(arg_value).__name__}'."
        )
        if isinstance(arg_value, bool):
            raise SpecTypeError(message)
        raise SpecValueError(message)


def _check_positive_int(arg_value: Any, arg_name: str, prim_name: str | None) -> None:
    """MindSpore's ``check_positive_int``: an ``int`` (not ``bool``) > 0."""
    _check_finite_number(arg_value, 0, ">", int, arg_name, prim_name)


def _check_positive_float(arg_value: Any, arg_name: str, prim_name: str | None) -> None:
    """MindSpore's ``check_positive_float``: a finite ``float`` > 0."""
    _check_finite_number(arg_value, 0, ">", float, arg_name, prim_name)


def _check_non_negative_float(arg_value: Any, arg_name: str, prim_name: str | None) -> None:
    """MindSpore's ``check_non_negative_float``: a finite ``float`` >= 0."""
    _check_finite_number(arg_value, 0, ">=", float, arg_name, prim_name)


def _check_is_float(arg_value: Any, arg_name: str, prim_name: str | None) -> None:
    """MindSpore's ``check_is_float``: a finite ``float`` (``bool`` and ``int`` refused)."""
    subject = _subject(arg_name, prim_name)
    if not isinstance(arg_value, float):
        raise SpecTypeError(
            f"{subject} must be of type 'float', but got '{arg_value}' "
            f"with type '{type(arg_value).__name__}'."
        )
    if math.isinf(arg_value) or math.isnan(arg_value):
        raise SpecValueError(f"{subject} must be a legal float, but got '{arg_value}'.")


def _check_value_type(
    arg_name: str, arg_value: Any, valid_types: tuple[type, ...], prim_name: str | None
) -> None:
    """MindSpore's ``check_value_type``: ``isinstance`` test where ``bool`` is not an ``int``."""
    refused_bool = isinstance(arg_value, bool) and bool not in valid_types
    if refused_bool or not isinstance(arg_value, valid_types):
        names = [t.__name__ for t in valid_types]
        expected = f"one of {names}" if len(names) > 1 else f"'{names[0]}'"
        raise SpecTypeError(
            f"{_subject(arg_name, prim_name)} must be of type {expected}, "
            f"but got '{arg_value}' with type '{type(arg_value).__name__}'."
        )


def _check_float_type(arg_value: Any, arg_name: str, prim_name: str) -> None:
    """The bare ``isinstance(x, float)`` test MindSpore writes out for lower bounds of 0."""
    if not isinstance(arg_value, float):
        raise SpecTypeError(
            f"For '{prim_name}', the argument '{arg_name}' must be type of float, "
            f"but got '{arg_value}' with type '{type(arg_value).__name__}'."
        )


def _check_decay_inputs(
    learning_rate: Any,
    decay_rate: Any,
    total_step: Any,
    step_per_epoch: Any,
    decay_epoch: Any,
    is_stair: Any,
    prim_name: str,
) -> None:
    _check_positive_int(total_step, "total_step", prim_name)
    _check_positive_int(step_per_epoch, "step_per_epoch", prim_name)
    _check_positive_int(decay_epoch, "decay_epoch", prim_name)
    _check_rate_inputs(learning_rate, decay_rate, is_stair, prim_name)


def _check_rate_inputs(learning_rate: Any, decay_rate: Any, is_stair: Any, prim_name: str) -> None:
    """The float and flag checks MindSpore's decay functions and schedules share, in its order."""
    _check_positive_float(learning_rate, "learning_rate", prim_name)
    _check_is_float(learning_rate, "learning_rate", prim_name)
    _check_positive_float(decay_rate, "decay_rate", prim_name)
    _check_is_float(decay_rate, "decay_rate", prim_name)
    _check_value_type("is_stair", is_stair, (bool,), prim_name)


def piecewise_constant_lr(
    milestone: Sequence[int], learning_rates: Sequence[float]
) -> list[float]:
    """Piecewise constant learning rate: ``learning_rates[t]`` for steps ``[M_{t-1}, M_t)``.

    Args:
        milestone: non-decreasing positive step counts; the list has ``milestone[-1]``
            entries.
        learning_rates: one float per milestone.

    Returns:
        The per-step learning rates (the elements of ``learning_rates`` themselves).

    Raises:
        TypeError: ``milestone`` or ``learning_rates`` is neither a list nor a tuple, a
            milestone is not an int, or a learning rate is not a float.
        ValueError: the two have different lengths, a milestone is not > 0, a learning
            rate is not finite, or a milestone is smaller than the one before it.
    """
    prim_name = "piecewise_constant_lr"
    _check_value_type("milestone", milestone, (tuple, list), prim_name)
    _check_value_type("learning_rates", learning_rates, (tuple, list), prim_name)
    if len(milestone) != len(learning_rates):
        raise SpecValueError(
            f"For '{prim_name}', the size of 'milestone' must be same with the size of "
            f"'learning_rates', but got 'milestone' size: {len(milestone)}, "
            f"'learning_rates' size: {len(learning_rates)}."
        )
    lr: list[float] = []
    last_item = 0
    for i, item in enumerate(milestone):
        _check_positive_int(item, f"milestone[{i}]", prim_name)
        _check_is_float(learning_rates[i], f"learning_rates[{i}]", prim_name)
        if item < last_item:
            raise SpecValueError(
                f"For '{prim_name}', the value of milestone[{i}] must be greater than or "
                f"equal to milestone[{i - 1}], but got milestone[{i}]: {milestone[i]}, "
                f"milestone[{i - 1}]: {milestone[i - 1]}."
            )
        lr += [learning_rates[i]] * (item - last_item)
        last_item = item
    return lr


def exponential_decay_lr(
    learning_rate: float,
    decay_rate: float,
    total_step: int,
    step_per_epoch: int,
    decay_epoch: int,
    is_stair: bool = False,
) -> list[float]:
    """Exponential decay per step: ``learning_rate * decay_rate ** (epoch / decay_epoch)``.

    Args:
        learning_rate: initial learning rate, a float > 0.
        decay_rate: decay rate, a float > 0.
        total_step: number of steps (list length), an int > 0.
        step_per_epoch: steps per epoch, an int > 0.
        decay_epoch: epochs to decay over, an int > 0.
        is_stair: floor the exponent, decaying once every ``decay_epoch`` epochs.

    Returns:
        ``total_step`` learning rates.

    Raises:
        TypeError: an argument has the wrong type (floats must be ``float``, ints ``int``,
            ``is_stair`` ``bool``).
        ValueError: an argument is not > 0 or not finite.
    """
    _check_decay_inputs(
        learning_rate, decay_rate, total_step, step_per_epoch, decay_epoch, is_stair,
        "exponential_decay_lr",
    )
    lr = []
    for i in range(total_step):
        if is_stair:
            lr.append(learning_rate * decay_rate ** math.floor(math.floor(i / step_per_epoch) / decay_epoch))
        else:
            lr.append(learning_rate * decay_rate ** (math.floor(i / step_per_epoch) / decay_epoch))
    return lr


def natural_exp_decay_lr(
    learning_rate: float,
    decay_rate: float,
    total_step: int,
    step_per_epoch: int,
    decay_epoch: int,
    is_stair: bool = False,
) -> list[float]:
    """Natural exponential decay per step: ``learning_rate * e ** (-decay_rate * epoch)``.

    With ``is_stair`` the epoch is rounded down to a multiple of ``decay_epoch``; without
    it ``decay_epoch`` is validated but unused (as in MindSpore).

    Args:
        learning_rate: initial learning rate, a float > 0.
        decay_rate: decay rate, a float > 0.
        total_step: number of steps (list length), an int > 0.
        step_per_epoch: steps per epoch, an int > 0.
        decay_epoch: epochs per stair, an int > 0.
        is_stair: decay once every ``decay_epoch`` epochs.

    Returns:
        ``total_step`` learning rates.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is not > 0 or not finite.
    """
    _check_decay_inputs(
        learning_rate, decay_rate, total_step, step_per_epoch, decay_epoch, is_stair,
        "natural_exp_decay_lr",
    )
    lr = []
    for i in range(total_step):
        epoch = math.floor(i / step_per_epoch)
        if is_stair:
            epoch = math.floor(epoch / decay_epoch) * decay_epoch
        lr.append(learning_rate * math.e ** (-decay_rate * epoch))
    return lr


def inverse_decay_lr(
    learning_rate: float,
    decay_rate: float,
    total_step: int,
    step_per_epoch: int,
    decay_epoch: int,
    is_stair: bool = False,
) -> list[float]:
    """Inverse-time decay per step: ``learning_rate / (1 + decay_rate * epoch / decay_epoch)``.

    Args:
        learning_rate: initial learning rate, a float > 0.
        decay_rate: decay rate, a float > 0.
        total_step: number of steps (list length), an int > 0.
        step_per_epoch: steps per epoch, an int > 0.
        decay_epoch: epochs to decay over, an int > 0.
        is_stair: use ``floor(epoch / decay_epoch)``, decaying once every ``decay_epoch``
            epochs.

    Returns:
        ``total_step`` learning rates.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is not > 0 or not finite.
    """
    _check_decay_inputs(
        learning_rate, decay_rate, total_step, step_per_epoch, decay_epoch, is_stair,
        "inverse_decay_lr",
    )
    lr = []
    for i in range(total_step):
        if is_stair:
            lr.append(learning_rate / (1 + decay_rate * math.floor(math.floor(i / step_per_epoch) / decay_epoch)))
        else:
            lr.append(learning_rate / (1 + decay_rate * math.floor(i / step_per_epoch) / decay_epoch))
    return lr


def cosine_decay_lr(
    min_lr: float, max_lr: float, total_step: int, step_per_epoch: int, decay_epoch: int
) -> list[float]:
    """Cosine decay per step: ``min_lr + 0.5 * (max_lr - min_lr) * (1 + cos(pi * t / decay_epoch))``.

    ``t`` is the epoch clamped to ``decay_epoch``, so the list stays at ``min_lr`` after it.

    Args:
        min_lr: minimum learning rate, a float >= 0.
        max_lr: maximum learning rate, a float > ``min_lr``.
        total_step: number of steps (list length), an int > 0.
        step_per_epoch: steps per epoch, an int > 0.
        decay_epoch: epochs to decay over, an int > 0.

    Returns:
        ``total_step`` learning rates.

    Raises:
        TypeError: ``min_lr`` or ``max_lr`` is not a float, or an int argument is not an int.
        ValueError: ``min_lr`` < 0, ``max_lr`` <= 0, ``min_lr`` >= ``max_lr``, an int
            argument is not > 0, or a float is not finite.
    """
    prim_name = "cosine_decay_lr"
    _check_float_type(min_lr, "min_lr", prim_name)
    _check_non_negative_float(min_lr, "min_lr", prim_name)
    _check_positive_float(max_lr, "max_lr", prim_name)
    _check_is_float(max_lr, "max_lr", prim_name)
    _check_positive_int(total_step, "total_step", prim_name)
    _check_positive_int(step_per_epoch, "step_per_epoch", prim_name)
    _check_positive_int(decay_epoch, "decay_epoch", prim_name)
    if min_lr >= max_lr:
        raise SpecValueError(
            f"For '{prim_name}', the 'max_lr' must be greater than the 'min_lr', "
            f"but got 'max_lr' value: {max_lr}, 'min_lr' value: {min_lr}."
        )
    delta = 0.5 * (max_lr - min_lr)
    lr = []
    for i in range(total_step):
        tmp_epoch = min(math.floor(i / step_per_epoch), decay_epoch)
        lr.append(min_lr + delta * (1 + math.cos(math.pi * tmp_epoch / decay_epoch)))
    return lr


def polynomial_decay_lr(
    learning_rate: float,
    end_learning_rate: float,
    total_step: int,
    step_per_epoch: int,
    decay_epoch: int,
    power: float,
    update_decay_epoch: bool = False,
) -> list[float]:
    """Polynomial decay per step: ``(lr - end) * (1 - t / T) ** power + end``.

    ``t = min(epoch, decay_epoch)`` and ``T = decay_epoch``; with ``update_decay_epoch``,
    ``t = epoch`` and ``T = decay_epoch * max(ceil(epoch / decay_epoch), 1)`` (the decay
    restarts every ``decay_epoch`` epochs from a smaller height).

    Args:
        learning_rate: initial learning rate, a float > 0.
        end_learning_rate: final learning rate, a float >= 0.
        total_step: number of steps (list length), an int > 0.
        step_per_epoch: steps per epoch, an int > 0.
        decay_epoch: epochs to decay over, an int > 0.
        power: exponent, a float > 0.
        update_decay_epoch: stretch the decay period every ``decay_epoch`` epochs.

    Returns:
        ``total_step`` learning rates.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: ``learning_rate`` or ``power`` <= 0, ``end_learning_rate`` < 0, an int
            argument is not > 0, or a float is not finite.
    """
    prim_name = "polynomial_decay_lr"
    _check_positive_float(learning_rate, "learning_rate", prim_name)
    _check_is_float(learning_rate, "learning_rate", prim_name)
    _check_float_type(end_learning_rate, "end_learning_rate", prim_name)
    _check_non_negative_float(end_learning_rate, "end_learning_rate", prim_name)
    _check_positive_float(power, "power", prim_name)
    _check_is_float(power, "power", prim_name)
    _check_positive_int(total_step, "total_step", prim_name)
    _check_positive_int(step_per_epoch, "step_per_epoch", prim_name)
    _check_positive_int(decay_epoch, "decay_epoch", prim_name)
    _check_value_type("update_decay_epoch", update_decay_epoch, (bool,), prim_name)

    lr = []
    delta = learning_rate - end_learning_rate
    for i in range(total_step):
        current_epoch = math.floor(i / step_per_epoch)
        if update_decay_epoch:
            period = decay_epoch * max(math.ceil(current_epoch / decay_epoch), 1)
            tmp_epoch = current_epoch
        else:
            period = decay_epoch
            tmp_epoch = min(decay_epoch, current_epoch)
        lr.append(delta * (1 - tmp_epoch / period) ** power + end_learning_rate)
    return lr


def warmup_lr(
    learning_rate: float, total_step: int, step_per_epoch: int, warmup_epoch: int
) -> list[float]:
    """Linear warm-up per step: ``learning_rate * min(epoch, warmup_epoch) / warmup_epoch``.

    Args:
        learning_rate: learning rate reached after warm-up, a float >= 0.
        total_step: number of steps (list length), an int > 0.
        step_per_epoch: steps per epoch, an int > 0.
        warmup_epoch: warm-up epochs, an int > 0.

    Returns:
        ``total_step`` learning rates.

    Raises:
        TypeError: ``learning_rate`` is not a float, or an int argument is not an int.
        ValueError: ``learning_rate`` < 0 or not finite, or an int argument is not > 0.
    """
    prim_name = "warmup_lr"
    _check_float_type(learning_rate, "learning_rate", prim_name)
    _check_non_negative_float(learning_rate, "learning_rate", prim_name)
    _check_positive_int(warmup_epoch, "warmup_epoch", prim_name)
    _check_positive_int(total_step, "total_step", prim_name)
    _check_positive_int(step_per_epoch, "step_per_epoch", prim_name)

    lr = []
    for i in range(total_step):
        current_epoch = math.floor(i / step_per_epoch)
        tmp_epoch = min(warmup_epoch, current_epoch)
        lr.append(learning_rate * tmp_epoch / warmup_epoch)
    return lr
