"""JAX kernel for canonical ``lion`` (op order: ``optbridge.algorithms.lion``)."""
from __future__ import annotations

import jax.numpy as jnp

from .decay import kernel_decay


def sign(c):
    """``np.sign``'s values: ``jnp.sign`` keeps the sign of ``-0.0``, NumPy (and TensorFlow) give ``+0``."""
    return jnp.where(c == 0, jnp.zeros_like(c), jnp.sign(c))


def lion(alg, params, grads, slots, scalars):
    """Lion with the decoupled or Keras weight decay; returns ``(params, {"momentum"})``."""
    lr = scalars["lr"]
    beta_1, omb1 = scalars["beta_1"], scalars["one_minus_beta_1"]
    beta_2, omb2 = scalars["beta_2"], scalars["one_minus_beta_2"]
    new_params, moments = [], []
    for p, g, m in zip(params, grads, slots["momentum"]):
        p = kernel_decay(alg.weight_decay_form, p, scalars)
        u = sign(m * beta_1 + g * omb1)
        new_params.append(p - lr * u)
        moments.append(m * beta_2 + g * omb2)
    return new_params, {"momentum": moments}
