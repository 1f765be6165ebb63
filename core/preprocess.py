"""Gradient pre-processing, written once over the ops namespace (DESIGN.md sections 3 and 4).

MindSpore ``Optimizer.construct`` order, which every backend follows (the engine's
:class:`~optbridge.engine.BucketStep` says which steps run for a bucket):

0. negation (torch's ``maximize``): ``g = −g`` (``torch.optim._functional``: ``grad = -grad``
   comes before the coupled decay);
1. coupled weight decay: ``g = p·wd + g`` (MindSpore ``_apply_decay``: ``AddN(p·wd, g)``);
2. gradient centralization: ``g = g − mean(g, axes 1..ndim−1)`` (MindSpore
   ``_grad_centralization``; the bucket holds only eligible tensors);
3. loss scale: ``g = g·(1/loss_scale)`` (MindSpore multiplies by the reciprocal).

The user's gradient arrays are never written: each step that applies makes a new array.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["preprocess_gradients"]


def preprocess_gradients(
    ops: Any,
    params: Sequence[Any],
    grads: Sequence[Any],
    *,
    negate: bool,
    weight_decay: Any,
    centralize: bool,
    grad_scale: Any,
) -> list[Any]:
    """Return one bucket's pre-processed gradients.

    Args:
        ops: the backend's ops namespace.
        params, grads: the bucket's arrays, in the same order.
        negate: step 0 runs.
        weight_decay: step 1's ``wd`` as the backend's scalar, or ``None`` to skip it.
        centralize: step 2 runs.
        grad_scale: step 3's ``1/loss_scale`` as the backend's scalar, or ``None``.
    """
    out = [-g for g in grads] if negate else list(grads)
    if weight_decay is not None:
        out = [p * weight_decay + g for p, g in zip(params, out)]
    if centralize:
        out = [g - ops.mean_axes(g, tuple(range(1, len(ops.shape_of(g))))) for g in out]
    if grad_scale is not None:
        out = [g * grad_scale for g in out]
    return out
