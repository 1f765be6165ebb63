"""Torch kernel for canonical ``ftrl`` (op order: optbridge.algorithms.ftrl).

The NumPy reference skips ``g + two_l2_shrinkage·p`` when the shrinkage is 0; here it
always runs (adding ``0·p`` leaves every finite gradient unchanged). No native path.
"""
from __future__ import annotations

import torch

from ._common import kernel_decay
from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical FTRL, one tensor at a time, in place."""
    signed = alg.l1_sign == "signed"
    lr, power, l1 = s["lr"], s["neg_lr_power"], s["l1"]
    for p, g, n, u in zip(params, grads, slots["accum"], slots["linear"]):
        kernel_decay(alg.weight_decay_form, p, s)
        n_new = n + g * g
        if alg.power_precision == "float64":
            wide = power.to(torch.float64)
            a_old = n.to(torch.float64).pow(wide).to(p.dtype)
            a_new = n_new.to(torch.float64).pow(wide).to(p.dtype)
        else:
            a_old = n.pow(power)
            a_new = n_new.pow(power)
        g_s = g + s["two_l2_shrinkage"] * p
        u.add_(g_s - ((a_new - a_old) / lr) * p)
        threshold = torch.sign(u) * l1 if signed else l1
        w = (threshold - u) / (a_new / lr + s["two_l2"])
        p.copy_(torch.where(u.abs() > l1, w, torch.zeros_like(w)))
        n.copy_(n_new)


KERNEL = TorchKernel("ftrl", update)
