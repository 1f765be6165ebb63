"""Torch kernel for canonical ``adadelta`` (op order: optbridge.algorithms.adadelta).

Mirrors ``backends/numpy/kernels/adadelta.py`` (torch's and Keras's arithmetic, Keras's weight decay). No native path: the compiled path is
the fast one.
"""
from __future__ import annotations

from ._common import kernel_decay
from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical Adadelta, one tensor at a time, in place."""
    rho, omr, eps, lr = s["rho"], s["one_minus_rho"], s["eps"], s["lr"]
    for p, g, v, u in zip(params, grads, slots["square_avg"], slots["acc_delta"]):
        kernel_decay(alg.weight_decay_form, p, s)
        if alg.arithmetic == "keras":
            v.copy_(rho * v + omr * (g * g))
            delta = ((u + eps).sqrt() * g) / (v + eps).sqrt()
            u.copy_(rho * u + omr * (delta * delta))
            p.sub_(lr * delta)
            continue
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
