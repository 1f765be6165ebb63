"""Torch kernel for canonical ``proximal_adagrad`` (op order: optbridge.algorithms.proximal_adagrad).

The NumPy reference branches on ``l1 > 0``; here the soft-threshold form always runs:
with ``l1 = 0``, ``sign(v)·max(|v|, 0)`` is exactly ``v`` (up to the sign of a zero).
No native path: torch has no proximal Adagrad.
"""
from __future__ import annotations

import torch

from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical proximal Adagrad, one tensor at a time, in place."""
    l1, l2 = s["l1"], s["l2"]
    for p, g, acc in zip(params, grads, slots["accum"]):
        acc.add_(g * g)
        eta = s["lr"] / acc.sqrt()
        v = p - g * eta
        p.copy_(torch.sign(v) * torch.clamp_min(v.abs() - eta * l1, 0.0) / (1.0 + l2 * eta))


KERNEL = TorchKernel("proximal_adagrad", update)
