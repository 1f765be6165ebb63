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

from .ops import divide, pairwise_sum

__all__ = ["preprocess_gradients", "numpy_mean"]


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
