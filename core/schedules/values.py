"""Values over time: how a group's learning rate or weight decay is given.

DESIGN.md section 3: a constant, a per-step sequence (index = global step; running past
its end is an error that says so) or a :class:`~optbridge.schedules.base.Schedule`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ScheduleExhaustedError
from .base import Schedule, schedule_from_config

__all__ = ["Value", "Constant", "PerStep", "Scheduled", "value_to_data", "value_from_data"]


@dataclass(frozen=True)
class Constant:
    """A value that does not change with the step (it may still be reassigned by ``set_lr``)."""

    value: float
    is_static = True

    def at(self, step: int) -> float:
        return self.value


@dataclass(frozen=True)
class PerStep:
    """One value per global step: step ``i`` uses ``values[i]`` (MindSpore dynamic_lr lists)."""

    values: tuple[float, ...]
    is_static = False

    def at(self, step: int) -> float:
        if step >= len(self.values):
            raise ScheduleExhaustedError(
                f"per-step value list has {len(self.values)} entries, but step {step} asks for "
                f"entry {step}: the list must cover every step of training"
            )
        return self.values[step]


@dataclass(frozen=True)
class Scheduled:
    """A value computed by a :class:`Schedule` from the global step."""

    schedule: Schedule
    is_static = False

    def at(self, step: int) -> float:
        return float(self.schedule.value(step))


Value = Constant | PerStep | Scheduled


def value_to_data(value: Value) -> Any:
    """Serialise: a number, a list of numbers, or ``{"schedule": kind, ...}``."""
    if isinstance(value, Constant):
        return value.value
    if isinstance(value, PerStep):
        return list(value.values)
    return value.schedule.to_dict()


def value_from_data(data: Any, *, path: str = "") -> Value:
    """Inverse of :func:`value_to_data` (no validation of ranges: dialects do that)."""
    if isinstance(data, dict):
        return Scheduled(schedule_from_config(data, path=path))
    if isinstance(data, (list, tuple)):
        return PerStep(tuple(float(x) for x in data))
    return Constant(float(data))

