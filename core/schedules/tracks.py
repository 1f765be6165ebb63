"""Clocks: how the engine advances a group's stateful schedule (step or epoch interval).

A :class:`ValueTrack` wraps the :class:`~optbridge.schedules.stateful.ScheduleRuntime` of
one group's ``lr`` or ``weight_decay`` and keeps it in time with the optimizer:

* ``interval="step"``: the value used by optimizer step ``k`` is the runtime's value after
  ``k`` advances. The track advances *lazily*, when step ``k``'s value is asked for
  (:meth:`at`), so an error a schedule raises when stepped too far (torch's
  ``OneCycleLR``: "Tried to step ... times") surfaces before step ``k`` runs, never
  after a step has already changed the parameters.
* ``interval="epoch"``: the runtime advances on :meth:`end_epoch` (``opt.end_epoch``).

The state (:meth:`state_dict`) is the number of advances and the runtime's own state:
plain data for the optimizer's neutral state dict.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import SpecTypeError, SpecValueError
from .stateful import ScheduleContext, StatefulSchedule

__all__ = ["ValueTrack", "check_metric"]


def check_metric(metric: Any) -> float | None:
    """``None`` or a real number (a zero-dim array or tensor works through ``float()``)."""
    if metric is None:
        return None
    if isinstance(metric, (bool, str, bytes)):
        raise SpecTypeError(f"end_epoch: 'metric' must be a number or None. Received: {metric!r}")
    try:
        return float(metric)
    except (TypeError, ValueError):
        raise SpecTypeError(f"end_epoch: 'metric' must be a number or None. Received: {metric!r}") from None


class ValueTrack:
    """One group's stateful ``lr`` or ``weight_decay``, in time with the optimizer.

    Args:
        schedule: the declaration.
        context: the group and key it drives.
    """

    def __init__(self, schedule: StatefulSchedule, context: ScheduleContext):
        self.schedule = schedule
        self.context = context
        self.interval = schedule.interval
        self.runtime = schedule.start(context)
        #: advances done (step interval: optimizer steps the runtime has caught up with)
        self.advances = 0

    @property
    def needs_metric(self) -> bool:
        return self.runtime.needs_metric

    def at(self, step: int) -> float:
        """The value optimizer step ``step`` uses (step interval: catches up first)."""
        if self.interval == "step":
            self.sync(step)
        return float(self.runtime.value())

    def sync(self, step: int) -> None:
        """Advance a step-interval runtime until it has seen ``step`` optimizer steps."""
        if self.interval != "step":
            return
        if step < self.advances:
            raise SpecValueError(
                f"{self.context.where}: '{self.context.key}': the schedule has advanced {self.advances} steps and "
                f"cannot go back to step {step}"
            )
        while self.advances < step:
            self.runtime.advance(None)
            self.advances += 1

    def hyperparameters(self, step: int) -> dict[str, float]:
        """Hyperparameters the schedule sets for optimizer step ``step``."""
        if self.interval == "step":
            self.sync(step)
        return self.runtime.hyperparameters()

    def end_epoch(self, metric: float | None) -> None:
        """Advance an epoch-interval runtime once (``metric`` for ``ReduceLROnPlateau``)."""
        if self.interval != "epoch":
            return
        if self.runtime.needs_metric and metric is None:
            raise SpecValueError(
                f"{self.context.where}: '{self.context.key}' is a "
                f"{type(self.schedule).__name__.removesuffix('Declaration')} schedule that "
                f"reacts to a metric: call end_epoch(metric=...) with the monitored value"
            )
        self.runtime.advance(metric)
        self.advances += 1

    def state_dict(self) -> dict[str, Any]:
        """``{"kind", "interval", "advances", "runtime"}``: plain data."""
        return {
            "kind": self.schedule.kind,
            "interval": self.interval,
            "advances": self.advances,
            "runtime": self.runtime.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state taken with :meth:`state_dict` (loaded state dicts are checked by
        :func:`optbridge.state.parse_state_dict`, which builds a fresh runtime instead)."""
        self.runtime.load_state_dict(state["runtime"])
        self.advances = int(state["advances"])
