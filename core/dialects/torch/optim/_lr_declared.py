"""The ``optim.lr_scheduler`` schedulers declared inside a spec: ``StepLR.declare(...)``.

A declaration (:class:`TorchSchedule`, one registered subclass per scheduler, config kind
``"torch.optim.lr_scheduler.<Name>"``) is immutable, serialisable data; it runs the same
scheduler code on a private one-group ``param_groups`` (:class:`_DeclaredRuntime`).
"""
from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from ....errors import ConfigError, OptbridgeError, SpecTypeError, SpecValueError
from ....schedules.base import Schedule, register_schedule, schedule_from_config
from ....schedules.expression import Expression
from ....schedules.stateful import INTERVALS, ScheduleContext, ScheduleRuntime, StatefulSchedule
from ._lr_base import LRScheduler, _as_callable
from ._lr_binding import _PrivateOptimizer
from ._lr_composite import ChainedScheduler, SequentialLR
from ._lr_cyclic import CyclicLR, OneCycleLR
from ._lr_decay import (
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from ._lr_plateau import ReduceLROnPlateau

_NESTED = ("SequentialLR", "ChainedScheduler")
_SETS_LR = ("CyclicLR", "OneCycleLR")
_CALLABLE_ARGUMENTS = {"lr_lambda": ("epoch", "step"), "scale_fn": ("x",)}


def _is_plain_callable(value: Any) -> bool:
    return callable(value) and not isinstance(value, (Expression, Schedule, type))


class _DeclaredRuntime(ScheduleRuntime):
    """A declaration running on a private one-group ``param_groups`` (see the module docstring)."""

    def __init__(self, declaration: TorchSchedule, context: ScheduleContext):
        self.declaration = declaration
        hp = context.hyperparameters
        group: dict[str, Any] = {"lr": declaration.lr}
        defaults: dict[str, Any] = {}
        self._momentum_key: str | None = None
        if declaration.cycles_momentum():
            where = f"{context.where}: '{context.key}'"
            if context.key != "lr":
                raise SpecValueError(
                    f"{where}: a {declaration.name} schedule with cycle_momentum=True can only drive 'lr'; pass "
                    f"cycle_momentum=False to schedule {context.key!r}"
                )
            if "beta1" in hp and "beta2" in hp:
                group["betas"] = defaults["betas"] = (hp["beta1"], hp["beta2"])
                self._momentum_key = "betas"
            elif "momentum" in hp:
                group["momentum"] = defaults["momentum"] = hp["momentum"]
                self._momentum_key = "momentum"
            elif hp:
                raise SpecValueError(
                    f"{where}: optimizer must support momentum or beta1 with `cycle_momentum` option enabled "
                    f"(the group's algorithm has {sorted(hp)})"
                )
            else:  # no algorithm known (declaration-time checks, value() replays): momentum stand-in
                group["momentum"] = defaults["momentum"] = 0.9
                self._momentum_key = "momentum"
        self.optimizer = _PrivateOptimizer(group, defaults)
        self.count = 0
        self.scheduler = declaration.build(self.optimizer)
        self.needs_metric = isinstance(self.scheduler, ReduceLROnPlateau)

    def value(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def hyperparameters(self) -> dict[str, float]:
        group = self.optimizer.param_groups[0]
        if self._momentum_key == "betas":
            return {"beta1": group["betas"][0]}
        if self._momentum_key == "momentum":
            return {"momentum": group["momentum"]}
        return {}

    def advance(self, metric: float | None = None) -> None:
        """One ``scheduler.step()`` of the port. An argument torch takes unchecked and only
        fails on when it computes (``ExponentialLR(gamma=None)``: ``lr * None``) is reported
        as an optbridge error naming the declaration (the caller's transaction rolls back)."""
        try:
            if self.needs_metric:
                self.scheduler.step(metric)
            elif self.declaration.steps_per_epoch is not None:
                k, n = self.count, self.declaration.steps_per_epoch
                self.scheduler.step(k // n + (k % n) / n)
            else:
                self.scheduler.step()
        except OptbridgeError:
            raise
        except TypeError as exc:
            raise SpecTypeError(f"{self.declaration.name}: stepping the schedule failed: {exc}") from exc
        except (ValueError, ArithmeticError) as exc:
            raise SpecValueError(f"{self.declaration.name}: stepping the schedule failed: {exc}") from exc
        self.count += 1

    def state_dict(self) -> dict[str, Any]:
        group = {k: list(v) if isinstance(v, tuple) else v for k, v in self.optimizer.param_groups[0].items()}
        return {"count": self.count, "group": group, "scheduler": copy.deepcopy(self.scheduler.state_dict())}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        group = self.optimizer.param_groups[0]
        group.clear()
        group.update({k: tuple(v) if k == "betas" else v for k, v in state["group"].items()})
        self.scheduler.load_state_dict(copy.deepcopy(dict(state["scheduler"])))
        self.count = int(state["count"])


class TorchSchedule(StatefulSchedule):
    """Base of the declarations (``StepLR.declare(...)``); one registered subclass per scheduler.

    A declaration is immutable data: the initial ``lr``, the ``interval`` and torch's
    arguments (without ``optimizer``/``last_epoch``). Its config is
    ``{"schedule": "torch.optim.lr_scheduler.<Name>", "lr": ..., "interval": ..., **arguments}``
    (``None`` arguments left out). It is validated when declared, by running torch's
    constructor checks on a private group.
    """

    scheduler: ClassVar[type[LRScheduler]] = LRScheduler
    default_interval: ClassVar[str] = "epoch"

    def __init__(self, lr: float | None = None, *, interval: str | None = None, **arguments: Any) -> None:
        name = self.scheduler.__name__
        self.name = name
        # CosineAnnealingWarmRestarts' declaration-only fractional-epoch clock (OneCycleLR has
        # a torch argument of the same name, which stays in ``arguments``).
        steps_per_epoch = arguments.pop("steps_per_epoch", None) if name == "CosineAnnealingWarmRestarts" else None
        allowed = self.argument_names()
        unknown = [k for k in arguments if k not in allowed]
        if unknown:
            raise SpecTypeError(f"{name}.declare got unexpected argument(s) {unknown}; {name} takes {allowed}")
        params = inspect.signature(self.scheduler.__init__).parameters
        missing = [n for n in allowed if n in params and params[n].default is inspect.Parameter.empty
                   and params[n].kind is not inspect.Parameter.VAR_KEYWORD and n not in arguments]
        if missing:  # torch's constructor raises TypeError for a missing required argument
            raise SpecTypeError(f"{name}.declare is missing required argument(s) {missing}; {name} takes {allowed}")
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))):
            raise SpecTypeError(f"{name}.declare: 'lr' must be a number. Received: {lr!r}")
        if lr is not None and name in _SETS_LR:
            raise SpecValueError(f"{name}.declare takes no 'lr': {name} sets the learning rate from its own arguments")
        if interval is not None and interval not in INTERVALS:
            raise SpecValueError(f"{name}.declare: 'interval' must be 'step' or 'epoch'. Received: {interval!r}")
        if steps_per_epoch is not None:
            if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
                raise SpecValueError(
                    f"{name}.declare: 'steps_per_epoch' must be an int >= 1. Received: {steps_per_epoch!r}"
                )
            if interval == "epoch":
                raise SpecValueError(
                    f"{name}.declare: 'steps_per_epoch' steps with fractional epochs after every optimizer step; it "
                    f"needs interval='step'"
                )
        self.lr = None if lr is None else float(lr)
        self.given_interval = interval
        self.steps_per_epoch = steps_per_epoch
        self.interval = interval or ("step" if steps_per_epoch is not None else self.default_interval)
        self.arguments = {k: self._convert(k, v) for k, v in arguments.items()}
        self.start(ScheduleContext(), check_only=True)

    @classmethod
    def argument_names(cls) -> list[str]:
        """torch's arguments of the scheduler, without ``optimizer`` and ``last_epoch``."""
        params = inspect.signature(cls.scheduler.__init__).parameters
        names = [n for n in params if n not in ("self", "optimizer", "last_epoch")]
        return names + (["steps_per_epoch"] if cls.scheduler is CosineAnnealingWarmRestarts else [])

    def _convert(self, key: str, value: Any) -> Any:
        name = self.name
        if key == "schedulers" and name in _NESTED:
            if not isinstance(value, (list, tuple)):
                raise SpecTypeError(f"{name}.declare: 'schedulers' must be a list of declarations. Received: {value!r}")
            out = []
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    try:
                        item = schedule_from_config(item, path=f"schedulers[{i}]")
                    except ConfigError as exc:  # a TypeError, so an outer config path is added to it
                        raise SpecTypeError(f"{name}.declare: {exc}") from None
                if not isinstance(item, TorchSchedule):
                    raise SpecTypeError(
                        f"{name}.declare: schedulers[{i}] must be a torch scheduler declaration (e.g. "
                        f"StepLR.declare(step_size=5)). Received: {item!r}"
                    )
                if item.lr is not None or item.given_interval is not None:
                    raise SpecValueError(
                        f"{name}.declare: schedulers[{i}] ({item.name}) must not set 'lr' or 'interval': the "
                        f"{name} declaration gives them for all its schedulers"
                    )
                if item.name == "ReduceLROnPlateau":
                    raise SpecValueError(
                        f"{name} does not support `ReduceLROnPlateau` scheduler as it requires additional kwargs to "
                        f"be specified when calling `step`, but got one at index {i} in the given schedulers sequence."
                    )
                out.append(item)
            return out
        if key in _CALLABLE_ARGUMENTS:
            variables = _CALLABLE_ARGUMENTS[key]
            if isinstance(value, (list, tuple)):
                return [_as_callable(v, variables) for v in value]
            return _as_callable(value, variables)
        if isinstance(value, tuple):
            return list(value)
        return value

    # -- running --------------------------------------------------------------------------------
    def cycles_momentum(self) -> bool:
        """Whether this declaration (or one it wraps) cycles momentum/beta1."""
        if self.name in _NESTED:
            return any(s.cycles_momentum() for s in self.arguments["schedulers"])
        if self.name in _SETS_LR:
            return bool(self.arguments.get("cycle_momentum", True))
        return False

    def build(self, optimizer: _PrivateOptimizer) -> LRScheduler:
        """Construct the scheduler on ``optimizer`` (nested declarations first, as torch users do)."""
        args = dict(self.arguments)
        if self.name in _NESTED:
            args["schedulers"] = [s.build(optimizer) for s in args["schedulers"]]
            if self.name == "ChainedScheduler":
                return ChainedScheduler(args["schedulers"], optimizer)
        return self.scheduler(optimizer, **args)

    def start(self, context: ScheduleContext, check_only: bool = False) -> ScheduleRuntime:
        """A fresh runtime for one group (see :class:`_DeclaredRuntime`)."""
        if self.lr is None and self.name not in _SETS_LR:
            if not check_only:
                raise SpecValueError(
                    f"{context.where}: '{context.key}': {self.name}.declare needs lr= (the initial value); only the "
                    f"schedulers inside a SequentialLR/ChainedScheduler declaration take it from the outer one"
                )
            stand_in = copy.copy(self)
            stand_in.lr = 1.0
            return _DeclaredRuntime(stand_in, context)
        return _DeclaredRuntime(self, context)

    # -- data -------------------------------------------------------------------------------------
    def _data(self, strict: bool) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.lr is not None:
            data["lr"] = self.lr
        if self.given_interval is not None:
            data["interval"] = self.given_interval
        if self.steps_per_epoch is not None:
            data["steps_per_epoch"] = self.steps_per_epoch
        for key, value in self.arguments.items():
            if value is None:
                continue
            data[key] = self._value_data(key, value, strict)
        return data

    def _value_data(self, key: str, value: Any, strict: bool) -> Any:
        if isinstance(value, list):
            return [self._value_data(key, v, strict) for v in value]
        if isinstance(value, TorchSchedule):
            return value.to_dict() if strict else (value.kind, value._data(False))
        if isinstance(value, Expression):
            return value.source
        if _is_plain_callable(value):
            if strict:
                raise SpecTypeError(
                    f"{self.name}.declare: '{key}' is a Python callable "
                    f"({getattr(value, '__qualname__', type(value).__name__)}), which is not serialisable; "
                    f"give an expression string such as \"0.95 ** epoch\" to write this schedule to a config"
                )
            return ("callable", id(value))
        return value

    def get_config(self) -> dict[str, Any]:
        """The declaration as config data (raises for a Python callable: not serialisable)."""
        return self._data(strict=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TorchSchedule):
            return NotImplemented
        return self.kind == other.kind and self._data(False) == other._data(False)

    def __hash__(self) -> int:
        return hash((self.kind, repr(self._data(False))))

    def __repr__(self) -> str:
        parts = []
        for key, value in self._data(False).items():
            shown = self.arguments.get(key, value) if key in self.arguments else value
            parts.append(f"{key}={shown!r}")
        return f"{self.name}.declare({', '.join(parts)})"


def _declaration(scheduler: type[LRScheduler], interval: str = "epoch") -> None:
    name = scheduler.__name__
    doc = (
        f"``{name}`` declared inside a spec: ``{name}.declare(...)``, config kind "
        f"``\"torch.optim.lr_scheduler.{name}\"``, default interval ``{interval!r}``. Semantics: :class:`{name}`."
    )
    cls = type(f"{name}Declaration", (TorchSchedule,), {
        "kind": f"torch.optim.lr_scheduler.{name}", "scheduler": scheduler, "default_interval": interval,
        "__doc__": doc, "__module__": __name__,
    })
    register_schedule(cls)
    scheduler.Declaration = cls


_scheduler: type[LRScheduler]
for _scheduler in (LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR,
                   SequentialLR, PolynomialLR, CosineAnnealingLR, ChainedScheduler, ReduceLROnPlateau,
                   CosineAnnealingWarmRestarts):
    _declaration(_scheduler)
for _scheduler in (CyclicLR, OneCycleLR):
    _declaration(_scheduler, interval="step")
del _scheduler
