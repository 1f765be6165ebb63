"""Sharded parameters: ``DTensor`` parameters, as FSDP2's ``fully_shard`` makes them.

A parameter of a ``fully_shard``-ed module is a ``torch.distributed.tensor.DTensor``:
each process holds one shard (``p.to_local()``, dim 0 split as ``torch.chunk`` splits it,
so shards can be uneven or empty), and its gradient after the backward is a ``DTensor``
of the same placements (FSDP2's reduce-scatter). The optimizer steps such a parameter so
that every process ends with its shard of what the unsharded optimizer computes on the
whole tensor with the whole gradient:

* **local** — when the rule is elementwise (``FastPath.elementwise``: every algorithm but
  LAMB, LARS and Adafactor) the update of an element reads only that element of the
  parameter, gradient and state. The unit then runs on the local shards
  (``p.to_local()``, ``g.to_local()``, each state tensor's shard) on its usual path:
  the compiled rule or the eager one, or torch's fused kernel (below). Gradient centralization
  subtracts the mean over axes ``1..ndim−1``, which a shard along dim 0 holds whole, so
  it stays local there. Each element is computed by the same arithmetic as unsharded: the
  result is the unsharded result, bit for bit. torch's fused CPU kernels
  (``torch._fused_adam_``, ``_fused_sgd_``) are not quite elementwise: they split a
  tensor into chunks of 64 bytes' worth of elements counted from its first element, run
  vectorised multiply-adds over whole vectors and scalar arithmetic over a tensor's last
  partial vector, so an element rounds differently when a shard boundary moves it from
  the vector loop to the scalar tail (measured: one ulp on a 24-element float32 weight
  split 12 + 12). A shard whose ends do not fall on such a chunk boundary (or the
  tensor's end) therefore steps in pieces that put each element where it is in the whole
  tensor (:func:`fused_padding`): its whole chunks in place, and the elements before the
  first and after the last chunk boundary (under 16 float32 elements each) in small
  zero-padded copies. A shard that is no contiguous range (``Shard(1)``) runs the rule
  instead.
* **gathered** — when the rule reduces over a tensor (LAMB's and LARS's trust ratios
  :math:`\\lVert p\\rVert / \\lVert u\\rVert`, Adafactor's row and column means and RMS
  clipping, or centralization of a tensor sharded on another dim) each process gathers
  the whole parameter, gradient and state tensors (``DTensor.full_tensor()``, one
  all-gather each, one parameter at a time as FSDP2 gathers one module at a time), runs
  the unit on them on its usual path, and keeps its shard of the results. Every process
  computes the same whole-tensor update; the reductions are those of the unsharded run,
  in the same order, so the result is again the unsharded one bit for bit. An
  all-reduce of per-shard partial sums would move less data but sums in another order:
  it can differ from the unsharded reduction in the last bit, and that difference grows
  over steps through the trust ratio or the factored statistics. The cost: per step and
  parameter, ``2 + slots`` all-gathers of the parameter's size (FSDP2 itself does two
  all-gathers and a reduce-scatter) and the rule computed once per process.

State: a slot of the parameter's shape is a ``DTensor`` with the parameter's placements
(``torch.full_like(p)``), so ``state_dict()`` hands ``torch.distributed.checkpoint`` its
shards; a slot of another shape (Adafactor's factored ``row_var``/``col_var``) is a plain
tensor, whole and equal on every process.

Not supported, refused when the optimizer is built (:func:`check_sharded`): flat-buffer
mode (``flat=True``: a flat buffer cannot hold shards of different tensors as views),
``capturable=True``, and parameters with a ``Partial`` placement (not a parameter's
value).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeGuard

import torch

from optbridge.errors import SpecValueError, StepInputError

from .gradients import check_gradient

try:
    from torch.distributed.tensor import DTensor, Partial, Replicate, Shard
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
except ImportError:  # torch built without distributed support: no parameter can be a DTensor
    DTensor = None  # type: ignore[assignment,misc]  # is_sharded is then always False

__all__ = ["LOCAL", "GATHERED", "is_sharded", "check_sharded", "mode", "fused_padding", "gather_grads", "run_sharded",
           "local_part", "shard_like", "whole"]

#: the unit runs on each process's shards
LOCAL = "local"
#: the unit runs on the whole tensors, gathered from every process
GATHERED = "gathered"


def is_sharded(t: Any) -> TypeGuard[DTensor]:
    """Whether ``t`` is a ``DTensor``."""
    return DTensor is not None and isinstance(t, DTensor)


def check_sharded(named: Sequence[tuple[str, torch.Tensor]], *, flat: bool, capturable: bool) -> None:
    """Refuse the options and placements the sharded step does not take (module docstring).

    Raises:
        SpecValueError: naming the first sharded parameter at fault.
    """
    for name, t in named:
        if not is_sharded(t):
            continue
        if flat:
            raise SpecValueError(
                f"parameter {name!r} is a DTensor (FSDP2 / torch.distributed.tensor): flat=True cannot hold "
                f"shards as views of one buffer; build the optimizer with flat=False")
        if capturable:
            raise SpecValueError(
                f"parameter {name!r} is a DTensor (FSDP2 / torch.distributed.tensor): capturable=True does not "
                f"take sharded parameters; build the optimizer with capturable=False")
        if any(isinstance(pl, Partial) for pl in t.placements):
            raise SpecValueError(f"parameter {name!r} is a DTensor with placements {t.placements}: a Partial "
                                 f"placement is not a parameter value (Shard and Replicate are supported)")


def mode(params: Sequence[DTensor], elementwise: bool, centralize: bool) -> str:
    """:data:`LOCAL` or :data:`GATHERED` for a unit of sharded ``params`` (module docstring)."""
    if not elementwise:
        return GATHERED
    if centralize and not all(isinstance(pl, Replicate) or (isinstance(pl, Shard) and pl.dim == 0)
                              for p in params for pl in p.placements):
        return GATHERED
    return LOCAL


def fused_padding(p: DTensor) -> tuple[int, int] | None:
    """The elements to put before and after ``p``'s shard so that torch's fused CPU kernels
    step each of its elements as they step it in the whole tensor (module docstring), or
    ``None`` when the shard is no contiguous range of the whole tensor (a placement other
    than ``Shard(0)``/``Replicate``).

    The kernels count 64-byte chunks from a tensor's first element; a shard covering
    elements ``[start, end)`` of the whole tensor is padded with ``start mod c`` elements
    in front and with ``min((−end) mod c, n − end)`` behind (``c``: the elements in 64
    bytes, ``n``: the whole tensor's), so its chunks, and the final partial vector of a
    shard that the tensor's end is within a chunk of, are the whole tensor's. ``(0, 0)``:
    the shard steps as it is.
    """
    if not all(isinstance(pl, Replicate) or (isinstance(pl, Shard) and pl.dim == 0) for pl in p.placements):
        return None
    shape, offset = compute_local_shape_and_global_offset(p.shape, p.device_mesh, p.placements)
    size = math.prod(shape)
    if size == 0:
        return 0, 0
    start = offset[0] * math.prod(p.shape[1:]) if offset else 0
    end = start + size
    chunk = max(1, 64 // p.element_size())
    return start % chunk, min(-end % chunk, p.numel() - end)


def gather_grads(names: Sequence[str], params: Sequence[Any]
                 ) -> tuple[list[int] | None, list[torch.Tensor], bool]:
    """The gradients of a sharded unit, checked (the ``gather`` entry of one unit).

    Raises:
        StepInputError: a gradient that is not a ``DTensor`` of its parameter's mesh and
            placements, or of another shape, dtype or device, naming the parameter.
    """
    present: list[int] = []
    grads: list[torch.Tensor] = []
    for i, (name, p) in enumerate(zip(names, params)):
        g = p.grad
        if g is None:
            continue
        check_gradient(name, p, g)
        if not is_sharded(g) or g.device_mesh != p.device_mesh or tuple(g.placements) != tuple(p.placements):
            where = f"a DTensor with placements {tuple(g.placements)}" if is_sharded(g) else "a plain tensor"
            raise StepInputError(f"step: gradient of {name!r} is {where}; the parameter is a DTensor with "
                                 f"placements {tuple(p.placements)} on {p.device_mesh}: the gradient must be "
                                 f"sharded as the parameter")
        present.append(i)
        grads.append(g)
    return (None if len(present) == len(params) else present), grads, False


def _local(t: Any) -> Any:
    return t.to_local() if is_sharded(t) else t


def whole(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor of a ``DTensor`` (an all-gather: every process of its mesh must call
    it), a plain tensor unchanged."""
    return t.full_tensor() if is_sharded(t) else t


def local_part(full: torch.Tensor, like: DTensor) -> torch.Tensor:
    """This process's shard of ``full`` under ``like``'s mesh and placements (a view; no communication)."""
    shape, offset = compute_local_shape_and_global_offset(like.shape, like.device_mesh, like.placements)
    return full[tuple(slice(o, o + n) for o, n in zip(offset, shape))]


def shard_like(full: torch.Tensor, like: DTensor) -> DTensor:
    """``full`` (every process holds it whole) as a ``DTensor`` sharded as ``like``."""
    local = local_part(full, like).contiguous()
    return DTensor.from_local(local, like.device_mesh, like.placements, run_check=False, shape=like.shape,
                              stride=like.stride())


def _pieces(n: int, lead: int, trail: int, chunk: int) -> list[tuple[int, int, int, int]]:
    """A shard of ``n`` elements padded ``(lead, trail)`` (:func:`fused_padding`) as pieces
    ``(begin, end, lead, trail)`` that each step on their own: a head up to the first
    chunk boundary of the whole tensor (padded in front), the whole chunks after it (a
    view of the shard, unpadded) and the rest (padded behind). Only the head and the rest,
    each under one chunk, are copied."""
    head = (chunk - lead) % chunk
    if head + chunk > n:
        return [(0, n, lead, trail)]  # no whole chunk inside: one padded copy
    body = head + (n - head) // chunk * chunk
    out = [(0, head, lead, 0)] if head else []
    out.append((head, body, 0, 0))
    if body < n:
        out.append((body, n, 0, trail))
    return out


def _piece(t: torch.Tensor, begin: int, end: int, lead: int, trail: int) -> torch.Tensor:
    """Elements ``[begin, end)`` of contiguous ``t``: a view, or a copy padded with zeros."""
    flat = t.view(-1)[begin:end]
    if not lead and not trail:
        return flat
    out = t.new_zeros(lead + (end - begin) + trail)
    out[lead:lead + end - begin].copy_(flat)
    return out


def run_sharded(how: str, params: Sequence[Any], grads: Sequence[Any],
                slots: Mapping[str, Sequence[Any]],
                update: Callable[[list[torch.Tensor], list[torch.Tensor], dict[str, list[Any]]], None],
                pads: Mapping[int, tuple[int, int] | None]) -> None:
    """Run ``update(params, grads, slots)`` on a sharded unit's local shards or whole tensors.

    ``how``: :data:`LOCAL` (``update`` gets each tensor's shard; where ``pads[id(param)]``
    asks for padding, the shard's pieces of :func:`_pieces`, the padded ones copied back
    afterwards) or :data:`GATHERED` (``update`` gets the whole tensors, gathered from
    every process; afterwards each process copies its shard of the updated parameters
    and sharded state back).
    """
    if how == LOCAL:
        ps: list[torch.Tensor] = []
        gs: list[torch.Tensor] = []
        ss: dict[str, list[Any]] = {k: [] for k in slots}
        back = []
        for i, p in enumerate(params):
            local, grad = _local(p), _local(grads[i]).contiguous()
            own = {k: _local(v[i]) for k, v in slots.items()}
            lead, trail = pads.get(id(p)) or (0, 0)
            if not (lead or trail) or not all(t.is_contiguous() for t in (local, *own.values())):
                ps.append(local)
                gs.append(grad)
                for k, t in own.items():
                    ss[k].append(t)
                continue
            for begin, end, before, after in _pieces(local.numel(), lead, trail, max(1, 64 // local.element_size())):
                for target, seq in ((local, ps), *((own[k], ss[k]) for k in own)):
                    seq.append(_piece(target, begin, end, before, after))
                    if before or after:
                        back.append((target.view(-1)[begin:end], seq[-1], before))
                gs.append(_piece(grad, begin, end, before, after))
        update(ps, gs, ss)
        for view, buffer, before in back:
            view.copy_(buffer[before:before + view.numel()])
        return
    for i, p in enumerate(params):
        # one parameter at a time: at most one parameter's whole tensors live at once
        full_p = whole(p)
        own = {k: v[i] for k, v in slots.items()}
        full_slots = {k: [whole(t) if is_sharded(t) else t] for k, t in own.items()}
        update([full_p], [whole(grads[i])], full_slots)
        _local(p).copy_(local_part(full_p, p))
        for k, t in own.items():
            if is_sharded(t):
                _local(t).copy_(local_part(full_slots[k][0], t))
