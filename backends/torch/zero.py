"""ZeRO: each process keeps the optimizer state of its share of the parameters.

``torch.distributed.optim.ZeroRedundancyOptimizer`` partitions each of its param groups
over the processes and builds ``optimizer_class`` on each process's share. Two things make
an optbridge spec with several groups work there:

* the local optimizer is built with ``partition=True`` and ``names=model``: the spec's
  groups resolve over the whole model (:class:`~optbridge.engine.Engine`'s
  ``resolve_over``), so every process has the same groups and host scalars, a group
  whose parameters all live elsewhere being empty here;
* ZeRO's param groups are the spec's groups (:func:`spec_param_groups`): ZeRO keeps its
  groups and the local optimizer's one for one, and pairs their parameters by position.

:class:`ZeroRedundancyOptimizer` does both, and its ``state_dict()`` (after
``consolidate_state_dict()`` on every process, as with torch's) is the neutral optbridge
state of the whole model: the state :meth:`Optimizer.state_dict` of the unsharded model
would hold, loadable there, on any backend, or back into a ZeRO optimizer of any number of
processes (its ``load_state_dict`` gives each process its share). torch's own
``ZeroRedundancyOptimizer.state_dict()`` keeps the state tensors (by global position) but
not the engine's state (the step counter, schedules): use this class to checkpoint. Its
``load_state_dict`` would replace the local optimizer's state entries behind the
kernels' backs; the torch backend refuses that (:class:`~.units.SlotState`).

Example (each of 2 processes)::

    model = DDP(net)
    opt = ZeroRedundancyOptimizer(net, nn.Momentum([{"params": "fc.*", "lr": 0.01}, {"params": "*"}], 0.1, 0.9))
    ...
    opt.consolidate_state_dict(to=0)
    if rank == 0:
        torch.save(opt.state_dict(), "opt.pt")   # the neutral state of the whole model
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch.distributed.optim import ZeroRedundancyOptimizer as TorchZero

from optbridge.engine import Engine
from optbridge.errors import SpecTypeError, StateDictError
from optbridge.groups import ParamInfo
from optbridge.spec import OptimizerSpec

from .naming import module_roles, named_parameters
from .optimizer import Optimizer
from .state_io import check_format, neutral_form

__all__ = ["ZeroRedundancyOptimizer", "spec_param_groups"]


def _engine(spec: Any, named: list[tuple[str, torch.Tensor]], owner: Any) -> Engine:
    canonical = spec.to_canonical() if hasattr(spec, "to_canonical") else spec
    if not isinstance(canonical, OptimizerSpec):
        raise SpecTypeError(f"spec must be a dialect optimizer or an OptimizerSpec. Received: {type(spec).__name__}")
    roles = module_roles(owner) if isinstance(owner, torch.nn.Module) else {}
    return Engine(canonical, [ParamInfo(n, tuple(t.shape), roles.get(n)) for n, t in named])


def spec_param_groups(spec: Any, params: Any, names: Any = None) -> list[dict[str, Any]]:
    """One torch param group (``{"params": [tensors]}``) per group of ``spec``, resolved over
    ``params`` (a module, ``named_parameters()``, ``{name: tensor}``, or tensors with
    ``names``): the groups to give ``torch.distributed.optim.ZeroRedundancyOptimizer``
    together with ``optimizer_class=Optimizer, spec=spec, names=model, partition=True``.

    Raises:
        SpecTypeError / SpecValueError / GroupError: as :class:`Optimizer` raises them.
    """
    named = named_parameters(params, names)
    engine = _engine(spec, named, params if isinstance(params, torch.nn.Module) else names)
    tensors = dict(named)
    return [{"params": [tensors[n] for n in g.names]} for g in engine.groups]


class ZeroRedundancyOptimizer(TorchZero):
    """``torch.distributed.optim.ZeroRedundancyOptimizer`` running an optbridge spec (module
    docstring): any spec, groups included, and a ``state_dict()`` that is the neutral
    state of the whole model.

    Args:
        params: a module, ``model.named_parameters()``, ``{name: tensor}``, or tensors with ``names``.
        spec: a dialect optimizer or a canonical :class:`~optbridge.spec.OptimizerSpec`.
        names: names the tensors of ``params`` (and gives their roles, when a module).
        process_group, parameters_as_bucket_view, overlap_with_ddp: as torch's.
        **options: :class:`~optbridge.backends.torch.Optimizer`'s options (``path``, ...).
    """

    #: set by torch's ``consolidate_state_dict``: each process's local ``state_dict()``, in rank order
    _all_state_dicts: list[dict[str, Any]]

    def __init__(self, params: Any, spec: Any, *, names: Any = None, process_group: Any = None,
                 parameters_as_bucket_view: bool = False, overlap_with_ddp: bool = False, **options: Any):
        named = named_parameters(params, names)
        owner = params if isinstance(params, torch.nn.Module) else names if names is not None else dict(named)
        engine = _engine(spec, named, owner)
        tensors = dict(named)
        #: the whole model's groups and parameter order, as the unsharded optimizer has them
        self._group_names = [list(g.names) for g in engine.groups]
        self._param_names = list(engine.param_names)
        super().__init__([{"params": [tensors[n] for n in g]} for g in self._group_names], Optimizer,
                         process_group=process_group, parameters_as_bucket_view=parameters_as_bucket_view,
                         overlap_with_ddp=overlap_with_ddp, spec=spec, names=owner, partition=True, **options)

    def state_dict(self) -> dict[str, Any]:
        """The neutral optbridge state of the whole model, from the states
        :meth:`consolidate_state_dict` gathered on this process (call it on every process first).

        Raises:
            RuntimeError: no state was consolidated on this process (as torch's).
        """
        if not self._all_state_dicts:
            raise RuntimeError("Optimizer state has not been consolidated on this rank. Please call "
                               f"`consolidate_state_dict(to={self.rank})` on all ranks beforehand if you meant to "
                               "save the global state.")
        own = self._all_state_dicts[self.rank]
        state: dict[str, Any] = {}
        for local in self._all_state_dicts:
            state.update(local["state"])
        groups = [{**group, "params": list(names)} for group, names in zip(own["groups"], self._group_names)]
        return {**{k: own[k] for k in ("format", "format_version", "algorithm", "global_step", "transforms")
                   if k in own},
                "param_names": list(self._param_names), "groups": groups,
                "state": {n: state[n] for n in self._param_names if n in state}}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load the neutral state of the whole model (:meth:`state_dict`, or any optbridge
        optimizer's on the unsharded model, any backend's): each process loads its share.

        Raises:
            StateDictError: as :meth:`Optimizer.load_state_dict`, naming the path at fault.
        """
        local = self.optim
        sd = neutral_form(state_dict, self._param_names)
        check_format(sd)
        groups, state = sd.get("groups"), sd.get("state")
        if not isinstance(groups, (list, tuple)) or len(groups) != len(local.engine.groups) or \
                not all(isinstance(g, Mapping) for g in groups):
            raise StateDictError(f"groups: must be a list of {len(local.engine.groups)} group dict(s), one per group "
                                 f"of the spec. Received: {groups!r:.80}")
        if not isinstance(state, Mapping):
            raise StateDictError(f"state: must be a dict by parameter name. Received: {type(state).__name__}")
        mine = list(local.engine.param_names)
        local.load_state_dict({
            **{k: v for k, v in sd.items() if k != "param_groups"},
            "param_names": mine,
            "groups": [{**g, "params": list(own.names)} for g, own in zip(groups, local.engine.groups)],
            "state": {n: state[n] for n in mine if n in state},
        })
        for source, target in zip(local.param_groups, self.param_groups):  # as torch's _sync_param_groups
            target.update({k: v for k, v in source.items() if k != "params"})
