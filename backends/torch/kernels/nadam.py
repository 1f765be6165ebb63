"""Torch kernel for canonical ``nadam`` (op order: optbridge.algorithms.nadam).

No native path: torch's NAdam has no fused kernel; the compiled path is the fast one.
"""
from __future__ import annotations

from ._common import kernel_decay, update_moments
from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical NAdam, one tensor at a time, in place."""
    for p, g, m, v in zip(params, grads, slots["exp_avg"], slots["exp_avg_sq"]):
        kernel_decay(alg.weight_decay_form, p, s)
        update_moments(alg, g, m, v, s)
        if alg.form == "torch":
            denom = (v / s["bias_correction2"]).sqrt()
            denom.add_(s["eps"])
            p.add_(s["coef_grad"] * g / denom)
            p.add_(s["coef_exp_avg"] * m / denom)
            continue
        m_hat = (s["mu_next"] * m) / s["one_minus_mu_product_next"]
        m_hat.add_((s["one_minus_mu"] * g) / s["one_minus_mu_product"])
        denom = (v / s["one_minus_beta2_power"]).sqrt()
        denom.add_(s["eps"])
        p.sub_((m_hat * s["lr"]) / denom)


KERNEL = TorchKernel("nadam", update)
