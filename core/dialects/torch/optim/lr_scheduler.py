r"""``torch.optim.lr_scheduler`` (torch 2.13) for optimizers built by optbridge, on any backend.

Two ways to use every scheduler:

**Bound, as in torch.** ``StepLR(opt, step_size=5, gamma=0.1)`` binds to the object
:func:`optbridge.build` returned (NumPy, torch, TensorFlow or a plugin backend);
``sched.step()``, ``sched.get_last_lr()``, ``sched.state_dict()``/``load_state_dict()``,
``last_epoch`` resume, several schedulers on one optimizer, ``SequentialLR`` and
``ChainedScheduler`` behave as torch's. The scheduler reads and writes each group's
learning rate through the engine (``Engine.static_lr``/``set_lr``: the groups' lrs must
be static numbers, as torch's are), keeps torch's ``param_groups`` bookkeeping
(``initial_lr``, ``max_lr``, ``min_lr``, ``max_momentum``, ``base_momentum``) in the
engine's ``scheduler_values`` and cycles ``momentum``/``beta1`` through
``Engine.set_hyperparameters``, so all of it is in the optimizer's neutral state dict.

**Declared, inside a spec.** ``StepLR.declare(lr=0.1, step_size=5)`` is a
:class:`~optbridge.schedules.stateful.StatefulSchedule` (registered as
``"torch.optim.lr_scheduler.StepLR"``) that can be a group's ``lr`` (or ``weight_decay``)
in any dialect and in config files. It runs the same code on a private one-group
``param_groups``; ``interval="epoch"`` (default) advances it on ``opt.end_epoch(metric)``,
``interval="step"`` after every optimizer step (default for ``CyclicLR`` and
``OneCycleLR``, which torch steps per batch). Its state (``last_epoch``, ``T_cur``,
plateau's ``best``/``num_bad_epochs``/``cooldown_counter``, ...) is in the neutral state
dict. ``SequentialLR.declare``/``ChainedScheduler.declare`` take declarations without
``lr`` (they share the outer one). ``CyclicLR``/``OneCycleLR`` declarations with
``cycle_momentum=True`` (torch's default) also set the group's ``momentum`` (algorithms
with a ``momentum`` hyperparameter) or ``beta1`` (algorithms with ``beta1``/``beta2``,
torch's ``betas``) every step; for a ``weight_decay`` schedule momentum cycling is an
error. ``CosineAnnealingWarmRestarts.declare(..., steps_per_epoch=N)`` steps with
torch's documented fractional epochs ``epoch + i / N`` after every optimizer step.

Semantics are torch 2.13's code, ported line by line to Python floats: the first
``step()`` happens in the constructor (``_initial_step``), ``step()`` uses the recursive
("chainable") ``get_lr`` forms and ``step(epoch)`` (deprecated, warns) the closed forms
where torch has them; ``SequentialLR`` calls ``_update_lr(0)`` at its milestones. The
warnings torch emits (``step()`` before ``optimizer.step()``, the ``epoch`` argument,
``get_lr()`` outside ``step()``) are emitted with torch's text.

``LambdaLR``/``MultiplicativeLR`` take a Python callable (usable, but a declaration
holding one is not serialisable: ``to_dict()`` says so) or a string such as
``"0.95 ** epoch"``, an :class:`~optbridge.schedules.expression.Expression` parsed
without ``eval``, which is serialisable. ``CyclicLR``'s ``scale_fn`` likewise takes a
callable or an expression over ``x``.

Deviations, all deliberate: a failing ``step()`` (an ``lr_lambda`` expression that
divides by zero, say) leaves the scheduler as it was: ``last_epoch`` and ``_step_count``
are restored, and ``SequentialLR``/``ChainedScheduler`` restore every wrapped scheduler
and the groups' values (torch leaves them advanced); the optimizer must be an optbridge
optimizer (a torch ``Optimizer`` is not one: use ``torch.optim.lr_scheduler`` for those);
group learning rates must be static.

Source: ``torch/optim/lr_scheduler.py`` of torch 2.13.0.
"""
from __future__ import annotations

import copy
import inspect
import math
import types
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, MutableMapping
from functools import partial
from typing import Any, ClassVar, Iterator, Mapping, Sequence

from ....engine import Engine
from ....errors import ConfigError, SpecKeyError, SpecTypeError, SpecValueError
from ....schedules.base import Schedule, register_schedule, schedule_from_config
from ....schedules.expression import Expression
from ....schedules.stateful import INTERVALS, ScheduleContext, ScheduleRuntime, StatefulSchedule

__all__ = [
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "SequentialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "PolynomialLR",
    "LRScheduler",
    "TorchSchedule",
]

inf = math.inf

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available. "
    "Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)


# -- the optimizer a scheduler acts on -------------------------------------------------------
class _EngineGroup(MutableMapping):
    """torch's ``param_groups[i]`` for group ``i`` of an optbridge engine.

    ``"lr"`` is the group's static learning rate (``Engine.static_lr``/``set_lr``);
    ``"momentum"`` and ``"betas"`` are the algorithm's ``momentum`` or
    ``(beta1, beta2)`` (``Engine.set_hyperparameters``); every other key is scheduler
    bookkeeping kept in the engine's ``scheduler_values`` (neutral state). After writing
    ``"lr"``, ``"momentum"`` or ``"betas"`` it calls ``changed(index, key)`` (the
    optimizer's ``_schedule_changed``: the torch backend shows the value in its own
    ``param_groups``).
    """

    __slots__ = ("_engine", "_index", "_changed")

    def __init__(self, engine: Engine, index: int, changed: Callable[[int, str], None] | None = None):
        self._engine = engine
        self._index = index
        self._changed = changed

    def _hyper(self) -> dict[str, Any]:
        return self._engine.groups[self._index].algorithm.hyperparameters()

    def _hyper_keys(self) -> list[str]:
        hp = self._hyper()
        keys = ["momentum"] if "momentum" in hp else []
        return keys + (["betas"] if "beta1" in hp and "beta2" in hp else [])

    def __getitem__(self, key: str) -> Any:
        if key == "lr":
            return self._engine.static_lr(self._index)
        if key in self._hyper_keys():
            hp = self._hyper()
            return hp["momentum"] if key == "momentum" else (hp["beta1"], hp["beta2"])
        return self._engine.groups[self._index].scheduler_values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "lr":
            # torch assigns whatever the scheduler computes (OneCycleLR's linear anneal ends
            # slightly below 0); only the engine's rule that the lr be static applies.
            self._engine.static_lr(self._index)
            self._engine.groups[self._index].lr_override = float(value)
        elif key in self._hyper_keys():
            if key == "momentum":
                self._engine.set_hyperparameters(self._index, momentum=value)
            else:
                self._engine.set_hyperparameters(self._index, beta1=value[0], beta2=value[1])
        else:
            self._engine.groups[self._index].scheduler_values[key] = value
            return
        if self._changed is not None:
            self._changed(self._index, key)

    def __delitem__(self, key: str) -> None:
        del self._engine.groups[self._index].scheduler_values[key]

    def __iter__(self) -> Iterator[str]:
        yield "lr"
        yield from self._hyper_keys()
        yield from list(self._engine.groups[self._index].scheduler_values)

    def __len__(self) -> int:
        return 1 + len(self._hyper_keys()) + len(self._engine.groups[self._index].scheduler_values)


class _BoundOptimizer:
    """An optbridge optimizer seen as torch's ``Optimizer``: ``param_groups`` and ``defaults``."""

    def __init__(self, owner: Any):
        self.engine: Engine = owner._engine
        changed = getattr(owner, "_schedule_changed", None)
        self.param_groups = [_EngineGroup(self.engine, i, changed) for i in range(len(self.engine.groups))]
        hp = self.engine.spec.algorithm.hyperparameters()
        self.defaults = {k: hp[k] for k in ("momentum",) if k in hp}
        if "beta1" in hp and "beta2" in hp:
            self.defaults["betas"] = (hp["beta1"], hp["beta2"])

    def stepped(self) -> bool:
        """Whether the optimizer has taken a step (torch's ``_opt_called``)."""
        return self.engine.global_step > 0


class _PrivateOptimizer:
    """The one-group ``param_groups`` a declared schedule runs on (no warnings)."""

    def __init__(self, group: dict, defaults: dict):
        self.param_groups = [group]
        self.defaults = defaults

    @staticmethod
    def stepped() -> bool:
        return True


def _adapt(optimizer: Any) -> Any:
    if isinstance(optimizer, _PrivateOptimizer):
        return optimizer
    if isinstance(getattr(optimizer, "_engine", None), Engine):
        return _BoundOptimizer(optimizer)
    raise SpecTypeError(
        f"{type(optimizer).__name__} is not an Optimizer (optbridge's lr_scheduler binds to optimizers built by "
        f"optbridge.build; for torch's own optimizers use torch.optim.lr_scheduler)"
    )


def _format_param(name: str, optimizer: Any, param: Any) -> list:
    """Return correctly formatted lr/momentum for each param group."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise SpecValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(param)} values, param_groups has {len(optimizer.param_groups)}."
            )
    else:
        param = [param] * len(optimizer.param_groups)
    return list(param)


def _param_groups_val_list(optimizer: Any, key: str) -> list:
    return [group[key] for group in optimizer.param_groups]


def _as_callable(fn: Any, variables: tuple[str, ...] = ("epoch", "step")) -> Any:
    """A string becomes an :class:`Expression`; anything else is returned unchanged."""
    return Expression(fn, variables) if isinstance(fn, str) else fn


def _fn_state(fn: Any) -> Any:
    """torch saves a callable object's ``__dict__``, never a function or lambda."""
    if fn is None or isinstance(fn, (types.FunctionType, Expression)):
        return None
    state = getattr(fn, "__dict__", None)
    return None if state is None else state.copy()


class _enable_get_lr_call:
    def __init__(self, o: "LRScheduler"):
        self.o = o

    def __enter__(self) -> "_enable_get_lr_call":
        self.o._get_lr_called_within_step = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.o._get_lr_called_within_step = False


class _initial_mode:
    def __init__(self, o: "LRScheduler"):
        self.o = o

    def __enter__(self) -> None:
        self.o._is_initial = True

    def __exit__(self, *exc: Any) -> None:
        self.o._is_initial = False


class _unchanged_on_failure:
    """Restore a composite scheduler's state (and its wrapped ones') and the groups' values
    if the step inside raises: a chained scheduler must not stay half-stepped."""

    def __init__(self, o: "LRScheduler"):
        self.o = o

    def __enter__(self) -> None:
        self.state = copy.deepcopy(self.o.state_dict())
        self.groups = [dict(group) for group in self.o._opt.param_groups]

    def __exit__(self, kind: Any, *exc: Any) -> None:
        if kind is None:
            return
        self.o.load_state_dict(self.state)
        for group, values in zip(self.o._opt.param_groups, self.groups):
            for key, value in values.items():
                if group.get(key) != value:
                    group[key] = value


def _warn_get_lr_called_within_step(lr_scheduler: "LRScheduler") -> None:
    if not lr_scheduler._get_lr_called_within_step:
        warnings.warn(
            "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
            UserWarning,
            stacklevel=3,
        )


# -- torch's schedulers -----------------------------------------------------------------------
class LRScheduler:
    """Base class of the learning-rate schedulers (torch ``LRScheduler``).

    Args:
        optimizer: an optimizer built by :func:`optbridge.build` (any backend).
        last_epoch: index of the last epoch; ``-1`` starts afresh, a value ``>= 0``
            resumes and needs ``initial_lr`` in every group (torch's rule).

    Declared form: :meth:`declare`.
    """

    _get_lr_called_within_step: bool = False
    _is_initial: bool = False
    #: the registered declaration class (set below for every scheduler)
    Declaration: ClassVar[type["TorchSchedule"]]
    _excluded_state: ClassVar[tuple[str, ...]] = ("optimizer", "_opt")

    def _bind(self, optimizer: Any) -> None:
        self._opt = _adapt(optimizer)
        self.optimizer = optimizer

    def __init__(self, optimizer: Any, last_epoch: int = -1) -> None:
        self._bind(optimizer)
        if last_epoch == -1:
            for group in self._opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(self._opt.param_groups):
                if "initial_lr" not in group:
                    raise SpecKeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming scheduler with "
                        "last_epoch >= 0.\nThis typically happens when:\n1. You're trying to resume training from a "
                        "checkpoint but haven't properly loaded the optimizer state\n2. You're using last_epoch >= 0 "
                        "for a fresh training run (not recommended)"
                    )
        self.base_lrs: list[float] = _param_groups_val_list(self._opt, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    @classmethod
    def declare(cls, lr: float | None = None, *, interval: str | None = None, **arguments: Any) -> "TorchSchedule":
        """This scheduler as data, to be a group's ``lr`` inside a spec or config file.

        Args:
            lr: the initial learning rate (torch's group ``lr``); left out for
                ``CyclicLR``/``OneCycleLR`` (their arguments set it) and for the
                schedulers inside a ``SequentialLR``/``ChainedScheduler`` declaration.
            interval: ``"epoch"`` (advance on ``opt.end_epoch()``) or ``"step"``
                (after every optimizer step); default ``"epoch"``, ``"step"`` for
                ``CyclicLR``/``OneCycleLR``.
            **arguments: torch's arguments, without ``optimizer`` and ``last_epoch``.
        """
        return cls.Declaration(lr, interval=interval, **arguments)

    def _initial_step(self) -> None:
        """Initialize step counts and perform a step."""
        self._step_count = 0
        with _initial_mode(self):
            self.step()

    def _state(self, *exclude: str) -> dict[str, Any]:
        skip = set(self._excluded_state) | set(exclude)
        return {key: value for key, value in self.__dict__.items() if key not in skip}

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state: every attribute except the optimizer (torch's rule)."""
        return self._state()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a state returned by :meth:`state_dict`."""
        self.__dict__.update(state_dict)

    def get_last_lr(self) -> list[float]:
        """The learning rates the last step computed, one per group."""
        return self._last_lr

    def get_lr(self) -> list[float]:
        """Compute the next learning rate of every group (called by :meth:`step`)."""
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Step the scheduler (call it after ``optimizer.step()``).

        Args:
            epoch: deprecated (as in torch): sets ``last_epoch`` and uses the closed
                form where there is one.
        """
        if self._step_count == 1 and not self._opt.stepped():
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
                "In PyTorch 1.1.0 and later, you should call them in the opposite order: "
                "`optimizer.step()` before `lr_scheduler.step()`.  Failure to do this "
                "will result in PyTorch skipping the first value of the learning rate schedule. "
                "See more details at "
                "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
                UserWarning,
                stacklevel=2,
            )
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._step_count += 1
        try:
            self._update_lr(epoch)
        except BaseException:
            self._step_count -= 1  # a failed step leaves the scheduler as it was (see the module docstring)
            raise

    def _update_lr(self, epoch: float | None = None) -> None:
        saved = self.last_epoch
        try:
            with _enable_get_lr_call(self):
                if epoch is None:
                    self.last_epoch += 1
                    values = self.get_lr()
                else:
                    self.last_epoch = epoch
                    if hasattr(self, "_get_closed_form_lr"):
                        values = self._get_closed_form_lr()
                    else:
                        values = self.get_lr()
        except BaseException:
            self.last_epoch = saved
            raise
        for param_group, lr in zip(self._opt.param_groups, values, strict=True):
            param_group["lr"] = lr
        self._last_lr = _param_groups_val_list(self._opt, "lr")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} last_epoch={getattr(self, 'last_epoch', None)!r}>"


class LambdaLR(LRScheduler):
    """Sets each group's lr to its initial lr times ``lr_lambda(last_epoch)``.

    Args:
        optimizer: the optimizer.
        lr_lambda: a callable of the epoch, an expression string (``"0.95 ** epoch"``),
            or a list of them, one per group.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, lr_lambda: Any, last_epoch: int = -1) -> None:
        self._bind(optimizer)
        if not isinstance(lr_lambda, list) and not isinstance(lr_lambda, tuple):
            self.lr_lambdas = [_as_callable(lr_lambda)] * len(self._opt.param_groups)
        else:
            if len(lr_lambda) != len(self._opt.param_groups):
                raise SpecValueError(f"Expected {len(self._opt.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = [_as_callable(fn) for fn in lr_lambda]
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        state = self._state("lr_lambdas")
        state["lr_lambdas"] = [_fn_state(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        state = dict(state_dict)
        lr_lambdas = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for idx, fn in enumerate(lr_lambdas):
            if fn is not None:
                self.lr_lambdas[idx].__dict__.update(fn)

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        return [base_lr * lmbda(self.last_epoch) for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]


class MultiplicativeLR(LRScheduler):
    """Multiplies each group's lr by ``lr_lambda(last_epoch)`` at every step.

    Args:
        optimizer: the optimizer.
        lr_lambda: a callable of the epoch, an expression string, or a list of them.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, lr_lambda: Any, last_epoch: int = -1) -> None:
        self._bind(optimizer)
        if not isinstance(lr_lambda, list) and not isinstance(lr_lambda, tuple):
            self.lr_lambdas = [_as_callable(lr_lambda)] * len(self._opt.param_groups)
        else:
            if len(lr_lambda) != len(self._opt.param_groups):
                raise SpecValueError(f"Expected {len(self._opt.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = [_as_callable(fn) for fn in lr_lambda]
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise SpecTypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    state_dict = LambdaLR.state_dict
    load_state_dict = LambdaLR.load_state_dict

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        if not self._is_initial:
            return [
                group["lr"] * lmbda(self.last_epoch)
                for lmbda, group in zip(self.lr_lambdas, self._opt.param_groups, strict=True)
            ]
        return _param_groups_val_list(self._opt, "lr")


class StepLR(LRScheduler):
    """Decays each group's lr by ``gamma`` every ``step_size`` epochs.

    Args:
        optimizer: the optimizer.
        step_size: period of learning rate decay.
        gamma: multiplicative factor of learning rate decay.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        if (self.last_epoch == 0) or (self.last_epoch % self.step_size != 0):
            return _param_groups_val_list(self._opt, "lr")
        return [group["lr"] * self.gamma for group in self._opt.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Decays each group's lr by ``gamma`` at each milestone (by ``gamma**n`` if repeated ``n`` times).

    Args:
        optimizer: the optimizer.
        milestones: epoch indices, increasing.
        gamma: multiplicative factor of learning rate decay.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        if self.last_epoch not in self.milestones:
            return _param_groups_val_list(self._opt, "lr")
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in self._opt.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(Counter(self.milestones).elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    """Multiplies each group's lr by ``factor`` until epoch ``total_iters``.

    Args:
        optimizer: the optimizer.
        factor: the factor, in [0, 1].
        total_iters: epochs the factor applies.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1) -> None:
        if factor > 1.0 or factor < 0:
            raise SpecValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self._opt.param_groups]
        if self.last_epoch != self.total_iters:
            return _param_groups_val_list(self._opt, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self._opt.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
            for base_lr in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """Scales each group's lr by a factor moving linearly from ``start_factor`` to ``end_factor``.

    Args:
        optimizer: the optimizer.
        start_factor: factor at the first epoch, in (0, 1].
        end_factor: factor from epoch ``total_iters`` on, in [0, 1].
        total_iters: epochs of the linear change.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise SpecValueError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise SpecValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self._opt.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _param_groups_val_list(self._opt, "lr")
        return [
            group["lr"]
            * (
                1.0
                + (self.end_factor - self.start_factor)
                / (self.total_iters * self.start_factor + (self.last_epoch - 1) * (self.end_factor - self.start_factor))
            )
            for group in self._opt.param_groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr
            * (self.start_factor + (self.end_factor - self.start_factor) * min(self.total_iters, self.last_epoch)
               / self.total_iters)
            for base_lr in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    """Multiplies each group's lr by ``gamma`` every epoch.

    Args:
        optimizer: the optimizer.
        gamma: multiplicative factor of learning rate decay.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        if self._is_initial:
            return _param_groups_val_list(self._opt, "lr")
        return [group["lr"] * self.gamma for group in self._opt.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class SequentialLR(LRScheduler):
    """Runs ``schedulers`` one after another, switching at ``milestones``.

    Args:
        optimizer: the optimizer (all schedulers must be bound to it).
        schedulers: the schedulers, in order.
        milestones: the epochs at which the next scheduler takes over.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, schedulers: list, milestones: list, last_epoch: int = -1) -> None:
        if len(schedulers) < 1:
            raise SpecValueError(f"{self.__class__.__name__} expects at least one scheduler, but got no scheduler.")
        for scheduler_idx, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise SpecTypeError(
                    f"{self.__class__.__name__} at index {scheduler_idx} should have `optimizer` as its attribute."
                )
            if isinstance(scheduler, ReduceLROnPlateau):
                raise SpecValueError(
                    f"{self.__class__.__name__} does not support `ReduceLROnPlateau` scheduler as it "
                    "requires additional kwargs to be specified when calling `step`, "
                    f"but got one at index {scheduler_idx} in the given schedulers sequence."
                )
            if optimizer != scheduler.optimizer:
                raise SpecValueError(
                    f"{self.__class__.__name__} expects all schedulers to belong to the same optimizer, but "
                    f"got scheduler {scheduler.__class__.__name__} at index {scheduler_idx} has {scheduler.optimizer}, "
                    f"which is different from {optimizer.__class__.__name__}."
                )
        if len(milestones) != len(schedulers) - 1:
            raise SpecValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers {len(schedulers)} and the "
                f"number of milestones to be equal to {len(milestones)}"
            )
        self._bind(optimizer)
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        for group in self._opt.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def recursive_undo(self, sched: Any = None) -> None:
        """Undo the initial step every wrapped scheduler took."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Perform a step (a failing one leaves every scheduler and the lrs as they were)."""
        with _unchanged_on_failure(self):
            self.last_epoch += 1
            idx = bisect_right(self._milestones, self.last_epoch)
            scheduler = self._schedulers[idx]
            if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
                scheduler._update_lr(0)
            else:
                scheduler.step()
            self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = self._state("_schedulers")
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        state = dict(state_dict)
        schedulers = state.pop("_schedulers")
        self.__dict__.update(state)
        for idx, s in enumerate(schedulers):
            self._schedulers[idx].load_state_dict(s)


class PolynomialLR(LRScheduler):
    """Decays each group's lr polynomially to 0 over ``total_iters`` epochs.

    Args:
        optimizer: the optimizer.
        total_iters: epochs of the decay.
        power: power of the polynomial.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1) -> None:
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        if self._is_initial or self.last_epoch > self.total_iters:
            return _param_groups_val_list(self._opt, "lr")
        decay_factor = (
            (1.0 - self.last_epoch / self.total_iters) / (1.0 - (self.last_epoch - 1) / self.total_iters)
        ) ** self.power
        return [group["lr"] * decay_factor for group in self._opt.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
            for base_lr in self.base_lrs
        ]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing by torch's recursion
    :math:`\eta_{t+1} = \eta_{min} + (\eta_t - \eta_{min})\frac{1 + \cos((t+1)\pi/T)}{1 + \cos(t\pi/T)}`.

    Args:
        optimizer: the optimizer.
        T_max: maximum number of iterations.
        eta_min: minimum learning rate.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        if self._is_initial:
            return _param_groups_val_list(self._opt, "lr")
        elif self._step_count == 1 and self.last_epoch > 0:
            return [
                self.eta_min + (base_lr - self.eta_min) * (1 + math.cos((self.last_epoch) * math.pi / self.T_max)) / 2
                for base_lr, group in zip(self.base_lrs, self._opt.param_groups, strict=True)
            ]
        elif (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [
                group["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                for base_lr, group in zip(self.base_lrs, self._opt.param_groups, strict=True)
            ]
        return [
            (1 + math.cos(math.pi * self.last_epoch / self.T_max))
            / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
            * (group["lr"] - self.eta_min)
            + self.eta_min
            for group in self._opt.param_groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


class ChainedScheduler(LRScheduler):
    """Steps every scheduler of ``schedulers`` at each :meth:`step` (their effects compose).

    Args:
        schedulers: the schedulers, bound to one optimizer.
        optimizer: that optimizer (default: the first scheduler's).
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Any = None) -> None:
        if len(schedulers) < 1:
            raise SpecValueError(
                f"{self.__class__.__name__} expects at least one scheduler to be chained, but got no scheduler."
            )
        optimizer = optimizer or schedulers[0].optimizer
        for scheduler_idx, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise SpecTypeError(
                    f"{self.__class__.__name__} at index {scheduler_idx} should have `optimizer` as its attribute."
                )
            if isinstance(scheduler, ReduceLROnPlateau):
                raise SpecValueError(
                    f"{self.__class__.__name__} does not support `ReduceLROnPlateau` scheduler as it "
                    "requires additional kwargs to be specified when calling `step`, "
                    f"but got one at index {scheduler_idx} in the given schedulers sequence."
                )
            if optimizer != scheduler.optimizer:
                raise SpecValueError(
                    f"{self.__class__.__name__} expects all schedulers to belong to the same optimizer, but "
                    f"got scheduler {scheduler.__class__.__name__} at index {scheduler_idx} has {scheduler.optimizer}, "
                    f"which is different from {optimizer.__class__.__name__}."
                )
        self._schedulers = schedulers
        self._bind(optimizer)
        self._last_lr = _param_groups_val_list(self._schedulers[-1]._opt, "lr")

    def step(self) -> None:  # type: ignore[override]
        """Perform a step (a failing one leaves every scheduler and the lrs as they were)."""
        with _unchanged_on_failure(self):
            for scheduler in self._schedulers:
                scheduler.step()
            self._last_lr = _param_groups_val_list(self._schedulers[-1]._opt, "lr")

    state_dict = SequentialLR.state_dict
    load_state_dict = SequentialLR.load_state_dict


class ReduceLROnPlateau(LRScheduler):
    """Reduces each group's lr by ``factor`` when a metric stops improving for ``patience`` epochs.

    Args:
        optimizer: the optimizer.
        mode: ``"min"`` or ``"max"``.
        factor: ``new_lr = lr * factor``, < 1.
        patience: epochs without improvement tolerated.
        threshold: threshold for measuring a new optimum.
        threshold_mode: ``"rel"`` (``best * (1 ∓ threshold)``) or ``"abs"`` (``best ∓ threshold``).
        cooldown: epochs to wait after a reduction.
        min_lr: lower bound(s) of the lr, a number or one per group.
        eps: reductions smaller than this are skipped.
    """

    def __init__(self, optimizer: Any, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: list[float] | float = 0, eps: float = 1e-8) -> None:
        if factor >= 1.0:
            raise SpecValueError("Factor should be < 1.0.")
        self.factor = factor
        self._bind(optimizer)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(self._opt.param_groups):
                raise SpecValueError(f"expected {len(self._opt.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(self._opt.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _param_groups_val_list(self._opt, "lr")
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Perform a step with the monitored metric."""
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr(epoch)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _param_groups_val_list(self._opt, "lr")

    def _reduce_lr(self, epoch: int) -> None:
        if len(self._opt.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    "The number of param groups in the `optimizer` "
                    f"({len(self._opt.param_groups)}) differs "
                    f"from when `ReduceLROnPlateau` was initialized "
                    f"({len(self.min_lrs)}), usually due to a new "
                    "param group being added to the optimizer. Please "
                    "modify the `min_lrs` field to match the length "
                    "of the `optimizer` param groups."
                )
            self.min_lrs = [self.default_min_lr] * len(self._opt.param_groups)
        for i, param_group in enumerate(self._opt.param_groups):
            old_lr = float(param_group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                param_group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            rel_epsilon = 1.0 - self.threshold
            return a < best * rel_epsilon
        elif self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        elif self.mode == "max" and self.threshold_mode == "rel":
            rel_epsilon = self.threshold + 1.0
            return a > best * rel_epsilon
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in {"min", "max"}:
            raise SpecValueError("mode " + str(mode) + " is unknown!")
        if threshold_mode not in {"rel", "abs"}:
            raise SpecValueError("threshold mode " + str(threshold_mode) + " is unknown!")
        self.mode_worse = inf if mode == "min" else -inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.__dict__.update(state_dict)
        self._init_is_better(mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode)


class CyclicLR(LRScheduler):
    """Cycles each group's lr between ``base_lr`` and ``max_lr`` (CLR), momentum inversely.

    Args:
        optimizer: the optimizer.
        base_lr: lower lr boundary (or one per group).
        max_lr: upper lr boundary (or one per group).
        step_size_up: iterations in the increasing half of a cycle.
        step_size_down: iterations in the decreasing half (default ``step_size_up``).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: constant of ``"exp_range"``: ``gamma**iterations``.
        scale_fn: custom scaling (a callable or an expression over ``x``); overrides ``mode``.
        scale_mode: ``"cycle"`` or ``"iterations"``: what ``scale_fn`` is evaluated on.
        cycle_momentum: cycle ``momentum`` (or ``beta1``) inversely to the lr.
        base_momentum: lower momentum boundary (or one per group).
        max_momentum: upper momentum boundary (or one per group).
        last_epoch: index of the last batch.
    """

    def __init__(self, optimizer: Any, base_lr: Any, max_lr: Any, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular", gamma: float = 1.0,
                 scale_fn: Any = None, scale_mode: str = "cycle", cycle_momentum: bool = True,
                 base_momentum: float = 0.8, max_momentum: float = 0.9, last_epoch: int = -1) -> None:
        self._bind(optimizer)
        base_lrs = _format_param("base_lr", self._opt, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, self._opt.param_groups, strict=True):
                group["lr"] = lr
        self.max_lrs = _format_param("max_lr", self._opt, max_lr)
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        scale_fn = _as_callable(scale_fn, ("x",))
        if mode not in ["triangular", "triangular2", "exp_range"] and scale_fn is None:
            raise SpecValueError("mode is invalid and scale_fn is None")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in self._opt.defaults and "betas" not in self._opt.defaults:
                raise SpecValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in self._opt.defaults
            self.base_momentums = _format_param("base_momentum", self._opt, base_momentum)
            self.max_momentums = _format_param("max_momentum", self._opt, max_momentum)
            if last_epoch == -1:
                for m_momentum, b_momentum, group in zip(self.max_momentums, self.base_momentums,
                                                         self._opt.param_groups, strict=True):
                    if self.use_beta1:
                        group["betas"] = (m_momentum, *group["betas"][1:])
                    else:
                        group["momentum"] = m_momentum
                    group["max_momentum"] = m_momentum
                    group["base_momentum"] = b_momentum
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        if self._scale_fn_custom is not None:
            return
        if self.mode == "triangular":
            self._scale_fn_ref = self._triangular_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "triangular2":
            self._scale_fn_ref = self._triangular2_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "exp_range":
            self._scale_fn_ref = partial(self._exp_range_scale_fn, self.gamma)
            self.scale_mode = "iterations"

    def scale_fn(self, x: float) -> float:
        """Get the scaling policy."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return self._scale_fn_ref(x)

    @staticmethod
    def _triangular_scale_fn(x: float) -> float:
        return 1.0

    @staticmethod
    def _triangular2_scale_fn(x: float) -> float:
        return 1 / (2.0 ** (x - 1))

    @staticmethod
    def _exp_range_scale_fn(gamma: float, x: float) -> float:
        return gamma**x

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        lrs = []
        for base_lr, max_lr in zip(self.base_lrs, self.max_lrs, strict=True):
            base_height = (max_lr - base_lr) * scale_factor
            if self.scale_mode == "cycle":
                lr = base_lr + base_height * self.scale_fn(cycle)
            else:
                lr = base_lr + base_height * self.scale_fn(self.last_epoch)
            lrs.append(lr)
        if self.cycle_momentum:
            momentums = []
            for base_momentum, max_momentum in zip(self.base_momentums, self.max_momentums, strict=True):
                base_height = (max_momentum - base_momentum) * scale_factor
                if self.scale_mode == "cycle":
                    momentum = max_momentum - base_height * self.scale_fn(cycle)
                else:
                    momentum = max_momentum - base_height * self.scale_fn(self.last_epoch)
                momentums.append(momentum)
            for param_group, momentum in zip(self._opt.param_groups, momentums, strict=True):
                if self.use_beta1:
                    param_group["betas"] = (momentum, *param_group["betas"][1:])
                else:
                    param_group["momentum"] = momentum
        return lrs

    def state_dict(self) -> dict[str, Any]:
        state = self._state("_scale_fn_ref", "_scale_fn_custom")
        state["_scale_fn_custom"] = _fn_state(self._scale_fn_custom)
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        state = dict(state_dict)
        fn = state.pop("_scale_fn_custom")
        self.__dict__.update(state)
        if fn is not None:
            self._scale_fn_custom.__dict__.update(fn)
        self._init_scale_fn()


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""SGDR: :math:`\eta_{min} + \tfrac12(\eta_{max} - \eta_{min})(1 + \cos(\pi T_{cur}/T_i))`, restarting every ``T_i``.

    ``step(epoch)`` accepts fractional epochs (``epoch + i / iters`` per batch).

    Args:
        optimizer: the optimizer.
        T_0: iterations until the first restart.
        T_mult: factor by which ``T_i`` grows after a restart.
        eta_min: minimum learning rate.
        last_epoch: index of the last epoch.
    """

    def __init__(self, optimizer: Any, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if T_0 <= 0 or not isinstance(T_0, int):
            raise SpecValueError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise SpecValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise SpecValueError(f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        return [
            self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
            for base_lr in self.base_lrs
        ]

    def step(self, epoch: float | None = None) -> None:
        """Step; may be called after every batch with a fractional ``epoch``."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise SpecValueError(f"Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** (n)
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        with _enable_get_lr_call(self):
            values = self.get_lr()
        for param_group, lr in zip(self._opt.param_groups, values, strict=True):
            param_group["lr"] = lr
        self._last_lr = _param_groups_val_list(self._opt, "lr")


class OneCycleLR(LRScheduler):
    """The 1cycle policy: lr up from ``max_lr/div_factor`` to ``max_lr``, then down to ``min_lr``.

    Args:
        optimizer: the optimizer.
        max_lr: peak lr (or one per group).
        total_steps: steps in the cycle (or give ``epochs`` and ``steps_per_epoch``).
        epochs: epochs, with ``steps_per_epoch``.
        steps_per_epoch: steps per epoch, with ``epochs``.
        pct_start: fraction of the cycle spent increasing the lr.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: cycle ``momentum`` (or ``beta1``) inversely to the lr.
        base_momentum: lower momentum boundary (or one per group).
        max_momentum: upper momentum boundary (or one per group).
        div_factor: ``initial_lr = max_lr / div_factor``.
        final_div_factor: ``min_lr = initial_lr / final_div_factor``.
        three_phase: a third phase annihilates the lr (the paper's form).
        last_epoch: index of the last batch.
    """

    def __init__(self, optimizer: Any, max_lr: Any, total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum: Any = 0.85, max_momentum: Any = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        self._bind(optimizer)
        if total_steps is not None:
            if total_steps <= 0 or not isinstance(total_steps, int):
                raise SpecValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise SpecValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise SpecValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise SpecValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if three_phase:
            self._schedule_phases = [
                {"end_step": float(pct_start * self.total_steps) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * self.total_steps) - 2, "start_lr": "max_lr",
                 "end_lr": "initial_lr", "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": float(pct_start * self.total_steps) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
            raise SpecValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ["cos", "linear"]:
            raise SpecValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy
        max_lrs = _format_param("max_lr", self._opt, max_lr)
        if last_epoch == -1:
            for idx, group in enumerate(self._opt.param_groups):
                group["initial_lr"] = max_lrs[idx] / div_factor
                group["max_lr"] = max_lrs[idx]
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if self.cycle_momentum:
            if "momentum" not in self._opt.defaults and "betas" not in self._opt.defaults:
                raise SpecValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in self._opt.defaults
            max_momentums = _format_param("max_momentum", self._opt, max_momentum)
            base_momentums = _format_param("base_momentum", self._opt, base_momentum)
            if last_epoch == -1:
                for m_momentum, b_momentum, group in zip(max_momentums, base_momentums, self._opt.param_groups,
                                                         strict=True):
                    if self.use_beta1:
                        group["betas"] = (m_momentum, *group["betas"][1:])
                    else:
                        group["momentum"] = m_momentum
                    group["max_momentum"] = m_momentum
                    group["base_momentum"] = b_momentum
        super().__init__(optimizer, last_epoch)

    def _anneal_func(self, *args: Any) -> float:
        if self._anneal_func_type == "cos":
            return self._annealing_cos(*args)
        return self._annealing_linear(*args)

    @staticmethod
    def _annealing_cos(start: float, end: float, pct: float) -> float:
        cos_out = math.cos(math.pi * pct) + 1
        return end + (start - end) / 2.0 * cos_out

    @staticmethod
    def _annealing_linear(start: float, end: float, pct: float) -> float:
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        _warn_get_lr_called_within_step(self)
        lrs = []
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise SpecValueError(
                f"Tried to step {step_num} times. The specified number of total steps is {self.total_steps}"
            )
        for group in self._opt.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    computed_lr = self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        computed_momentum = self._anneal_func(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                    break
                start_step = phase["end_step"]
            lrs.append(computed_lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (computed_momentum, *group["betas"][1:])
                else:
                    group["momentum"] = computed_momentum
        return lrs


# -- declarations: the schedulers as data inside a spec --------------------------------------
_NESTED = ("SequentialLR", "ChainedScheduler")
_SETS_LR = ("CyclicLR", "OneCycleLR")
_CALLABLE_ARGUMENTS = {"lr_lambda": ("epoch", "step"), "scale_fn": ("x",)}


def _is_plain_callable(value: Any) -> bool:
    return callable(value) and not isinstance(value, (Expression, Schedule, type))


class _DeclaredRuntime(ScheduleRuntime):
    """A declaration running on a private one-group ``param_groups`` (see the module docstring)."""

    def __init__(self, declaration: "TorchSchedule", context: ScheduleContext):
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
        if self.needs_metric:
            self.scheduler.step(metric)
        elif self.declaration.steps_per_epoch is not None:
            k, n = self.count, self.declaration.steps_per_epoch
            self.scheduler.step(k // n + (k % n) / n)
        else:
            self.scheduler.step()
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
                raise SpecValueError(f"{name}.declare: 'steps_per_epoch' must be an int >= 1. Received: {steps_per_epoch!r}")
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


for _scheduler in (LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR,
                   SequentialLR, PolynomialLR, CosineAnnealingLR, ChainedScheduler, ReduceLROnPlateau,
                   CosineAnnealingWarmRestarts):
    _declaration(_scheduler)
for _scheduler in (CyclicLR, OneCycleLR):
    _declaration(_scheduler, interval="step")
del _scheduler
