"""JAX kernel for canonical ``adadelta`` (op order: ``optbridge.algorithms.adadelta``)."""
from __future__ import annotations

import jax.numpy as jnp

from ..ops import sqrt
from .decay import kernel_decay


def adadelta(alg, params, grads, slots, scalars):
    """Adadelta; returns ``(params, {"square_avg", "acc_delta"})``."""
    rho, omr, eps = scalars["rho"], scalars["one_minus_rho"], scalars["eps"]
    new_params, vs, us = [], [], []
    for p, g, v, u in zip(params, grads, slots["square_avg"], slots["acc_delta"]):
        p = kernel_decay(alg.weight_decay_form, p, scalars)
        if alg.arithmetic == "keras":
            v = rho * v + omr * (g * g)
            delta = (jnp.sqrt(u + eps) * g) / sqrt(v + eps)
            u = rho * u + omr * (delta * delta)
            new_params.append(p - scalars["lr"] * delta)
            vs.append(v)
            us.append(u)
            continue
        v = v * rho + omr * g * g
        std = sqrt(v + eps)
        delta = jnp.sqrt(u + eps) / std * g
        u = u * rho + omr * delta * delta
        new_params.append(p - scalars["lr"] * delta)
        vs.append(v)
        us.append(u)
    return new_params, {"square_avg": vs, "acc_delta": us}
