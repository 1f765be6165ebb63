"""JAX kernel for canonical ``adam`` (op order: ``optbridge.algorithms.adam``)."""
from __future__ import annotations

import jax.numpy as jnp


def adam(alg, params, grads, slots, scalars):
    """Adam with the ε-hat placement, AMSGrad and Nesterov variants; returns ``(params, slots)``."""
    one_minus_beta1, one_minus_beta2 = scalars["one_minus_beta1"], scalars["one_minus_beta2"]
    eps, step_size = scalars["eps"], scalars["step_size"]
    out = {name: [] for name in slots}
    new_params = []
    for i, (p, g) in enumerate(zip(params, grads)):
        m = slots["exp_avg"][i]
        v = slots["exp_avg_sq"][i]
        m = m + (g - m) * one_minus_beta1
        v = v + (g * g - v) * one_minus_beta2
        if alg.amsgrad:
            vhat = jnp.maximum(slots["max_exp_avg_sq"][i], v)
            out["max_exp_avg_sq"].append(vhat)
            denom = jnp.sqrt(vhat) + eps
        else:
            denom = jnp.sqrt(v) + eps
        numer = m * scalars["beta1"] + one_minus_beta1 * g if alg.nesterov and not alg.amsgrad else m
        new_params.append(p - step_size * numer / denom)
        out["exp_avg"].append(m)
        out["exp_avg_sq"].append(v)
    return new_params, out
