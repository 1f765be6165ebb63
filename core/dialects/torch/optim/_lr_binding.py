"""The optimizer an ``optim.lr_scheduler`` scheduler acts on, seen as torch's ``Optimizer``.

A bound scheduler (``StepLR(opt, ...)``) reads and writes ``optimizer.param_groups[i]``
and ``optimizer.defaults`` as torch's code does. For an optimizer built by optbridge
(:class:`_BoundOptimizer`) each group is a view of the engine (:class:`_EngineGroup`,
reached through the optimizer's public ``engine``) whose options are the public
:class:`~.param_group.GroupValues`, the view the torch backend's ``param_groups`` use too:
nothing is copied, so the optimizer shows a scheduler's write at once. A declared
schedule runs on a private one-group ``param_groups`` (:class:`_PrivateOptimizer`).
"""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from ....engine import Engine
from ....errors import SpecTypeError, SpecValueError
from .param_group import GroupValues


class _EngineGroup(MutableMapping):
    """torch's ``param_groups[i]`` for group ``i`` of an optbridge engine, as a scheduler sees it.

    ``"lr"`` is the group's static learning rate, exact (``Engine.static_lr``: a scheduler
    multiplies it step after step, as torch does its float; a dynamic lr raises), and a
    write sets it (:meth:`~.param_group.GroupValues.write_scheduler_lr`). ``"momentum"``
    and ``"betas"`` are read and written through :class:`~.param_group.GroupValues`. Every
    other key is scheduler bookkeeping kept in the engine's ``scheduler_values`` (neutral
    state).
    """

    __slots__ = ("engine", "_values")

    def __init__(self, engine: Engine, index: int):
        self.engine = engine
        self._values = GroupValues(engine, index)

    def _hyper_keys(self) -> list[str]:
        keys = self._values.keys()
        return [k for k in ("momentum", "betas") if k in keys]

    def __getitem__(self, key: str) -> Any:
        if key == "lr":
            return self.engine.static_lr(self._values.index)
        if key in self._hyper_keys():
            return self._values.read(key)
        return self._values.runtime.scheduler_values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "lr":
            self._values.write_scheduler_lr(value)
        elif key in self._hyper_keys():
            self._values.write(key, value)
        else:
            self._values.runtime.scheduler_values[key] = value

    def __delitem__(self, key: str) -> None:
        del self._values.runtime.scheduler_values[key]

    def __iter__(self) -> Iterator[str]:
        yield "lr"
        yield from self._hyper_keys()
        yield from list(self._values.runtime.scheduler_values)

    def __len__(self) -> int:
        return 1 + len(self._hyper_keys()) + len(self._values.runtime.scheduler_values)


def _engine_of(optimizer: Any) -> Engine | None:
    """The engine of an optbridge optimizer (its public ``engine``, which every
    :class:`~optbridge.engine.OptimizerAPI` has), or ``None`` for any other object."""
    engine = getattr(optimizer, "engine", None)
    return engine if isinstance(engine, Engine) else None


class _BoundOptimizer:
    """An optbridge optimizer seen as torch's ``Optimizer``: ``param_groups`` and ``defaults``."""

    def __init__(self, owner: Any):
        engine = _engine_of(owner)
        if engine is None:
            raise SpecTypeError(f"{type(owner).__name__} has no optbridge engine")
        self.engine: Engine = engine
        self.param_groups = [_EngineGroup(self.engine, i) for i in range(len(self.engine.groups))]
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
    if _engine_of(optimizer) is not None:
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
