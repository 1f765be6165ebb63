"""torch's ``param_groups[i]`` options as a view of one engine group (one home per live value).

torch code reads and writes a group's options under torch's names: ``lr``, the
algorithm's hyperparameters (``momentum``, ``eps``, ...), ``betas`` for the pair
``(beta1, beta2)`` and ``weight_decay``. :class:`GroupValues` serves those names for
group ``index`` of an :class:`~optbridge.engine.Engine` without holding any value itself
(DESIGN.md §8): a read returns what the next step uses, a write is checked in full and
then goes into the engine, or raises and changes nothing.

* ``lr`` reads as :meth:`Engine.lr_at` for the next step (the spec's precision; a finished
  per-step list shows its last value). A write is :meth:`Engine.set_lr` for the group: a
  finite number >= 0; a group whose lr is a per-step list or a schedule belongs to the
  spec and refuses a different value (:class:`~optbridge.errors.StaticLearningRateError`).
* The :data:`LIVE_KEYS` hyperparameters ``momentum``, ``beta1``/``beta2`` and ``betas``
  (both names of one value) read as the algorithm the next step runs
  (:meth:`Engine.algorithm_at`: a declared ``CyclicLR``/``OneCycleLR`` cycles them) and
  write through :meth:`Engine.set_hyperparameters`, which keeps them from then on; a value
  a declared schedule sets every step cannot be written.
* The other hyperparameters and ``weight_decay`` (the next step's value, a schedule's
  included) are read-only: writing the value they have is allowed (torch code writes
  options back), any other value raises.

The torch backend's ``param_groups`` and the ``optim.lr_scheduler`` objects bound to any
optbridge optimizer both read and write groups through this class.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ....engine import Engine, GroupRuntime
from ....errors import ScheduleExhaustedError, SpecValueError, StaticLearningRateError
from ....schedules.values import Constant, PerStep

__all__ = ["LIVE_KEYS", "GroupValues", "differs", "scalar"]

#: the options a write changes in the engine; the other options are read-only
LIVE_KEYS = ("lr", "momentum", "betas", "beta1", "beta2")
_BETAS = ("beta1", "beta2")


def scalar(value: Any) -> Any:
    """A one-element array (torch allows tensor options) as a Python number; else ``value``."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "size", None) is not None and _numel(value) == 1:
        return item()
    return value


def _numel(value: Any) -> int:
    numel = getattr(value, "numel", None)
    if callable(numel):
        return int(numel())
    size = getattr(value, "size", 0)
    return int(size) if isinstance(size, int) else 0


def differs(value: Any, current: Any) -> bool:
    """Whether ``value`` is not ``current`` (anything that cannot be compared differs)."""
    try:
        return bool(value != current)
    except (TypeError, RuntimeError, ValueError):  # e.g. a pair holding tensors
        return True


def _latest(at: Callable[[int], float], value: Any, step: int, engine: Engine) -> float:
    """``at(step)``; once a per-step list is used up, the value of its last step (the last
    update that reads the list, :meth:`Engine.last_step_within`)."""
    try:
        return at(step)
    except ScheduleExhaustedError:
        if isinstance(value, PerStep) and value.values:
            last = engine.last_step_within(len(value.values))
            if last is not None:
                return at(last)
        raise


class GroupValues:
    """The options of group ``index`` of ``engine`` under torch's names (see the module docstring).

    Holds no value: every read asks the engine, every write goes into it.
    """

    __slots__ = ("engine", "index", "_keys")

    def __init__(self, engine: Engine, index: int):
        self.engine = engine
        self.index = index
        self._keys: list[str] | None = None

    @property
    def runtime(self) -> GroupRuntime:
        return self.engine.groups[self.index]

    @property
    def where(self) -> str:
        return f"param_groups[{self.index}]"

    def keys(self) -> list[str]:
        """``lr``, the algorithm's hyperparameters, ``betas`` (with ``beta1`` and ``beta2``), ``weight_decay``.

        Fixed for a group: a run-time change replaces hyperparameter values, never names.
        """
        if self._keys is None:
            names = list(self.runtime.algorithm.hyperparameters())
            if "beta1" in names and "beta2" in names:
                names.append("betas")
            self._keys = ["lr", *names, "weight_decay"]
        return list(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def read(self, key: str) -> Any:
        """The value of ``key`` the next step uses.

        Raises:
            KeyError: ``key`` is not an option of this group.
        """
        return self.read_all((key,))[key]

    def read_all(self, keys: Any = None) -> dict[str, Any]:
        """``{key: value}`` for ``keys`` (default :meth:`keys`), computed once."""
        engine, group = self.engine, self.runtime
        step = engine.global_step
        wanted = self.keys() if keys is None else list(keys)
        out: dict[str, Any] = {}
        algorithm = None
        known = self.keys()
        for key in wanted:
            if key == "lr":
                out[key] = _latest(lambda s: engine.lr_at(group, s), group.lr if group.lr_override is None
                                   else None, step, engine)
            elif key == "weight_decay":
                wd = group.weight_decay
                out[key] = wd.value if isinstance(wd, Constant) else _latest(
                    lambda s: engine.weight_decay_value(group, s), wd, step, engine)
            elif key in known:
                if algorithm is None:
                    algorithm = engine.algorithm_at(group, step)
                out[key] = ((getattr(algorithm, "beta1"), getattr(algorithm, "beta2")) if key == "betas"  # noqa: B009
                            else getattr(algorithm, key))
            else:
                raise KeyError(key)
        return out

    def write(self, key: str, value: Any) -> None:
        """Check ``value`` for ``key`` in full, then write it into the engine (see the module
        docstring); a value equal to the current one changes nothing.

        Raises:
            KeyError: ``key`` is not an option of this group.
            SpecValueError / SpecTypeError: a refused value, naming the group and key.
            StaticLearningRateError: a different ``lr`` for a group whose lr the spec owns.
        """
        if key == "lr":
            self._write_lr(scalar(value))
            return
        if key not in self.keys():
            raise KeyError(key)
        current = self.read(key)
        if key not in LIVE_KEYS:
            if differs(value, current):
                raise SpecValueError(
                    f"{self.where}['{key}'] was changed to {value!r} (was {current!r}); only {list(LIVE_KEYS)} are "
                    f"live on an optbridge optimizer: build a new spec to change '{key}'")
            return
        if key == "betas":
            if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)) or len(value) != 2:
                raise SpecValueError(f"{self.where}['betas'] must be a pair (beta1, beta2). Received: {value!r}")
            values = {name: scalar(v) for name, v, before in zip(_BETAS, value, current) if differs(v, before)}
        else:
            values = {key: scalar(value)} if differs(value, current) else {}
        if not values:
            return
        scheduled = sorted(self.engine.scheduled_hyperparameters(self.runtime) & set(values))
        if scheduled:
            raise SpecValueError(
                f"{self.where}: {scheduled} is set every step by the group's optbridge schedule "
                f"(CyclicLR/OneCycleLR declared with cycle_momentum=True) and cannot be written")
        self.engine.set_hyperparameters(self.index, **values)

    def write_scheduler_lr(self, value: Any) -> None:
        """Set the lr a learning-rate scheduler computed (torch's ``group['lr'] = lr``).

        As torch does, any finite number is taken (``OneCycleLR``'s linear anneal ends
        slightly below 0); the group's lr must be static.

        Raises:
            SpecValueError: not a finite number.
            StaticLearningRateError: the spec owns the group's lr (:meth:`Engine.static_lr`).
        """
        lr = scalar(value)
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr):
            raise SpecValueError(f"{self.where}['lr'] must be a finite number. Received: {lr!r}")
        self.engine.static_lr(self.index)
        self.runtime.lr_override = float(lr)

    def _write_lr(self, lr: Any) -> None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
            raise SpecValueError(f"{self.where}['lr'] must be a finite number >= 0. Received: {lr!r}")
        owner = self.engine.dynamic_lr(self.index)
        if owner is not None:
            if not differs(lr, self.read("lr")):
                return
            raise StaticLearningRateError(
                f"{self.where} ({self.runtime.label}): the learning rate cannot be set to {lr!r}: the spec gives it "
                f"{owner}, and the spec owns it (one owner per learning rate). Give the group a static lr in the "
                f"spec to change it. Nothing was changed")
        self.engine.set_lr(float(lr), group=self.index)
