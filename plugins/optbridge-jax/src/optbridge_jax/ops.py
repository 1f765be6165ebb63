"""Elementwise operations with NumPy's rounding where XLA's rewrites would change it.

XLA's algebraic simplifier replaces a division by a broadcast scalar, ``x / s``, with
``x · (1/s)``: two roundings instead of one, so about one result in eight differs from
NumPy's ``x / s`` in the last bit (measured on the centralization mean, float32). Kernels
that divide by a host scalar use :func:`divide`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["divide"]


def divide(x: jax.Array, y: jax.Array | float) -> jax.Array:
    """``x / y`` correctly rounded, also when ``y`` is a scalar or broadcast.

    The divisor is broadcast to the result's shape behind ``lax.optimization_barrier``,
    which the simplifier cannot see through.
    """
    y = jnp.asarray(y, dtype=x.dtype)
    if y.shape != x.shape:
        y = lax.optimization_barrier(jnp.broadcast_to(y, jnp.broadcast_shapes(x.shape, y.shape)))
    return x / y
