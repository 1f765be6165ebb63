"""JAX kernel for canonical ``nadam`` (op order: ``optbridge.algorithms.nadam``)."""
from __future__ import annotations

import jax.numpy as jnp

from ..ops import div as divide
from .adam import update_moments
from .decay import kernel_decay


def nadam(alg, params, grads, slots, scalars):
    """NAdam in torch's or Keras' form; returns ``(params, slots)``."""
    new_params, ms, vs = [], [], []
    for p, g, m, v in zip(params, grads, slots["exp_avg"], slots["exp_avg_sq"]):
        p = kernel_decay(alg.weight_decay_form, p, scalars)
        m, v = update_moments(alg, g, m, v, scalars)
        if alg.form == "torch":
            denom = jnp.sqrt(divide(v, scalars["bias_correction2"])) + scalars["eps"]
            p = p + scalars["coef_grad"] * g / denom
            p = p + scalars["coef_exp_avg"] * m / denom
        else:
            m_hat = divide(scalars["mu_next"] * m, scalars["one_minus_mu_product_next"])
            m_hat = m_hat + divide(scalars["one_minus_mu"] * g, scalars["one_minus_mu_product"])
            denom = jnp.sqrt(divide(v, scalars["one_minus_beta2_power"])) + scalars["eps"]
            p = p - (m_hat * scalars["lr"]) / denom
        new_params.append(p)
        ms.append(m)
        vs.append(v)
    return new_params, {"exp_avg": ms, "exp_avg_sq": vs}
