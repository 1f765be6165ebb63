"""JAX kernel for canonical ``ftrl`` (op order: ``optbridge.algorithms.ftrl``).

``power_precision="float64"`` (MindSpore's CPU kernel raises the accumulators to
``−lr_power`` in double) computes the powers in float64, which JAX has only with
``jax_enable_x64``; without it the powers are taken in the parameter's dtype.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from ..ops import div as divide
from .decay import kernel_decay


def _power(x, exponent, precision: str):
    if precision == "float64" and jax.config.jax_enable_x64:
        return jnp.power(x.astype(jnp.float64), exponent.astype(jnp.float64)).astype(x.dtype)
    return jnp.power(x, exponent)


def ftrl(alg, params, grads, slots, scalars):
    """FTRL-proximal with l1, l2 and l2 shrinkage; returns ``(params, {"accum", "linear"})``."""
    signed = alg.l1_sign == "signed"
    lr, power, l1 = scalars["lr"], scalars["neg_lr_power"], scalars["l1"]
    shrinkage = scalars["two_l2_shrinkage"]
    new_params, accums, linears = [], [], []
    for p, g, n, u in zip(params, grads, slots["accum"], slots["linear"]):
        p = kernel_decay(alg.weight_decay_form, p, scalars)
        n_new = n + g * g
        a_old = _power(n, power, alg.power_precision)
        a_new = _power(n_new, power, alg.power_precision)
        g_s = jnp.where(shrinkage != 0, g + shrinkage * p, g)
        u = u + (g_s - divide(a_new - a_old, lr) * p)
        s = jnp.sign(u) * l1 if signed else l1
        w = (s - u) / (divide(a_new, lr) + scalars["two_l2"])
        new_params.append(jnp.where(jnp.abs(u) > l1, w, jnp.zeros((), p.dtype)))
        accums.append(n_new)
        linears.append(u)
    return new_params, {"accum": accums, "linear": linears}
