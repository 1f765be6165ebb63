"""JAX kernel for canonical ``adagrad`` (op order: ``optbridge.algorithms.adagrad``)."""
from __future__ import annotations

import jax.numpy as jnp

from ..ops import sqrt
from .decay import kernel_decay


def adagrad(alg, params, grads, slots, scalars):
    """Adagrad with ε outside, inside or absent; returns ``(params, {"sum"})``."""
    eps, clr = scalars["eps"], scalars["clr"]
    new_params, sums = [], []
    for p, g, s in zip(params, grads, slots["sum"]):
        p = kernel_decay(alg.weight_decay_form, p, scalars)
        if alg.update_slots:
            s = s + g * g
        if alg.eps_placement == "outside":
            d = jnp.sqrt(s) + eps
        elif alg.eps_placement == "inside":
            d = sqrt(s + eps)
        else:
            d = sqrt(s)
        new_params.append(p - clr * g / d)
        sums.append(s)
    return new_params, {"sum": sums}
