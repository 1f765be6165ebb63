"""JAX kernel for canonical ``proximal_adagrad`` (op order: ``optbridge.algorithms.proximal_adagrad``)."""
from __future__ import annotations

import jax.numpy as jnp

from ..ops import sqrt


def proximal_adagrad(alg, params, grads, slots, scalars):
    """Adagrad with a proximal l1/l2 step; returns ``(params, {"accum"})``."""
    l1, l2 = scalars["l1"], scalars["l2"]
    zero, one = jnp.zeros((), l1.dtype), jnp.ones((), l1.dtype)
    new_params, accums = [], []
    for p, g, s in zip(params, grads, slots["accum"]):
        s = s + g * g
        eta = scalars["lr"] / sqrt(s)
        v = p - g * eta
        shrunk = jnp.sign(v) * jnp.maximum(jnp.abs(v) - eta * l1, zero) / (one + l2 * eta)
        new_params.append(jnp.where(l1 > 0, shrunk, v / (one + l2 * eta)))
        accums.append(s)
    return new_params, {"accum": accums}
