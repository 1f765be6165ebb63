"""Gradient pre-processing in MindSpore ``Optimizer.construct`` order, with NumPy.

0. negation (torch's ``maximize``): ``g = −g``
1. weight decay: ``g = p·wd + g`` (MindSpore ``_apply_decay``: ``AddN(p·wd, g)``)
2. gradient centralization: ``g = g − mean(g, axes 1..ndim−1)``
3. loss scale: ``g = g·(1/loss_scale)`` (MindSpore multiplies by the reciprocal)

The user's gradient arrays are never modified: the first step that applies makes a copy.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["preprocess_gradients"]


def preprocess_gradients(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    weight_decay: float,
    centralize: bool,
    grad_scale: float | None,
    negate: bool = False,
) -> list[np.ndarray]:
    """Return the pre-processed gradients of one bucket (new arrays where changed)."""
    out = [-g for g in grads] if negate else list(grads)
    if weight_decay != 0.0:
        for i, (p, g) in enumerate(zip(params, out)):
            wd = p.dtype.type(weight_decay)
            out[i] = p * wd + g
    if centralize:
        for i, g in enumerate(out):
            axes = tuple(range(1, g.ndim))
            out[i] = g - g.mean(axis=axes, keepdims=True, dtype=g.dtype)
    if grad_scale is not None:
        for i, g in enumerate(out):
            out[i] = g * g.dtype.type(grad_scale)
    return out
