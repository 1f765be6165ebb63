"""Elementwise operations with NumPy's rounding where XLA's rewrites would change it.

XLA's algebraic simplifier replaces a division by a broadcast scalar, ``x / s``, with
``x · (1/s)``: two roundings instead of one, so about one result in eight differs from
NumPy's ``x / s`` in the last bit (measured on the centralization mean, float32). Kernels
that divide by a host scalar use :func:`divide`. It also rewrites ``x / sqrt(y)`` as
``x · rsqrt(y)``, whose reciprocal square root is not correctly rounded (measured: up to
9 float32 ulps on Adadelta, about one value in ten off in RMSProp and Adagrad); a
denominator that is a bare square root uses :func:`sqrt`.

XLA also sums in its own order; :func:`pairwise_sum` and :func:`total` add in NumPy's,
for means and norms that match the reference bit for bit.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["divide", "sqrt", "pairwise_sum", "total"]

_BLOCK = 128   # NumPy's PW_BLOCKSIZE
_LANES = 8     # accumulators of NumPy's unrolled block loop


def sqrt(x: jax.Array) -> jax.Array:
    """``√x`` correctly rounded even as a denominator (hidden from the ``x / sqrt(y)`` rewrite)."""
    return lax.optimization_barrier(jnp.sqrt(x))


def pairwise_sum(rows: jax.Array) -> jax.Array:
    """Row sums of a 2-D array in exactly NumPy's order for a contiguous reduction.

    NumPy's ``add.reduce`` over a contiguous axis (``pairwise_sum`` in
    ``numpy/_core/src/umath/loops_utils.h.src``): fewer than 8 values are added one by
    one; up to 128 values go to 8 running accumulators, combined as
    ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))``, then the remainder one by one; longer rows
    are split at ``n/2`` rounded down to a multiple of 8 and the halves' sums added.
    XLA's reductions use another order, which changes the last bit of a mean.
    """
    n = rows.shape[1]
    if n < _LANES:
        total = jnp.zeros(rows.shape[:1], rows.dtype)
        for i in range(n):
            total = total + rows[:, i]
        return total
    if n <= _BLOCK:
        acc = rows[:, :_LANES]
        end = n - n % _LANES
        for i in range(_LANES, end, _LANES):
            acc = acc + rows[:, i:i + _LANES]
        r = [acc[:, j] for j in range(_LANES)]
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for i in range(end, n):
            total = total + rows[:, i]
        return total
    half = n // 2
    half -= half % _LANES
    return pairwise_sum(rows[:, :half]) + pairwise_sum(rows[:, half:])


def divide(x: jax.Array, y: jax.Array | float) -> jax.Array:
    """``x / y`` correctly rounded, also when ``y`` is a scalar or broadcast.

    The divisor is broadcast to the result's shape behind ``lax.optimization_barrier``,
    which the simplifier cannot see through.
    """
    y = jnp.asarray(y, dtype=x.dtype)
    if y.shape != x.shape:
        y = lax.optimization_barrier(jnp.broadcast_to(y, jnp.broadcast_shapes(x.shape, y.shape)))
    return x / y


def total(x: jax.Array) -> jax.Array:
    """``np.sum(x, dtype=x.dtype)`` of a contiguous array, in NumPy's order (a 0-d array)."""
    return pairwise_sum(x.reshape(1, -1))[0]
