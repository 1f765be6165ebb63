"""NumPy kernel for canonical ``nadam`` (op order: optbridge.algorithms.nadam)."""
from __future__ import annotations

import numpy as np

from ._decay import apply_kernel_decay
from .adam import update_moments


def nadam(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the moment slots in place."""
    for i, (p, g) in enumerate(zip(params, grads)):
        t = p.dtype.type
        m = slots["exp_avg"][i]
        v = slots["exp_avg_sq"][i]
        apply_kernel_decay(alg.weight_decay_form, p, scalars)
        update_moments(alg, g, m, v, scalars)
        if alg.form == "torch":
            denom = np.sqrt(v / t(scalars["bias_correction2"]))
            denom += t(scalars["eps"])
            p += t(scalars["coef_grad"]) * g / denom
            p += t(scalars["coef_exp_avg"]) * m / denom
            continue
        m_hat = (t(scalars["mu_next"]) * m) / t(scalars["one_minus_mu_product_next"])
        m_hat += (t(scalars["one_minus_mu"]) * g) / t(scalars["one_minus_mu_product"])
        denom = np.sqrt(v / t(scalars["one_minus_beta2_power"]))
        denom += t(scalars["eps"])
        p -= (m_hat * t(scalars["lr"])) / denom
