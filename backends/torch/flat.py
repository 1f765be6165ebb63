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

A gradient tensor assigned by hand (``p.grad = t``), or a gradient view moved to other
memory (``p.grad.set_(t)``, ``p.grad.data = t``), is copied into the buffer and the view
re-attached. Buckets with gradient centralization, and algorithms whose rule is not
elementwise (``FastPath.elementwise``: LAMB, LARS, Adafactor), stay per-tensor. Parameters lose
non-default strides (e.g. ``channels_last``): views are contiguous.

The per-step check (:meth:`FlatBuffers.intact`) is exact: for every parameter, that its
``data_ptr`` is where flat mode put it (catches replaced ``.data``), that ``p.grad`` is
the gradient view the optimizer attached (catches ``None`` and hand-assigned gradients),
and that the view still starts where it did, contiguous and of the parameter's shape
(catches ``set_``/``.data =``/``resize_`` on it). The compiled scan
(:mod:`.hostscan`) does this in one C++ loop, about 50 ns per parameter in cache;
without it, five C-level ``map`` passes in Python do the same (about 0.5 µs per
parameter). The views are made with one ``as_strided`` call each and kept for the
optimizer's lifetime (``zero_grad()`` re-attaches the same objects). Only when the check
fails does :meth:`FlatBuffers.check` walk the parameters one by one.
"""
from __future__ import annotations

import array
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from optbridge.errors import StepInputError

from . import hostscan
from .gradients import check_gradient

__all__ = ["FlatBuffers", "flatten"]

_data_ptr = torch.Tensor.data_ptr
_grad_of = operator.attrgetter("grad")
_shape_of = operator.attrgetter("shape")
_is_contiguous = torch.Tensor.is_contiguous


def _contiguous_strides(shape: torch.Size) -> tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


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
    #: ``param_ptrs + grad_ptrs`` as native uint64 (the compiled check's table), made on first use
    _pointers: bytes | None = field(default=None, repr=False, compare=False)

    def view(self, buffer: torch.Tensor, i: int) -> torch.Tensor:
        """Parameter ``i``'s contiguous view of ``buffer`` (one tensor object, no intermediate slice)."""
        shape = self.params[i].shape
        return buffer.as_strided(shape, _contiguous_strides(shape), buffer.storage_offset() + self.offsets[i])

    def _grad_view(self, i: int) -> torch.Tensor:
        """The gradient view attached last when it still points into the buffer, else a fresh one."""
        held = self.grad_views[i] if self.grad_views else None
        if (held is not None and held.data_ptr() == self.grad_ptrs[i] and held.shape == self.params[i].shape
                and held.is_contiguous()):
            return held
        return self.view(self.grad, i)

    def attach_grads(self) -> None:
        """Point every ``.grad`` at its view of the gradient buffer (after ``set_to_none``).

        Re-attaches the views made before (no new tensor objects) unless one was moved to
        other memory.
        """
        if self.intact():
            return
        if not self._views_in_place():
            self.grad_views = tuple(self._grad_view(i) for i in range(len(self.params)))
        if all(map(operator.is_, map(_grad_of, self.params), self.grad_views)):
            return
        for p, v in zip(self.params, self.grad_views):
            if p.grad is not v:
                p.grad = v

    def intact(self) -> bool:
        """Whether every parameter's storage and every ``.grad`` object are still the buffers' views.

        The per-step fast path: one compiled scan, or five C-level passes in Python (see
        the module docstring); no Python loop body per tensor.
        """
        scan = hostscan.load()
        if scan is not None:
            if self._pointers is None:
                self._pointers = array.array("Q", self.param_ptrs + self.grad_ptrs).tobytes()
            return scan.flat_intact(self.params, self.grad_views, self._pointers, hostscan.ACCEPTED)
        return (self._views_in_place()
                and all(map(operator.is_, map(_grad_of, self.params), self.grad_views))
                and list(map(_data_ptr, self.params)) == self.param_ptrs)

    def _views_in_place(self) -> bool:
        """Whether every held gradient view still starts at its place, contiguous, of its parameter's shape."""
        views = self.grad_views
        return (list(map(_data_ptr, views)) == self.grad_ptrs and all(map(_is_contiguous, views))
                and list(map(_shape_of, views)) == list(map(_shape_of, self.params)))

    def check(self) -> None:
        """Verify the views are intact before a step; copy hand-assigned or moved gradients in.

        Validates every parameter before it copies anything, so an error leaves the
        gradient buffer as it was.
        """
        if self.intact():
            return
        moved: list[tuple[int, torch.Tensor]] = []
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
            check_gradient(self.names[i], p, g)
            if g.data_ptr() != self.grad_ptrs[i] or g.stride() != _contiguous_strides(g.shape):
                moved.append((i, g))
        storage = self.grad.untyped_storage().data_ptr()
        for i, g in moved:
            # a gradient aliasing the buffer (another parameter's view, a transposed view) is read first
            source = g.clone() if g.untyped_storage().data_ptr() == storage else g
            self.view(self.grad, i).copy_(source)
        self.attach_grads()


def flatten(names: Sequence[str], params: Sequence[torch.Tensor],
            slots: Mapping[str, list[torch.Tensor]]) -> FlatBuffers:
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
            if p.grad is not None:
                buffers.view(flat_g, i).copy_(p.grad)
            for k, lst in slots.items():
                sview = buffers.view(flat_slots[k], i)
                sview.copy_(lst[i])
                lst[i] = sview
    buffers.param_ptrs = [p.data_ptr() for p in params]
    buffers.grad_ptrs = [flat_g.data_ptr() + o * flat_g.element_size() for o in offsets]
    # the gradient views are made in one run, after the parameter and slot views, so their
    # tensor objects lie together in memory (the first pass of intact() reads them)
    buffers.attach_grads()
    return buffers
