"""Gathering gradients: each unit's ``.grad`` tensors, checked before any update runs.

The common case — every gradient present and matching its parameter — is one compiled
scan per unit (:mod:`optbridge.backends.torch.hostscan`; a Python scan where it is
unavailable); anything else takes a per-parameter loop that names the parameter at fault.
"""
from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping, Sequence

import torch

from . import hostscan
from .gradients import check_gradient
from .sharded import gather_grads
from .units import Unit

__all__ = ["Gathered", "gather", "all_contiguous"]

#: per unit: the indices of the parameters with a gradient (``None``: all), their gradients,
#: and whether every tensor of a fused unit was found in one layout
Gathered = tuple[list[int] | None, list[torch.Tensor], bool]

_grad_of = operator.attrgetter("grad")
#: what a gradient must share with its parameter (the layout excludes sparse gradients)
_metadata = operator.attrgetter("shape", "dtype", "device", "layout")
_is_contiguous = torch.Tensor.is_contiguous


def all_contiguous(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor],
                   slots: Mapping[str, Sequence[torch.Tensor]]) -> bool:
    """Whether every parameter, gradient and slot is contiguous (the Python scan's layout check:
    contiguous tensors of one shape share their strides wherever they matter)."""
    return all(all(map(_is_contiguous, ts)) for ts in (params, grads, *slots.values()))


def gather(unit_rows: Sequence[Sequence[Unit]]) -> list[list[Gathered]]:
    """Each unit's gradients, which parameters have one, and whether the layouts are checked.

    Validates before any update. For a unit on torch's fused kernel the scan also checks
    the memory layouts (:func:`~optbridge.backends.torch.paths.fused_layout`); the third
    entry says it found them all alike, else the dispatch sorts the tensors out one by one.

    Raises:
        StepInputError: a gradient of another shape, dtype, device or layout, naming the parameter.
    """
    scan = hostscan.load()
    out = []
    for units in unit_rows:
        row: list[Gathered] = []
        for unit in units:
            if unit.flat is not None:
                unit.flat.check()
                row.append((None, unit.flat_grads, True))  # one contiguous buffer each
                continue
            if unit.sharding is not None:
                row.append(gather_grads(unit.names, unit.params))
                continue
            native = unit.native is not None
            if scan is not None:
                grads = scan.dense_grads(unit.params, hostscan.ACCEPTED, unit.layouts if native else None)
            else:
                grads = list(map(_grad_of, unit.params))
                if not (all(map(operator.is_not, grads, itertools.repeat(None)))
                        and list(map(_metadata, grads)) == list(map(_metadata, unit.params))
                        and (not native or all_contiguous(unit.params, grads, unit.slots))):
                    grads = None
            if grads is not None:
                # every gradient present, dense, and of its parameter's shape, dtype and
                # device (and, for a fused unit, every tensor of one index laid out alike)
                row.append((None, grads, True))
                continue
            present: list[int] = []
            grads = []
            for i, p in enumerate(unit.params):
                g = p.grad
                if g is None:
                    continue
                check_gradient(unit.names[i], p, g)
                present.append(i)
                grads.append(g)
            row.append((None if len(present) == len(unit.params) else present, grads, not native))
        out.append(row)
    return out
