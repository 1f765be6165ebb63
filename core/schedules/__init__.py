"""Learning-rate and weight-decay values over time (DESIGN.md section 3)."""
from .base import Schedule, register_schedule, schedule_from_config, schedule_registry
from .expression import Expression
from .stateful import INTERVALS, ScheduleContext, ScheduleRuntime, StatefulSchedule
from .tracks import ValueTrack
from .values import Constant, PerStep, Scheduled, Value, value_from_data, value_to_data

__all__ = [
    "Schedule",
    "register_schedule",
    "schedule_from_config",
    "schedule_registry",
    "Constant",
    "PerStep",
    "Scheduled",
    "Value",
    "value_from_data",
    "value_to_data",
    "StatefulSchedule",
    "ScheduleContext",
    "ScheduleRuntime",
    "ValueTrack",
    "INTERVALS",
    "Expression",
]
