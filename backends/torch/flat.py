"""Flat-buffer mode: a bucket's parameters, gradients and state as views of one buffer each.

With ``Optimizer(..., flat=True)`` every bucket (the parameters of one group sharing
pre-processing flags, device and dtype) gets one contiguous buffer for the parameters,
one for the gradients and one per state slot. Each parameter's ``.data``, its ``.grad``
and its state tensors are re-pointed at views of those buffers, so one kernel call
updates the whole bucket; autograd accumulates into the gradient views in place,
``model.state_dict()`` and ``model.load_state_dict()`` read and write the views, and
DDP copies its reduced buckets into ``.grad`` in place.

What flat mode forbids (checked every step, with an error naming the parameter):

* replacing ``p.data`` (``model.to(...)``, ``.half()``, re-assigning a parameter) after
  the optimizer is built — build the optimizer after moving the model;
* ``p.grad = None``: ``zero_grad()`` zeros the gradient buffer in place whatever
  ``set_to_none`` says, and every parameter of a flat bucket is stepped every step (a
  parameter that got no gradient steps with a zero gradient, unlike torch's skip).

A gradient tensor assigned by hand (``p.grad = t``) is copied into the buffer and the
view re-attached. Buckets with gradient centralization, and algorithms whose kernel is
not elementwise (``TorchKernel.elementwise``: LAMB, LARS), stay per-tensor. Parameters
lose non-default strides (e.g. ``channels_last``): views are contiguous.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from optbridge.errors import StepInputError

__all__ = ["FlatBuffers", "flatten"]

_data_ptr = torch.Tensor.data_ptr
_grad_of = operator.attrgetter("grad")


@dataclass
class FlatBuffers:
    """One bucket's buffers and where each parameter sits in them."""

    names: tuple[str, ...]
    params: tuple[torch.Tensor, ...]
    offsets: tuple[int, ...]
    param: torch.Tensor
    grad: torch.Tensor
    slots: dict[str, torch.Tensor]
    param_ptrs: list[int]
    grad_ptrs: list[int]
    grad_views: tuple[torch.Tensor, ...] = ()

    def view(self, buffer: torch.Tensor, i: int) -> torch.Tensor:
        p = self.params[i]
        return buffer[self.offsets[i]:self.offsets[i] + p.numel()].view(p.shape)

    def attach_grads(self) -> None:
        """Point every ``.grad`` at its view of the gradient buffer (after ``set_to_none``)."""
        for i, p in enumerate(self.params):
            if p.grad is None or p.grad.data_ptr() != self.grad_ptrs[i]:
                p.grad = self.view(self.grad, i)
        self.grad_views = tuple(p.grad for p in self.params)

    def intact(self) -> bool:
        """Whether every parameter's storage and every ``.grad`` object are still the buffers' views.

        The per-step fast path: C-level passes over the tensors (``data_ptr`` of each
        parameter, identity of each ``.grad`` with the view attached last, ``data_ptr`` of
        those views, which catches ``p.grad.set_(...)``), no Python loop body per tensor.
        """
        return (list(map(_data_ptr, self.params)) == self.param_ptrs
                and all(map(operator.is_, map(_grad_of, self.params), self.grad_views))
                and list(map(_data_ptr, self.grad_views)) == self.grad_ptrs)

    def check(self) -> None:
        """Verify the views are intact before a step; copy hand-assigned gradients in."""
        if self.intact():
            return
        for i, p in enumerate(self.params):
            if p.data_ptr() != self.param_ptrs[i]:
                raise StepInputError(
                    f"flat mode: parameter {self.names[i]!r} no longer lives in the optimizer's flat buffer "
                    f"(its .data was replaced, e.g. by model.to() or .half()); build the optimizer after moving "
                    f"the model")
            g = p.grad
            if g is None:
                raise StepInputError(
                    f"flat mode: parameter {self.names[i]!r} has .grad None; flat mode steps every parameter of "
                    f"a bucket, use optimizer.zero_grad() (it zeros the gradient buffer in place)")
            if g.data_ptr() != self.grad_ptrs[i]:
                if g.shape != p.shape:
                    raise StepInputError(
                        f"step: gradient of {self.names[i]!r} has shape {tuple(g.shape)}, parameter has "
                        f"{tuple(p.shape)}")
                view = self.view(self.grad, i)
                view.copy_(g)
                p.grad = view
        self.grad_views = tuple(p.grad for p in self.params)


def flatten(names: Sequence[str], params: Sequence[torch.Tensor],
            slots: Mapping[str, Sequence[torch.Tensor]]) -> FlatBuffers:
    """Move one bucket's parameters, gradients and slots into flat buffers (values kept).

    ``slots`` lists are updated in place to hold the views.
    """
    first = params[0]
    offsets, total = [], 0
    for p in params:
        offsets.append(total)
        total += p.numel()
    flat_p = torch.empty(total, dtype=first.dtype, device=first.device)
    flat_g = torch.zeros(total, dtype=first.dtype, device=first.device)
    flat_slots = {k: torch.empty(total, dtype=v[0].dtype, device=first.device) for k, v in slots.items()}
    buffers = FlatBuffers(tuple(names), tuple(params), tuple(offsets), flat_p, flat_g, flat_slots, [], [])
    with torch.no_grad():
        for i, p in enumerate(params):
            view = buffers.view(flat_p, i)
            view.copy_(p)
            p.data = view
            gview = buffers.view(flat_g, i)
            if p.grad is not None:
                gview.copy_(p.grad)
            p.grad = gview
            for k, lst in slots.items():
                sview = buffers.view(flat_slots[k], i)
                sview.copy_(lst[i])
                lst[i] = sview
    buffers.param_ptrs = [p.data_ptr() for p in params]
    buffers.grad_ptrs = [p.grad.data_ptr() for p in params]
    buffers.grad_views = tuple(p.grad for p in params)
    return buffers
