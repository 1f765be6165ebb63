"""Torch kernel for canonical ``lamb`` (op order: optbridge.algorithms.lamb).

Norms are full reductions (``torch.linalg.vector_norm``-free ``sqrt(sum(x·x))`` as the
reference writes them); their summation order differs from NumPy's pairwise sum, so
float32 trust ratios can differ in the last bits. Decay steps with ``wd = 0`` run and
leave finite values unchanged. No native path.
"""
from __future__ import annotations

import torch

from .base import TorchKernel


def _norm(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum().sqrt()


def update(alg, params, grads, slots, s) -> None:
    """Canonical LAMB, one trust ratio per tensor, in place."""
    form = alg.weight_decay_form
    lr, wd = s["lr"], s["weight_decay"]
    for p, g, m, v in zip(params, grads, slots["exp_avg"], slots["exp_avg_sq"]):
        if form == "keras":
            p.sub_((p * wd) * lr)
        m.add_((g - m) * s["one_minus_beta1"])
        v.add_((g * g - v) * s["one_minus_beta2"])
        u = (m / s["bias_correction1"]) / ((v / s["bias_correction2"]).sqrt() + s["eps"])
        if form == "inside":
            u.add_(wd * p)
        w_norm, u_norm = _norm(p), _norm(u)
        ratio = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, torch.ones_like(w_norm))
        p.sub_((ratio * lr) * u)


KERNEL = TorchKernel("lamb", update, elementwise=False)
