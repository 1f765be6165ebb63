"""Torch kernel for canonical ``lars`` (op order: optbridge.algorithms.lars).

The trust-ratio step rewrites the gradients, then the torch kernel of ``alg.inner`` runs
with them and ``scalars["inner"]`` (Python numbers; torch casts each to the tensor's
dtype, as the NumPy reference does). No native path.
"""
from __future__ import annotations

import torch

from .base import TorchKernel


def _trust_scaled(alg, p: torch.Tensor, g: torch.Tensor, s) -> torch.Tensor:
    wd = s["weight_decay"]
    w_norm = (p * p).sum().sqrt()
    g_norm = (g * g).sum().sqrt()
    trust = (s["coefficient"] * w_norm) / ((w_norm * wd + g_norm) + s["epsilon"])
    if alg.use_clip:
        trust = torch.clamp(trust / s["lr"], 0.0, 1.0)
    return (p * wd + g) * trust


def update(alg, params, grads, slots, s) -> None:
    """Rewrite the gradients of a ``lars`` bucket, then update with ``alg.inner``'s kernel."""
    from ..fast_paths import fast_path  # the registry imports this module

    if s["lars"]:
        grads = [_trust_scaled(alg, p, g, s) for p, g in zip(params, grads)]
    fast_path(alg.inner.name).update(alg.inner, params, grads, slots, s["inner"])


KERNEL = TorchKernel("lars", update, elementwise=False)
