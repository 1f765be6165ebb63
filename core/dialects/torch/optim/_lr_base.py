"""The base class of the ``optim.lr_scheduler`` ports (torch's ``LRScheduler``) and the
helpers its subclasses share: torch's step bookkeeping (``_initial_step``, the
``get_lr``-within-``step`` warning, the restore-on-failure guard of the composite
schedulers) and the callable arguments (``lr_lambda``, ``scale_fn``) given as expressions.
"""
from __future__ import annotations

import copy
import math
import types
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ....errors import SpecKeyError
from ....schedules.expression import Expression
from ._lr_binding import _adapt, _param_groups_val_list

if TYPE_CHECKING:
    from ._lr_declared import TorchSchedule

inf = math.inf

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available. "
    "Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)


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
    def __init__(self, o: LRScheduler):
        self.o = o

    def __enter__(self) -> _enable_get_lr_call:
        self.o._get_lr_called_within_step = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.o._get_lr_called_within_step = False


class _initial_mode:
    def __init__(self, o: LRScheduler):
        self.o = o

    def __enter__(self) -> None:
        self.o._is_initial = True

    def __exit__(self, *exc: Any) -> None:
        self.o._is_initial = False


class _unchanged_on_failure:
    """Restore a composite scheduler's state (and its wrapped ones') and the groups' values
    if the step inside raises: a chained scheduler must not stay half-stepped."""

    def __init__(self, o: LRScheduler):
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


def _warn_get_lr_called_within_step(lr_scheduler: LRScheduler) -> None:
    if not lr_scheduler._get_lr_called_within_step:
        warnings.warn(
            "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
            UserWarning,
            stacklevel=3,
        )


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
    Declaration: ClassVar[type[TorchSchedule]]
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
    def declare(cls, lr: float | None = None, *, interval: str | None = None, **arguments: Any) -> TorchSchedule:
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

    def step(self, epoch: float | None = None) -> None:
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
                    # a deprecated explicit epoch is stored as given, fractional ones included (as torch does)
                    self.last_epoch = epoch  # type: ignore[assignment]
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
