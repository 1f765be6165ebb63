"""Stateful schedules: values that depend on their own history (torch's lr schedulers).

A :class:`~optbridge.schedules.base.Schedule` is a pure function of the step. torch's
schedulers are not: ``StepLR`` multiplies the *current* learning rate by ``gamma``,
``ReduceLROnPlateau`` reacts to metrics, ``CosineAnnealingLR`` follows a recursion whose
rounding differs from its closed form. A :class:`StatefulSchedule` is still plain,
immutable, serialisable data (its declaration), but the engine does not call
:meth:`~Schedule.value`; it calls :meth:`StatefulSchedule.start` once per group and
drives the returned :class:`ScheduleRuntime`:

* ``interval == "step"``: the runtime advances once after every optimizer step (the value
  used by step ``k`` is the value after ``k`` advances, as torch's
  ``optimizer.step(); scheduler.step()`` loop gives it);
* ``interval == "epoch"``: the runtime advances when the user calls
  ``opt.end_epoch(metric=None)`` (torch's ``scheduler.step()`` /
  ``scheduler.step(metric)``).

A runtime may also produce other hyperparameters of the group (torch's ``CyclicLR`` and
``OneCycleLR`` cycle ``momentum`` or ``beta1``): :meth:`ScheduleRuntime.hyperparameters`.
Its state is plain data (:meth:`ScheduleRuntime.state_dict`) and goes into the optimizer's
neutral state, so a resumed run continues the same sequence bit for bit.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import Schedule

__all__ = ["INTERVALS", "ScheduleContext", "ScheduleRuntime", "StatefulSchedule"]

#: When a stateful schedule advances.
INTERVALS = ("step", "epoch")


@dataclass(frozen=True)
class ScheduleContext:
    """What a stateful schedule may know about the group it runs for.

    Attributes:
        key: the value it drives, ``"lr"`` or ``"weight_decay"``.
        hyperparameters: the group's algorithm hyperparameters (before any schedule).
        where: the group, for messages (``"groups[1] ('fc.*')"``).
    """

    key: str = "lr"
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    where: str = "<schedule>"


class ScheduleRuntime:
    """The running state of one :class:`StatefulSchedule` for one group and key."""

    #: ``True`` when :meth:`advance` needs a metric (``ReduceLROnPlateau``).
    needs_metric: bool = False

    def value(self) -> float:
        """The value the next optimizer step uses."""
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, float]:
        """Algorithm hyperparameters the schedule sets (``{"momentum": 0.9}``); usually empty."""
        return {}

    def advance(self, metric: float | None = None) -> None:
        """One scheduler step (torch ``scheduler.step()`` / ``scheduler.step(metric)``)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Plain data from which :meth:`load_state_dict` restores this exact state."""
        raise NotImplementedError

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` of an equal declaration."""
        raise NotImplementedError


class StatefulSchedule(Schedule):
    """Base class of schedules whose value depends on their history.

    Subclasses set ``kind``, store their declaration, implement :meth:`start` and
    :meth:`get_config`. ``interval`` is an instance attribute here (``"step"`` or
    ``"epoch"``); ``precision`` is ``"float64"`` (torch computes in Python floats).
    """

    interval: str = "epoch"

    def start(self, context: ScheduleContext) -> ScheduleRuntime:
        """A fresh runtime for one group (raises if the group cannot run this schedule)."""
        raise NotImplementedError

    def value(self, step: int) -> float:
        """The value after ``step`` advances without metrics, replayed from the start.

        For ``interval="step"`` that is the value optimizer step ``step`` uses; for
        ``interval="epoch"`` the value after ``step`` calls of ``end_epoch()``. Costs
        ``O(step)``: the engine never calls it, it keeps a runtime instead.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"{type(self).__name__}.value: the index must be an int >= 0. Received: {step!r}")
        runtime = self.start(ScheduleContext())
        if runtime.needs_metric:
            raise TypeError(
                f"{type(self).__name__} depends on metrics: it has no value as a function of the step alone"
            )
        for _ in range(step):
            runtime.advance(None)
        return runtime.value()
