"""Units: the parameters of one engine bucket that share device and dtype, with their state.

A unit is what one kernel call updates. :func:`allocate_state` makes the state tensors
the engine's slots call for; :func:`build_units` groups each bucket's parameters into
units and prepares each unit's path: torch's fused kernel (``native``), a flat buffer
(``flat``), or the compiled/eager rule (see :mod:`optbridge.backends.torch.dispatch`).
"""
from __future__ import annotations

import array
from collections import defaultdict
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from optbridge.engine import Engine
from optbridge.errors import StateDictError

from .flat import FlatBuffers, flatten
from .paths import same_strides
from .sharded import GATHERED, LOCAL, fused_padding, is_sharded
from .sharded import mode as sharding_mode

__all__ = ["Unit", "SlotState", "LOW_DTYPES", "allocate_state", "build_units", "state_layouts"]

#: parameter dtypes whose state and arithmetic are float32 (``state_dtype=torch.float32``)
LOW_DTYPES = (torch.float16, torch.bfloat16)
#: tensor types whose ``*_like`` factories make plain tensors (a subclass may dispatch them elsewhere)
_PLAIN = (torch.Tensor, torch.nn.Parameter)


@dataclass
class Unit:
    """The parameters of one engine bucket that share device and dtype."""

    names: tuple[str, ...]
    params: list[torch.Tensor]
    slots: dict[str, list[torch.Tensor]]
    compute_dtype: torch.dtype | None
    device: torch.device
    algorithm: Any
    numel: int = 0
    flat: FlatBuffers | None = None
    #: flat mode: the one-tensor lists every step passes (built once)
    flat_grads: list[torch.Tensor] = field(default_factory=list)
    flat_params: list[torch.Tensor] = field(default_factory=list)
    flat_slots: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    native: Callable[..., None] | None = None
    #: with ``native``: the state tensors' layout per parameter for the gradient scan
    #: (:func:`state_layouts`), recorded when the unit is built
    layouts: bytes = b""
    compiled: dict[Any, Callable[..., None]] = field(default_factory=dict)
    #: ``(step variant, first index of the chunk)`` -> compiled function, for steps where every
    #: parameter has a gradient (the chunk's layout is then fixed; no per-tensor key each step)
    chunks: dict[Any, Callable[..., None]] = field(default_factory=dict)
    #: :func:`~optbridge.backends.torch.paths.trace_key` -> the algorithm its graph is traced with
    traced: dict[Any, Any] = field(default_factory=dict)
    #: ``None``: plain tensors; DTensor parameters: how they step, :data:`~.sharded.LOCAL` (on
    #: their shards) or :data:`~.sharded.GATHERED` (on their whole tensors), :mod:`.sharded`
    sharding: str | None = None
    #: :data:`~.sharded.LOCAL` units on torch's fused kernels: ``id(parameter)`` -> the padding its
    #: shard steps with (:func:`~.sharded.fused_padding`)
    pads: dict[int, Any] = field(default_factory=dict)


class SlotState(defaultdict[Any, Any]):
    """``Optimizer.state``: torch's ``defaultdict(dict)`` whose entries, once made, are never
    replaced — the units hold each entry's tensors, so a new entry would go unseen by the
    kernels. ``load_state_dict`` copies into the tensors instead.

    Raises:
        StateDictError: on assigning a new entry to a parameter that has one (what
            ``torch.distributed.optim.ZeroRedundancyOptimizer.load_state_dict`` does).
    """

    def __setitem__(self, key: Any, value: Any) -> None:
        if key in self and dict.__getitem__(self, key) is not value:
            raise StateDictError(
                "Optimizer.state[param] = ... would replace the state tensors the torch backend's kernels hold; "
                "load state with load_state_dict (torch.distributed.optim.ZeroRedundancyOptimizer.load_state_dict "
                "assigns entries: use optbridge.backends.torch.zero.ZeroRedundancyOptimizer, whose load_state_dict "
                "loads each process's share)")
        super().__setitem__(key, value)


def state_layouts(slots: Mapping[str, Sequence[torch.Tensor]]) -> bytes:
    """The compiled gradient scan's record of each parameter's state layout (``b""``: no state).

    Per parameter, native int64 ``ndim, sizes..., strides...`` of its slots, or ``-1``
    when they differ from one another (that parameter then never passes the scan). The
    scan compares each parameter with it every step (a replaced ``p.data`` is caught
    there); the record itself stays true because the optimizer writes its state tensors
    in place only (``load_state_dict`` copies into them), so the scan need not read them.
    """
    lists = list(slots.values())
    if not lists:
        return b""
    words: list[int] = []
    for tensors in zip(*lists):
        first = tensors[0]
        if all(t.shape == first.shape and same_strides(t, first) for t in tensors[1:]):
            words += [first.dim(), *first.shape, *first.stride()]
        else:
            words.append(-1)
    return array.array("q", words).tobytes()


def allocate_state(engine: Engine, named: Mapping[str, torch.Tensor],
                   state: MutableMapping[torch.Tensor, dict[str, torch.Tensor]],
                   state_dtype: torch.dtype | None, names: Sequence[str] | None = None) -> None:
    """Create the missing slot tensors of ``names`` (default: every trained parameter) in ``state``.

    Each slot starts at its initial fill, in the parameter's dtype (``state_dtype`` for
    float16/bfloat16 parameters) and memory layout.
    """
    expected = engine.slot_layouts()
    for name in expected if names is None else names:
        p = named[name]
        dtype = state_dtype if p.dtype in LOW_DTYPES else p.dtype
        entry = state[p]
        for slot, layout in expected[name].items():
            if slot not in entry:
                # in the parameter's memory layout where it is dense (torch.optim's zeros_like(p,
                # memory_format=torch.preserve_format)): the fused kernels need it (paths.fused_layout)
                # (a DTensor parameter's: a DTensor of its placements, sharded.py)
                entry[slot] = (torch.full_like(p.detach(), layout.init, dtype=dtype)
                               if (type(p) in _PLAIN or is_sharded(p)) and layout.shape == tuple(p.shape)
                               else torch.full(layout.shape, layout.init, dtype=dtype, device=p.device))


def build_units(engine: Engine, named: Mapping[str, torch.Tensor],
                state: MutableMapping[torch.Tensor, dict[str, torch.Tensor]], kernels: Mapping[str, Any], *,
                path: str, flat: bool, state_dtype: torch.dtype | None,
                groups: Sequence[int] | None = None) -> list[list[Unit]]:
    """The units of every bucket of ``groups`` (default: every group), in plan order.

    In flat mode a unit's parameters, gradients and slots move into one buffer each and
    ``state`` is pointed at the views into it.
    """
    out: list[list[Unit]] = []
    for gi in range(len(engine.groups)) if groups is None else groups:
        group = engine.groups[gi]
        for bucket in group.buckets:
            by_key: dict[tuple, list[str]] = {}
            kernel = kernels[group.algorithm.name]
            for n in bucket.names:
                p = named[n]
                # DTensor parameters apart (on one mesh: in the same order on every process); those
                # stepped on their shards: the ones torch's fused kernels compute exactly apart
                sharding = None
                if is_sharded(p):
                    sharding = sharding_mode([p], kernel.elementwise, bucket.centralize)
                    if sharding == LOCAL and fused_padding(p) is None:
                        sharding = "rule"  # a shard that is no range of the whole tensor
                by_key.setdefault((p.device, p.dtype, sharding), []).append(n)
            units = []
            slot_names = [s.name for s in group.algorithm.slots()]
            for (device, dtype, sharding), unit_names in by_key.items():
                params = [named[n] for n in unit_names]
                # None where a parameter lacks the slot (a factored statistic: Engine.slot_layouts)
                slots: dict[str, list[Any]] = {s: [state[p].get(s) for p in params] for s in slot_names}
                compute = state_dtype if dtype in LOW_DTYPES else None
                unit = Unit(tuple(unit_names), params, slots, compute, device, group.algorithm,
                            sum(p.numel() for p in params))
                if sharding is not None:
                    unit.sharding = GATHERED if sharding == GATHERED else LOCAL
                if path in ("auto", "native") and compute is None and sharding != "rule":
                    unit.native = kernel.native_for(group.algorithm, path)
                if sharding == LOCAL and unit.native is not None:
                    unit.pads = {id(p): fused_padding(p) for p in params if is_sharded(p)}
                if flat and sharding is None and not bucket.centralize and kernel.elementwise:
                    unit.flat = flatten(unit_names, params, slots)
                    unit.flat_grads, unit.flat_params = [unit.flat.grad], [unit.flat.param]
                    unit.flat_slots = {k: [v] for k, v in unit.flat.slots.items()}
                    for i, p in enumerate(params):
                        for s in slot_names:
                            state[p][s] = slots[s][i]
                if unit.native is not None and unit.flat is None:
                    unit.layouts = state_layouts(slots)
                units.append(unit)
            out.append(units)
    return out
