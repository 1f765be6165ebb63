"""Schedules: a learning rate or weight decay as a function of the global step.

A schedule is plain, immutable, serialisable data (its constructor arguments, see
:meth:`Schedule.get_config`) plus a pure evaluation rule :meth:`Schedule.value`. It is
evaluated on the host, never inside a kernel, in the arithmetic of the framework it
mirrors: ``precision = "float32"`` for MindSpore's ``LearningRateSchedule`` cells (they
run as float32 graph ops), ``"float64"`` otherwise.

Schedules are registered by name (``kind``) so a config file can name them; nothing is
ever looked up by ``eval``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..errors import ConfigError

__all__ = ["Schedule", "register_schedule", "schedule_registry", "schedule_from_config"]

schedule_registry: dict[str, type[Schedule]] = {}


def register_schedule(cls: type[Schedule]) -> type[Schedule]:
    """Class decorator: make ``cls`` constructible from a config under ``cls.kind``."""
    kind = cls.kind
    if not kind:
        raise TypeError(f"{cls.__name__} needs a non-empty 'kind' to be registered")
    existing = schedule_registry.get(kind)
    if existing is not None and existing is not cls:
        raise ValueError(f"schedule kind {kind!r} is already registered by {existing.__qualname__}")
    schedule_registry[kind] = cls
    return cls


class Schedule:
    """Base class of every schedule.

    Subclasses set ``kind`` (registry name, e.g. ``"mindspore.nn.PolynomialDecayLR"``),
    store their validated constructor arguments, and implement :meth:`value` and
    :meth:`get_config`.

    Attributes:
        kind: registry name used in configs.
        interval: ``"step"`` (advanced by every optimizer step) or ``"epoch"``.
        precision: ``"float32"`` or ``"float64"``: the arithmetic of the origin framework.
    """

    kind: ClassVar[str] = ""
    interval: str = "step"
    precision: ClassVar[str] = "float64"

    def value(self, step: int) -> float:
        """Return the value used by the optimizer step with index ``step`` (0-based)."""
        raise NotImplementedError

    def __call__(self, step: int) -> float:
        return self.value(step)

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments as JSON-serialisable data."""
        raise NotImplementedError(
            f"schedule {type(self).__qualname__} is not serialisable: implement get_config() (and "
            f"register it with @register_schedule) to write it to a config"
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Schedule:
        """Rebuild a schedule from :meth:`get_config` output."""
        return cls(**dict(config))

    def to_dict(self) -> dict[str, Any]:
        """``{"schedule": kind, **config}``: the form configs store."""
        return {"schedule": self.kind, **self.get_config()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self.kind == other.kind and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((self.kind, repr(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def schedule_from_config(data: Mapping[str, Any], *, path: str = "") -> Schedule:
    """Build a registered schedule from ``{"schedule": kind, **config}``.

    Raises:
        ConfigError: the kind is unknown or the arguments do not fit it; the message
            names ``path``.
    """
    kind = data.get("schedule")
    if not isinstance(kind, str) or kind not in schedule_registry:
        known = ", ".join(sorted(schedule_registry))
        raise ConfigError(f"{path or '<root>'}: unknown schedule {kind!r}. Known schedules: {known}")
    cls = schedule_registry[kind]
    config = {k: v for k, v in data.items() if k != "schedule"}
    try:
        return cls.from_config(config)
    except TypeError as exc:
        raise ConfigError(f"{path or '<root>'}: bad arguments for schedule {kind!r}: {exc}") from exc
