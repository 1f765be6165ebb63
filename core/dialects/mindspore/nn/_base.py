"""What every MindSpore-dialect optimizer shares: ``mindspore.nn.Optimizer``'s rules.

Mirrors MindSpore 2.10 ``mindspore/nn/optim/optimizer.py``: validation order, exception
types and messages (each message additionally names the group index and selector where
a group is at fault), the group dictionary (``params``, ``lr``, ``weight_decay``,
``grad_centralization``, ``order_params``), the default weight-decay filter (ungrouped:
names containing ``beta`` or ``gamma`` are not decayed; grouped: each group's own
``weight_decay`` applies), and how learning rates are held:

* a number is a float32 parameter (the engine rounds it to float32);
* a list / 1-D array is a float32 per-step table read at ``global_step``; a step past its
  end raises :class:`~optbridge.errors.ScheduleExhaustedError`, a ``RuntimeError`` as in
  MindSpore;
* a ``str`` or ``bytes`` is refused with a ``ValueError`` (MindSpore iterates it as a table
  of characters and raises ``ValueError`` unless every character is a digit);
* a ``LearningRateSchedule`` is evaluated at ``global_step`` (in float32);
* when any group has an ``lr`` and any learning rate is dynamic, MindSpore wraps the
  static ones in ``_ConvertToCell``, which returns ``lr + 1.0 − 1.0`` in float32 — a
  rounding this dialect reproduces (``OptimizerSpec.static_lr_offset``).

``params`` takes selectors instead of ``Parameter`` objects: ``None`` (every parameter,
ungrouped), a selector (a name, glob, list of names/globs, or selector dict: ungrouped),
or a list of group dicts whose ``params`` are selectors. ``unassigned`` is an optbridge
extension (keyword-only): ``"frozen"`` leaves parameters that no group selects untouched.
A selector list that names the same entry twice is refused as MindSpore refuses a
repeated ``Parameter``: ungrouped with a ``ValueError`` (:class:`~optbridge.errors.GroupError`),
inside one group with a ``RuntimeError`` (:class:`~optbridge.errors.DuplicateParameterError`),
in ``order_params`` with a ``ValueError``. A parameter in two groups is a
``DuplicateParameterError`` when the groups are resolved at build.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from ....errors import (
    DuplicateParameterError,
    GroupError,
    SelectorTypeError,
    SpecKeyError,
    SpecTypeError,
    SpecValueError,
)
from ....groups import describe_selector, validate_selector
from ....schedules.base import Schedule
from ....schedules.values import Constant, PerStep, Scheduled, Value
from ....spec import PREPROCESS_STEPS, GroupSpec, OptimizerSpec
from ...base import DialectOptimizer, check_fits_float

__all__ = ["MindSporeOptimizer", "check_float_type", "check_bool_type", "check_positive_float",
           "check_non_negative_float"]

PARSE_KEYS = ["params", "lr", "weight_decay", "order_params", "grad_centralization"]


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_float_type(name: str, value: Any, cls_name: str) -> None:
    """MindSpore ``validator.check_value_type(name, value, [float], cls)``."""
    if not isinstance(value, float):
        raise SpecTypeError(
            f"For '{cls_name}', the type of '{name}' should be 'float', but got type '{_type_name(value)}'."
        )


def check_bool_type(name: str, value: Any, cls_name: str) -> None:
    """MindSpore ``validator.check_value_type(name, value, [bool], cls)``."""
    if not isinstance(value, bool):
        raise SpecTypeError(
            f"For '{cls_name}', the type of '{name}' should be 'bool', but got type '{_type_name(value)}'."
        )


def _check_legal(name: str, value: float, cls_name: str, where: str = "") -> None:
    """MindSpore ``validator.check_number``: NaN and infinities are refused first."""
    if math.isnan(value) or math.isinf(value):
        raise SpecValueError(f"For '{cls_name}', {where}the '{name}' must be a legal value, but got '{value}'.")


def check_non_negative_float(name: str, value: float, cls_name: str, where: str = "") -> None:
    """MindSpore ``validator.check_non_negative_float``."""
    _check_legal(name, value, cls_name, where)
    if not value >= 0:
        raise SpecValueError(
            f"For '{cls_name}', {where}the '{name}' must be float and must >= 0, but got '{value}' "
            f"with type '{_type_name(value)}'."
        )


def check_positive_float(name: str, value: float, cls_name: str) -> None:
    """MindSpore ``validator.check_positive_float``."""
    _check_legal(name, value, cls_name)
    if not value > 0:
        raise SpecValueError(
            f"For '{cls_name}', the '{name}' must be float and must > 0, but got '{value}' "
            f"with type '{_type_name(value)}'."
        )


def check_open_unit_interval(name: str, value: float, cls_name: str) -> None:
    """MindSpore ``validator.check_float_range(value, 0.0, 1.0, INC_NEITHER, ...)``."""
    if not 0.0 < value < 1.0:
        raise SpecValueError(
            f"For '{cls_name}', the '{name}' must be in range of (0.0, 1.0), but got {value} "
            f"with type '{_type_name(value)}'."
        )


def _where(index: int | None, selector: Any = None) -> str:
    if index is None:
        return ""
    return f"groups[{index}] ({describe_selector(selector)}): "


def _first_repeat(entries: list[Any]) -> tuple[str, int, int] | None:
    """The first entry of a selector list that repeats an earlier one: ``(entry, first, second)``.

    Only literal repeats count (the same name or glob written twice); two different
    globs that match one parameter are a union, resolved at build.
    """
    seen: dict[str, int] = {}
    for position, entry in enumerate(entries):
        if entry in seen:
            return entry, seen[entry], position
        seen[entry] = position
    return None


def _text_learning_rate_error(learning_rate: str | bytes, where: str) -> SpecValueError:
    """MindSpore iterates a ``str`` (``bytes``) learning rate as a per-step table of its characters
    (byte values): ``np.array(list(lr)).astype(np.float32)``. It raises ``ValueError`` for a
    character that is not a digit and silently accepts ``"12"`` as the table ``[1.0, 2.0]``; this
    dialect refuses every ``str`` and ``bytes`` learning rate with a ``ValueError``.
    """
    head = (f"For 'Optimizer', {where}the argument 'learning_rate' must be int, float, Tensor, Iterable of numbers "
            f"or LearningRateSchedule, but got the {type(learning_rate).__name__} {learning_rate!r}")
    if isinstance(learning_rate, bytes):
        return SpecValueError(f"{head}: MindSpore would take it as the per-step table "
                              f"{[float(b) for b in learning_rate]} (one entry per byte value).")
    for character in learning_rate:
        try:
            float(character)
        except ValueError as exc:
            return SpecValueError(f"{head}: MindSpore reads a str as a per-step table of its characters: {exc}")
    return SpecValueError(f"{head}: MindSpore would take it as the per-step table "
                          f"{[float(c) for c in learning_rate]} (one entry per character).")


class _LR:
    """A preprocessed learning rate: static float, per-step float32 table, or schedule."""

    def __init__(self, value: Value, table_length: int = 0):
        self.value = value
        self.table_length = table_length

    @property
    def dynamic(self) -> bool:
        return not isinstance(self.value, Constant)


class MindSporeOptimizer(DialectOptimizer):
    """Base of MindSpore-dialect optimizers (``mindspore.nn.Optimizer``).

    Subclasses call :meth:`_init_base` first (MindSpore's ``super().__init__``), then
    validate their own hyperparameters, then call :meth:`_record`.
    """

    group_keys: ClassVar[tuple[str, ...]] = tuple(PARSE_KEYS)
    #: gradient pre-processing this optimizer's ``construct`` runs
    preprocess: ClassVar[tuple[str, ...]] = PREPROCESS_STEPS
    cls_name: ClassVar[str] = "Optimizer"

    # -- MindSpore Optimizer.__init__ ---------------------------------------------------
    def _init_base(self, params: Any, learning_rate: Any, weight_decay: Any, loss_scale: Any,
                   unassigned: str) -> None:
        self._groups_input = self._check_params(params)
        if isinstance(loss_scale, int) and not isinstance(loss_scale, bool):
            check_fits_float("loss_scale", loss_scale, f"For '{self.cls_name}', ")
            loss_scale = float(loss_scale)
        check_float_type("loss_scale", loss_scale, self.cls_name)
        check_positive_float("loss_scale", loss_scale, self.cls_name)
        self._loss_scale = loss_scale
        self._dynamic_weight_decay = False
        default_lr = self._preprocess_single_lr(learning_rate)
        self._is_group = isinstance(self._groups_input, list)
        self._is_group_lr = False
        self._dynamic_lr = default_lr.dynamic
        self._group_specs: list[GroupSpec] = []
        self._order_params: Any = None
        if self._is_group:
            self._init_group_params(self._groups_input, default_lr, weight_decay)
        self._default_lr = default_lr
        self._default_wd = self._preprocess_weight_decay(weight_decay)
        if unassigned not in ("error", "frozen"):
            raise SpecValueError(
                f"For '{self.cls_name}', 'unassigned' must be 'error' or 'frozen', but got {unassigned!r}."
            )
        self._unassigned = unassigned

    def _check_params(self, params: Any) -> Any:
        """``None`` | a selector (ungrouped) | a list of group dicts (grouped)."""
        if params is None:
            return None
        if isinstance(params, (str, Mapping)):
            validate_selector(params, "params")
            return params
        if not isinstance(params, Iterable):
            raise SpecTypeError(
                f"For 'Optimizer', the argument parameters must be Iterable type, but got {type(params)}."
            )
        items = list(params)
        if not items:
            raise SpecValueError("For 'Optimizer', the argument parameters must not be empty.")
        if all(isinstance(x, str) for x in items):
            validate_selector(items, "params")
            repeat = _first_repeat(items)
            if repeat is not None:
                name, first, second = repeat
                raise GroupError(
                    f"For 'Optimizer', the argument parameters list {name!r} twice (entries {first} and {second}); "
                    f"MindSpore refuses a repeated parameter (ValueError: the names of its optimizer state would "
                    f"clash): list each parameter once."
                )
            return tuple(items)
        if all(isinstance(x, Mapping) for x in items):
            return [dict(x) for x in items]
        raise SpecTypeError(
            "For 'Optimizer', all elements of the argument 'parameters' must be parameter names (str) "
            "or group dicts, please check the 'parameters'."
        )

    def _preprocess_single_lr(self, learning_rate: Any, where: str = "") -> _LR:
        """MindSpore ``_preprocess_single_lr``."""
        if isinstance(learning_rate, (float, int, np.floating, np.integer)) and not isinstance(learning_rate, np.bool_):
            check_fits_float("learning_rate", learning_rate, f"For 'Optimizer', {where}")
            lr = float(learning_rate)
            check_non_negative_float("learning rate", lr, self.cls_name, where)
            return _LR(Constant(lr))
        if isinstance(learning_rate, Schedule):
            return _LR(Scheduled(learning_rate))
        if isinstance(learning_rate, np.ndarray) and learning_rate.ndim == 0:
            return _LR(Constant(float(np.float32(learning_rate))))
        if isinstance(learning_rate, np.ndarray) and learning_rate.ndim > 1:
            raise SpecValueError(
                f"For 'Optimizer', {where}if 'learning_rate' is Tensor type, then the dimension of it should "
                f"be 0 or 1, but got {learning_rate.ndim}."
            )
        if isinstance(learning_rate, (str, bytes)):
            raise _text_learning_rate_error(learning_rate, where)
        if not isinstance(learning_rate, Iterable):
            raise SpecTypeError(
                f"For 'Optimizer', {where}the argument 'learning_rate' must be int, float, Tensor, Iterable or "
                f"LearningRateSchedule, but got {type(learning_rate)}."
            )
        items = list(learning_rate)
        check_fits_float("learning_rate", items, f"For 'Optimizer', {where}")
        try:
            table = np.array(items).astype(np.float32)
        except (TypeError, ValueError, OverflowError) as exc:
            raise SpecValueError(
                f"For 'Optimizer', {where}a dynamic 'learning_rate' must hold numbers: {exc}"
            ) from None
        if table.ndim != 1:
            raise SpecValueError(
                f"For 'Optimizer', {where}the dimension of the argument 'learning_rate' should be 1, "
                f"but got {table.ndim}."
            )
        return _LR(PerStep(tuple(float(x) for x in table)), table_length=table.size)

    def _preprocess_weight_decay(self, weight_decay: Any, where: str = "") -> Value:
        """MindSpore ``_preprocess_weight_decay`` (the loss-scale product is the engine's)."""
        if isinstance(weight_decay, (float, int, np.floating, np.integer)) and not isinstance(weight_decay, np.bool_):
            check_fits_float("weight_decay", weight_decay, f"For 'Optimizer', {where}")
            wd = float(weight_decay)
            check_non_negative_float("weight_decay", wd, self.cls_name, where)
            return Constant(wd)
        if isinstance(weight_decay, Schedule):
            self._dynamic_weight_decay = True
            return Scheduled(weight_decay)
        raise SpecTypeError(
            f"For 'Optimizer', {where}the argument 'Weight_decay' must be int, float or Cell.but got "
            f"{type(weight_decay)}"
        )

    def _check_group_params(self, groups: list[dict]) -> None:
        """MindSpore ``_check_group_params``."""
        for index, group in enumerate(groups):
            invalid = [k for k in group if k not in PARSE_KEYS]
            if invalid:
                raise SpecKeyError(
                    f"For 'Optimizer', groups[{index}]: the key in group params must be one of in "
                    f"{PARSE_KEYS}, but got {invalid}."
                )
            if "order_params" in group:
                if len(group) > 1:
                    raise SpecValueError(
                        f"For 'Optimizer', groups[{index}]: the order params dict in group parameters should "
                        f"only include the 'order_params' key, but got {group.keys()}."
                    )
                order = group["order_params"]
                if not isinstance(order, (str, Mapping)) and not isinstance(order, Iterable):
                    raise SpecTypeError(
                        f"For 'Optimizer', groups[{index}]: the value of 'order_params' in group parameters "
                        f"should be Iterable type, but got {type(order)}."
                    )
                validate_selector(order if isinstance(order, (str, Mapping)) else list(order),
                                  f"groups[{index}] 'order_params'")
                repeat = None if isinstance(order, (str, Mapping)) else _first_repeat(list(order))
                if repeat is not None:
                    name, first, second = repeat
                    raise GroupError(
                        f"For 'Optimizer', groups[{index}] 'order_params': lists {name!r} twice (entries {first} "
                        f"and {second}); MindSpore refuses it (ValueError: the length of order parameters must be "
                        f"the same as the length of group parameters): list each parameter once."
                    )
                continue
            if "params" not in group:
                raise SpecKeyError(f"For 'Optimizer', groups[{index}]: the group dict has no 'params' key.")
            selector = group["params"]
            where = f"groups[{index}] ({describe_selector(selector)})"
            if selector is None:
                raise SpecValueError(f"For 'Optimizer', {where}: the argument group `params` can not be None.")
            if isinstance(selector, (list, tuple)) and not selector:
                raise SpecValueError(f"For 'Optimizer', {where}: the argument group `params` must not be empty.")
            try:
                validate_selector(list(selector) if isinstance(selector, tuple) else selector, where)
            except SelectorTypeError as exc:
                raise SelectorTypeError(f"For 'Optimizer', {exc}") from None
            repeat = _first_repeat(list(selector)) if isinstance(selector, (list, tuple)) else None
            if repeat is not None:
                raise DuplicateParameterError(
                    f"For 'Optimizer', {where}: the {repeat[0]} parameter already exists, it does not support "
                    f"repeated setting. Please check whether the optimizer parameter has been set multiple times."
                )

    def _init_group_params(self, groups: list[dict], default_lr: _LR, weight_decay: Any) -> None:
        """MindSpore ``_parse_group_params`` + ``_init_group_params``."""
        self._check_group_params(groups)
        table_length = default_lr.table_length
        parsed_lr: dict[int, _LR] = {}
        for index, group in enumerate(groups):
            if "order_params" in group:
                continue
            if "lr" in group:
                self._is_group_lr = True
                lr = self._preprocess_single_lr(group["lr"], _where(index, group["params"]))
                parsed_lr[index] = lr
                if lr.dynamic:
                    self._dynamic_lr = True
                if lr.table_length:
                    if table_length == 0:
                        table_length = lr.table_length
                    elif lr.table_length != table_length:
                        raise SpecValueError(
                            f"For 'Optimizer', {_where(index, group['params'])}the Tensor type dynamic learning "
                            f"rate in group must be the same size as the argument 'learning_rate'."
                        )
        for index, group in enumerate(groups):
            if "order_params" in group:
                order = group["order_params"]
                self._order_params = order if isinstance(order, (str, Mapping)) else list(order)
                continue
            where = _where(index, group["params"])
            wd = (self._preprocess_weight_decay(group["weight_decay"], where)
                  if "weight_decay" in group else self._preprocess_weight_decay(weight_decay, where))
            gc = False
            if "grad_centralization" in group:
                gc = group["grad_centralization"]
                if not isinstance(gc, bool):
                    raise SpecTypeError(
                        f"For 'Optimizer', {where}the 'gradients_centralization' must be bool type, "
                        f"but got {type(gc)}."
                    )
            selector = group["params"]
            self._group_specs.append(
                GroupSpec(
                    params=list(selector) if isinstance(selector, tuple) else selector,
                    lr=parsed_lr[index].value if index in parsed_lr else None,
                    weight_decay=wd,
                    grad_centralization=gc,
                    source_index=index,
                )
            )

    # -- lowering -----------------------------------------------------------------------
    def _lower(self, algorithm, **overrides: Any) -> OptimizerSpec:
        """Build the canonical spec shared by all MindSpore optimizers."""
        if self._is_group:
            groups: tuple[GroupSpec, ...] | None = tuple(self._group_specs)
            decay_filter = None
        elif self._groups_input is None:
            groups, decay_filter = None, "mindspore"
        else:
            groups, decay_filter = (GroupSpec(params=self._groups_input_selector()),), "mindspore"
        fields = dict(
            algorithm=algorithm,
            lr=self._default_lr.value,
            weight_decay=self._default_wd,
            groups=groups,
            order_params=self._order_params,
            loss_scale=self._loss_scale,
            decay_filter=decay_filter,
            unassigned=self._unassigned,
            precision="float32",
            preprocess=self.preprocess,
            static_lr_offset=self._is_group_lr and self._dynamic_lr,
            origin=self.qualname,
        )
        fields.update(overrides)
        return OptimizerSpec(**fields)

    def _groups_input_selector(self) -> Any:
        sel = self._groups_input
        return list(sel) if isinstance(sel, tuple) else sel
