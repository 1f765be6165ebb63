"""JAX kernel for canonical ``lamb`` (op order: ``optbridge.algorithms.lamb``)."""
from __future__ import annotations

import jax.numpy as jnp

from ..ops import div as divide, total


def lamb(alg, params, grads, slots, scalars):
    """LAMB: Adam's direction scaled by one trust ratio ``‖p‖/‖u‖`` per tensor."""
    form = alg.weight_decay_form
    lr, wd = scalars["lr"], scalars["weight_decay"]
    new_params, ms, vs = [], [], []
    for p, g, m, v in zip(params, grads, slots["exp_avg"], slots["exp_avg_sq"]):
        if form == "keras":
            p = jnp.where(wd != 0, p - (p * wd) * lr, p)
        m = m + (g - m) * scalars["one_minus_beta1"]
        v = v + (g * g - v) * scalars["one_minus_beta2"]
        u = divide(m, scalars["bias_correction1"]) / (
            jnp.sqrt(divide(v, scalars["bias_correction2"])) + scalars["eps"])
        if form == "inside":
            u = jnp.where(wd != 0, u + wd * p, u)
        w_norm, u_norm = jnp.sqrt(total(p * p)), jnp.sqrt(total(u * u))
        ratio = jnp.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, jnp.ones((), p.dtype))
        new_params.append(p - (ratio * lr) * u)
        ms.append(m)
        vs.append(v)
    return new_params, {"exp_avg": ms, "exp_avg_sq": vs}
