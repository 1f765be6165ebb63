"""Torch kernel for canonical ``radam`` (op order: optbridge.algorithms.radam).

No native path: torch's RAdam has no fused kernel; the compiled path is the fast one.
"""
from __future__ import annotations

from ._common import kernel_decay, update_moments
from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical RAdam, one tensor at a time, in place."""
    for p, g, m, v in zip(params, grads, slots["exp_avg"], slots["exp_avg_sq"]):
        kernel_decay(alg.weight_decay_form, p, s)
        update_moments(alg, g, m, v, s)
        m_hat = m / s["bias_correction1"]
        if s["rectified"]:
            denom = v.sqrt()
            denom.add_(s["eps"])
            adaptive = denom.reciprocal() * s["bc2_sqrt"]
            p.sub_(((m_hat * s["lr"]) * adaptive) * s["rect"])
        else:
            p.sub_(m_hat * s["lr"])


KERNEL = TorchKernel("radam", update)
