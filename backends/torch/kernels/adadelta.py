"""Torch kernel for canonical ``adadelta`` (op order: optbridge.algorithms.adadelta).

Mirrors ``backends/numpy/kernels/adadelta.py``. No native path: the compiled path is
the fast one.
"""
from __future__ import annotations

from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical Adadelta, one tensor at a time, in place."""
    rho, omr, eps, lr = s["rho"], s["one_minus_rho"], s["eps"], s["lr"]
    for p, g, v, u in zip(params, grads, slots["square_avg"], slots["acc_delta"]):
        v.mul_(rho)
        v.add_((omr * g) * g)
        std = (v + eps).sqrt()
        delta = (u + eps).sqrt()
        delta.div_(std)
        delta.mul_(g)
        u.mul_(rho)
        u.add_((omr * delta) * delta)
        p.sub_(lr * delta)


KERNEL = TorchKernel("adadelta", update)
