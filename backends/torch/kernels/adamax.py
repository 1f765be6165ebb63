"""Torch kernel for canonical ``adamax`` (op order: optbridge.algorithms.adamax).

Mirrors ``backends/numpy/kernels/adamax.py``: the three ``arithmetic`` forms, both
``eps_placement`` forms and Keras's kernel-side weight decay. No native path: the
compiled path is the fast one.
"""
from __future__ import annotations

import torch

from ._common import kernel_decay, lerp_
from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical Adamax, one tensor at a time, in place."""
    arithmetic = alg.arithmetic
    beta1, omb1, eps = s["beta1"], s["one_minus_beta1"], s["eps"]
    for p, g, m, u in zip(params, grads, slots["exp_avg"], slots["exp_inf"]):
        # 0. kernel-side (Keras) weight decay
        kernel_decay(alg.weight_decay_form, p, s)
        # 1. first moment
        if arithmetic == "torch":
            lerp_(m, g, omb1, abs(1.0 - alg.beta1) < 0.5)
        elif arithmetic == "mindspore":
            m.copy_(beta1 * m + omb1 * g)
        else:
            m.add_((g - m) * omb1)
        # 2. infinity norm
        u.mul_(s["beta2"])
        if alg.eps_placement == "max":
            a = g.abs()
            a.add_(eps)
            u.copy_(torch.maximum(u, a))  # not out=: dynamo refuses a non-contiguous out (channels_last state)
            d = u
        else:
            u.copy_(torch.maximum(u, g.abs()))
            d = u + eps
        # 3. update
        if arithmetic == "torch":
            p.sub_((s["step_size"] * m) / d)
        elif arithmetic == "mindspore":
            p.sub_(s["step_size"] * (m / d))
        else:
            p.sub_((s["lr"] * m) / (s["bias_correction"] * d))


KERNEL = TorchKernel("adamax", update)
