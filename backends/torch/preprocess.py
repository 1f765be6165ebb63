"""Gradient pre-processing in MindSpore ``Optimizer.construct`` order, with torch.

0. negation (torch's ``maximize``): ``g = −g``
1. weight decay: ``g = p·wd + g``
2. gradient centralization: ``g = g − mean(g, dims 1..ndim−1)``
3. loss scale: ``g = g·(1/loss_scale)``

The same order as the NumPy reference (``optbridge.backends.numpy.preprocess``). The
user's gradient tensors are never modified: each step that applies makes a new tensor.
``weight_decay`` and ``grad_scale`` are 0-d tensors (or ``None`` to skip the step).
"""
from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["preprocess_gradients"]


def preprocess_gradients(
    params: Sequence[torch.Tensor],
    grads: Sequence[torch.Tensor],
    negate: bool,
    weight_decay: torch.Tensor | None,
    centralize: bool,
    grad_scale: torch.Tensor | None,
) -> list[torch.Tensor]:
    """Return the pre-processed gradients of one bucket (new tensors where changed)."""
    out = [-g for g in grads] if negate else list(grads)
    if weight_decay is not None:
        out = [p * weight_decay + g for p, g in zip(params, out)]
    if centralize:
        out = [g - g.mean(dim=tuple(range(1, g.dim())), keepdim=True) for g in out]
    if grad_scale is not None:
        out = [g * grad_scale for g in out]
    return out
