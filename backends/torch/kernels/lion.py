"""Torch kernel for canonical ``lion`` (op order: optbridge.algorithms.lion).

Mirrors ``backends/numpy/kernels/lion.py``. torch has no Lion of its own, so there is no
native path: ``auto`` runs the compiled single pass. ``torch.sign`` maps NaN to 0 where
NumPy, TensorFlow (Keras) and JAX keep it; step 2 keeps the NaN so a non-finite gradient
poisons the parameter on every backend alike.
"""
from __future__ import annotations

import torch

from ._common import kernel_decay
from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical Lion, one tensor at a time, in place."""
    lr = s["lr"]
    beta_1, omb1 = s["beta_1"], s["one_minus_beta_1"]
    beta_2, omb2 = s["beta_2"], s["one_minus_beta_2"]
    for p, g, m in zip(params, grads, slots["momentum"]):
        kernel_decay(alg.weight_decay_form, p, s)
        c = m * beta_1 + g * omb1
        u = torch.where(torch.isnan(c), c, torch.sign(c))
        p.sub_(lr * u)
        m.mul_(beta_2)
        m.add_(g * omb2)


KERNEL = TorchKernel("lion", update)
