"""``Optimizer.param_groups``: torch's group dicts as views of the engine's groups.

Each group is a :class:`ParamGroup`, a ``dict`` (torch checks ``isinstance(group, dict)``)
that holds only what the engine does not: ``params``, ``param_names`` and the keys other
code adds (a torch ``lr_scheduler``'s ``initial_lr``, ``max_lr``..., a user's own). The
options — ``lr``, the algorithm's hyperparameters, ``betas`` and ``weight_decay`` — live
in the engine alone (DESIGN.md §8, one home per live value) and are served by
:class:`~optbridge.dialects.torch.optim.param_group.GroupValues`: a read returns the value
the next step uses, a write is checked and applied at once, inside one engine
transaction, or raises and changes nothing. The rules (which options are live, how
``betas`` and ``beta1`` are one value) are that class's.

**One owner per learning rate.** A torch ``lr_scheduler`` writes every group, so while
any group's lr is a per-step list or a schedule (the spec owns it) a scheduler's write
of ``initial_lr`` or ``lr`` is refused with
:class:`~optbridge.errors.StaticLearningRateError`, naming the group, the spec's schedule,
the scheduler and the two fixes; other code is refused when it writes a different ``lr``
into such a group.

Every way torch and Python read a dict sees the live values: ``group[k]``, ``get``,
``in``, ``len``, iteration, ``keys``/``values``/``items``, ``dict(group)``,
``{**group}``, ``copy``, ``==``, ``repr`` and pickling/``copy.deepcopy`` (which give a
plain ``dict`` of the current values: a copy is a value, not a view).
"""
from __future__ import annotations

import math
import sys
import types
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from typing import Any

import torch

from optbridge.dialects.torch.optim.param_group import GroupValues, differs, scalar
from optbridge.engine import Engine
from optbridge.errors import SpecTypeError, SpecValueError, StaticLearningRateError
from optbridge.schedules.values import Constant
from optbridge.spec import GroupSpec

__all__ = ["ParamGroup", "check_lr_write", "new_group_spec", "with_betas"]

#: keys a torch ``lr_scheduler`` writes into every group when it binds (``initial_lr``) or steps (``lr``)
LR_WRITES = ("lr", "initial_lr")
#: how far up the stack a writer of ``group['lr']`` is looked for (scheduler method -> helper ->
#: ``__setitem__``/``setdefault`` -> ``update`` -> here)
_SCHEDULER_FRAMES = 10
#: keys of an added group besides the algorithm's hyperparameters
_GROUP_KEYS = ("params", "lr", "weight_decay", "param_names")


def _scheduler_in_stack() -> Any:
    """The torch ``lr_scheduler`` whose method is writing a param group, or ``None``.

    Walks a few frames, on writes of ``lr`` and ``initial_lr`` only.
    """
    kinds = (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    frame: types.FrameType | None = sys._getframe(1)
    for _ in range(_SCHEDULER_FRAMES):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, kinds):
            return candidate
        frame = frame.f_back
    return None


def check_lr_write(engine: Engine, index: int, key: str, value: Any, scheduler: Any) -> None:
    """Refuse a write of ``param_groups[index][key]`` (``'lr'``/``'initial_lr'``) that would take
    a learning rate away from its owner, the spec, before anything is written.

    A torch ``lr_scheduler`` writes every group, so it is refused when any group's lr
    is a per-step list or a schedule: when it binds (``initial_lr``; OneCycleLR,
    CyclicLR and ReduceLROnPlateau write ``lr`` first). Other code is refused when it
    assigns a different ``lr`` to such a group. ``scheduler``: the torch scheduler writing
    (:func:`_scheduler_in_stack`), or ``None``.

    Raises:
        StaticLearningRateError: naming the group, the spec's schedule, the writer and
            the two fixes.
    """
    dynamic = [i for i in range(len(engine.groups)) if engine.dynamic_lr(i) is not None]
    if not dynamic:
        return
    if scheduler is None:
        if index not in dynamic or (key == "lr" and not differs(value, GroupValues(engine, index).read("lr"))):
            return
        if key == "initial_lr":
            writer = "a torch lr_scheduler (it writes param_groups[i]['initial_lr'] when it binds)"
        else:
            writer = f"code assigning param_groups[{index}]['lr'] (a torch lr_scheduler or by hand)"
        culprit = index
    else:
        cls = type(scheduler)
        writer = f"{cls.__module__}.{cls.__qualname__}"
        culprit = index if index in dynamic else dynamic[0]
    runtime = engine.groups[culprit]
    raise StaticLearningRateError(
        f"param_groups[{culprit}] ({runtime.label}): {writer} cannot set this group's learning rate: the spec "
        f"gives it {engine.dynamic_lr(culprit)}, and the spec owns it (one owner per learning rate). Either give "
        f"the group a static lr in the spec (a number) and let the scheduler change it, or declare the scheduler "
        f"in the spec (optbridge.dialects.torch.optim.lr_scheduler.<Name>.declare(...) as the group's lr) and do "
        f"not attach the torch one. Nothing was changed"
    )


def _nonnegative(value: Any) -> bool:
    """A finite real number >= 0 (as a tensor option too)."""
    value = scalar(value)
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


class SyncedValues(GroupValues):
    """:class:`GroupValues` of an engine that lags behind the steps run on the device
    (``capturable=True``): ``sync()`` brings it up to date before every use."""

    __slots__ = ("_engine", "_sync")

    def __init__(self, engine: Engine, index: int, sync: Callable[[], None]):
        self._sync = sync
        super().__init__(engine, index)

    @property
    def engine(self) -> Engine:
        self._sync()
        return self._engine

    @engine.setter
    def engine(self, value: Engine) -> None:
        self._engine = value


class ParamGroup(dict):
    """One of ``Optimizer.param_groups``: group ``index`` of ``engine`` (see the module docstring).

    The ``dict`` storage holds ``params``, ``param_names`` and other code's keys; the
    engine's options are never stored here.
    """

    __slots__ = ("_values", "_options")

    def __init__(self, engine: Engine, index: int, items: Mapping[str, Any] | None = None,
                 sync: Callable[[], None] | None = None):
        super().__init__()
        self._values = GroupValues(engine, index) if sync is None else SyncedValues(engine, index, sync)
        #: the option names, in order (an algorithm's hyperparameter names never change)
        self._options = tuple(self._values.keys())
        for key, value in dict(items or {}).items():
            if key in self._options:
                raise SpecValueError(f"param_groups[{index}]: {key!r} is the engine's option, not stored in the group")
            dict.__setitem__(self, key, value)

    @property
    def index(self) -> int:
        """The group's position in ``param_groups`` and in the engine."""
        return self._values.index

    def options(self) -> dict[str, Any]:
        """``{option: value}`` of the engine (lr, hyperparameters, betas, weight decay), read once."""
        return self._values.read_all(self._options)

    # -- reads --------------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        if key in self._options:
            return self._values.read(key)
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __contains__(self, key: object) -> bool:
        return key in self._options or dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        stored = list(dict.keys(self))
        # torch's own order: params first, then the options, then the keys added later
        yield from stored[:1]
        yield from self._options
        yield from stored[1:]

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self))

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._options)

    def keys(self) -> KeysView[str]:  # type: ignore[override]
        return KeysView(self)

    def values(self) -> ValuesView[Any]:  # type: ignore[override]
        return ValuesView(self)

    def items(self) -> ItemsView[str, Any]:  # type: ignore[override]
        return ItemsView(self)

    def copy(self) -> dict[str, Any]:
        """A plain ``dict`` of the current values."""
        options = self.options()
        return {k: options[k] if k in options else dict.__getitem__(self, k) for k in self}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ParamGroup):
            other = other.copy()
        return self.copy() == other if isinstance(other, Mapping) else NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None

    def __repr__(self) -> str:
        return repr(self.copy())

    def __or__(self, other: Any) -> Any:
        return {**self.copy(), **other} if isinstance(other, Mapping) else NotImplemented

    def __ror__(self, other: Any) -> Any:
        return {**other, **self.copy()} if isinstance(other, Mapping) else NotImplemented

    def __reduce_ex__(self, protocol: Any) -> Any:
        return dict, (self.copy(),)

    # -- writes -------------------------------------------------------------------------------
    def __setitem__(self, key: Any, value: Any) -> None:
        self.update({key: value})

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return self[key]
        self[key] = default
        return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Write several keys at once: all of them or none.

        One option is one engine call (``set_lr``/``set_hyperparameters``), itself checked
        in full before it changes anything; several options, or options with stored keys,
        are written inside one engine transaction.
        """
        changes = dict(*args, **kwargs)
        values = self._values
        engine = values.engine
        scheduler = None
        if any(key in LR_WRITES for key in changes) and (
                any(engine.dynamic_lr(i) is not None for i in range(len(engine.groups)))
                or ("lr" in changes and not _nonnegative(changes["lr"]))):
            # who writes matters only here: while the spec owns some lr, or for a negative lr
            scheduler = _scheduler_in_stack()
            for key in LR_WRITES:
                if key in changes:
                    check_lr_write(engine, self.index, key, changes[key], scheduler)
        options = [k for k in changes if k in self._options]
        stored = [k for k in changes if k not in self._options]
        if len(options) == 1 and not stored:
            self._write_option(options[0], changes[options[0]], scheduler)
            return
        if not options:
            for key in stored:
                dict.__setitem__(self, key, changes[key])
            return
        saved = dict(dict.items(self))
        with engine.transaction():
            try:
                for key in options:
                    self._write_option(key, changes[key], scheduler)
                for key in stored:
                    dict.__setitem__(self, key, changes[key])
            except BaseException:
                dict.clear(self)
                dict.update(self, saved)
                raise

    def _write_option(self, key: str, value: Any, scheduler: Any) -> None:
        if key == "lr" and scheduler is not None:
            # as on torch.optim, a scheduler's lr is taken as computed (OneCycleLR may end below 0)
            self._values.write_scheduler_lr(value)
        else:
            self._values.write(key, value)

    def __ior__(self, other: Any) -> ParamGroup:
        self.update(other)
        return self

    def _refuse_removal(self, key: Any) -> None:
        if key in self._options:
            raise SpecValueError(f"param_groups[{self.index}]['{key}'] is an option of the optimizer and cannot be "
                                 f"removed")

    def __delitem__(self, key: Any) -> None:
        self._refuse_removal(key)
        dict.__delitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        self._refuse_removal(key)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last stored key (the options cannot be removed)."""
        return dict.popitem(self)

    def clear(self) -> None:
        """Remove every stored key (the options stay: they are the engine's)."""
        dict.clear(self)

    def replace_stored(self, values: Mapping[str, Any], keep: Sequence[str]) -> None:
        """Replace the stored keys other than ``keep`` by ``values`` (torch's load of param_groups)."""
        kept = {k: dict.__getitem__(self, k) for k in keep if dict.__contains__(self, k)}
        dict.clear(self)
        dict.update(self, kept)
        dict.update(self, values)


def with_betas(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters plus torch's ``betas`` pair when the algorithm has ``beta1`` and ``beta2``."""
    keys = dict(hyperparameters)
    if "beta1" in keys and "beta2" in keys:
        keys["betas"] = (keys["beta1"], keys["beta2"])
    return keys


def new_group_spec(param_group: Mapping[str, Any], names: Sequence[str], algorithm: Any, index: int) -> GroupSpec:
    """The :class:`~optbridge.spec.GroupSpec` of a torch param group given to ``add_param_group``.

    Keys other than ``params``, ``lr``, ``weight_decay`` and ``param_names`` must be the
    algorithm's hyperparameters (or torch's ``betas`` for ``beta1``/``beta2``); the
    engine checks the values (:meth:`~optbridge.engine.Engine.add_group`).

    Raises:
        SpecValueError / SpecTypeError: an unknown key, a bad ``betas``, a non-number lr.
    """
    alg_keys = set(algorithm.hyperparameters())
    betas = {"betas"} if {"beta1", "beta2"} <= alg_keys else set()
    extra = set(_GROUP_KEYS) | betas
    unknown = [k for k in param_group if k not in alg_keys | extra]
    if unknown:
        raise SpecValueError(f"add_param_group: unknown keys {unknown}; allowed: {sorted(extra - {'params'})} and "
                             f"{sorted(alg_keys)}")
    overrides = {k: scalar(v) for k, v in param_group.items() if k in alg_keys}
    if "betas" in param_group:
        pair = param_group["betas"]
        if isinstance(pair, (str, bytes)) or not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise SpecValueError(f"param_groups[{index}]['betas'] must be a pair (beta1, beta2). Received: {pair!r}")
        for name, value in zip(("beta1", "beta2"), pair):
            if name in overrides and differs(overrides[name], scalar(value)):
                raise SpecValueError(f"param_groups[{index}]: 'betas' and {name!r} disagree ({pair!r} and "
                                     f"{overrides[name]!r})")
            overrides[name] = scalar(value)
    values: dict[str, Constant] = {}
    for key in ("lr", "weight_decay"):
        if key in param_group:
            value = scalar(param_group[key])
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SpecTypeError(f"param_groups[{index}]['{key}'] must be a number. Received: {value!r:.80}")
            values[key] = Constant(float(value))
    return GroupSpec(params=list(names), lr=values.get("lr"), weight_decay=values.get("weight_decay"),
                     overrides=overrides)
