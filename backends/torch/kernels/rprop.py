"""Torch kernel for canonical ``rprop`` (op order: optbridge.algorithms.rprop).

Mirrors ``backends/numpy/kernels/rprop.py``. ``first_step`` is a Python flag (the step
sizes start at ``lr``). No native path: the compiled path is the fast one.
"""
from __future__ import annotations

import torch

from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical Rprop, one tensor at a time, in place."""
    etaplus, etaminus = s["etaplus"], s["etaminus"]
    for p, g, prev, step in zip(params, grads, slots["prev"], slots["step_size"]):
        if s["first_step"]:
            step.fill_(s["lr"])
        sign = torch.sign(g * prev)
        one = torch.ones_like(g)
        factor = torch.where(sign > 0, etaplus * one, torch.where(sign < 0, etaminus * one, one))
        step.mul_(factor)
        step.clamp_(s["step_size_min"], s["step_size_max"])  # not out=: dynamo refuses a non-contiguous out
        accepted = torch.where(factor == etaminus, torch.zeros_like(g), g)
        p.sub_(torch.sign(accepted) * step)
        prev.copy_(accepted)


KERNEL = TorchKernel("rprop", update)
