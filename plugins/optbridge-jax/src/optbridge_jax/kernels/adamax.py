"""JAX kernel for canonical ``adamax`` (op order: ``optbridge.algorithms.adamax``)."""
from __future__ import annotations

import jax.numpy as jnp

from .adam import lerp
from .decay import kernel_decay


def adamax(alg, params, grads, slots, scalars):
    """AdaMax in torch's, MindSpore's or Keras' arithmetic; returns ``(params, {"exp_avg", "exp_inf"})``."""
    arithmetic = alg.arithmetic
    beta1, omb1, eps = scalars["beta1"], scalars["one_minus_beta1"], scalars["eps"]
    new_params, ms, us = [], [], []
    for p, g, m, u in zip(params, grads, slots["exp_avg"], slots["exp_inf"]):
        p = kernel_decay(alg.weight_decay_form, p, scalars)
        if arithmetic == "torch":
            m = lerp(m, g, omb1)
        elif arithmetic == "mindspore":
            m = beta1 * m + omb1 * g
        else:
            m = m + (g - m) * omb1
        u = u * scalars["beta2"]
        if alg.eps_placement == "max":
            u = jnp.maximum(u, jnp.abs(g) + eps)
            d = u
        else:
            u = jnp.maximum(u, jnp.abs(g))
            d = u + eps
        if arithmetic == "torch":
            p = p - scalars["step_size"] * m / d
        elif arithmetic == "mindspore":
            p = p - scalars["step_size"] * (m / d)
        else:
            p = p - scalars["lr"] * m / (scalars["bias_correction"] * d)
        new_params.append(p)
        ms.append(m)
        us.append(u)
    return new_params, {"exp_avg": ms, "exp_inf": us}
