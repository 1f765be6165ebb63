"""Gradient pre-processing in MindSpore ``Optimizer.construct`` order, with jax.numpy.

The order every backend follows (``optbridge.engine.BucketStep``):

0. negation (torch's ``maximize``): ``g = −g``
1. weight decay: ``g = p·wd + g`` (MindSpore ``_apply_decay``: ``AddN(p·wd, g)``)
2. gradient centralization: ``g = g − mean(g, axes 1..ndim−1)``, the mean summed in
   NumPy's own order (:func:`pairwise_sum`) so the result is bitwise the reference's
3. loss scale: ``g = g·(1/loss_scale)`` (MindSpore multiplies by the reciprocal)

Pure: called inside the jitted bucket step (:mod:`optbridge_jax.step`), whose switches
decide at trace time which of the steps run; ``weight_decay`` and ``grad_scale`` are
arrays of the parameters' dtype.
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

from .ops import divide

__all__ = ["preprocess_gradients", "pairwise_sum", "numpy_mean"]

_BLOCK = 128   # NumPy's PW_BLOCKSIZE
_LANES = 8     # accumulators of NumPy's unrolled block loop


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


def numpy_mean(g: jax.Array) -> jax.Array:
    """``g.mean(axis=(1, ..., ndim−1), keepdims=True, dtype=g.dtype)`` bit for bit as NumPy computes it."""
    rows = g.reshape(g.shape[0], -1)
    count = rows.shape[1]
    mean = divide(pairwise_sum(rows), count)
    return mean.reshape((g.shape[0],) + (1,) * (g.ndim - 1))


def preprocess_gradients(
    params: Sequence[jax.Array],
    grads: Sequence[jax.Array],
    weight_decay: jax.Array | None,
    centralize: bool,
    grad_scale: jax.Array | None,
    negate: bool,
) -> list[jax.Array]:
    """The pre-processed gradients of one bucket (``None`` switches a step off)."""
    out = [-g for g in grads] if negate else list(grads)
    if weight_decay is not None:
        out = [p * weight_decay + g for p, g in zip(params, out)]
    if centralize:
        out = [g - numpy_mean(g) for g in out]
    if grad_scale is not None:
        out = [g * grad_scale for g in out]
    return out
