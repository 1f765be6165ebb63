"""NumPy kernel for canonical ``lars`` (op order: optbridge.algorithms.lars).

The trust-ratio step rewrites the gradients, then the NumPy kernel of ``alg.inner`` runs
with them and ``scalars["inner"]``.
"""
from __future__ import annotations

import numpy as np


def _trust_scaled(alg, p: np.ndarray, g: np.ndarray, scalars) -> np.ndarray:
    t = p.dtype.type
    wd = t(scalars["weight_decay"])
    w_norm = np.sqrt(np.sum(p * p, dtype=p.dtype))
    g_norm = np.sqrt(np.sum(g * g, dtype=p.dtype))
    trust = (t(scalars["coefficient"]) * w_norm) / ((w_norm * wd + g_norm) + t(scalars["epsilon"]))
    if alg.use_clip:
        trust = max(min(trust / t(scalars["lr"]), t(1.0)), t(0.0))
    return (p * wd + g) * trust


def lars(alg, params, grads, slots, scalars) -> None:
    """Rewrite the gradients of a ``lars`` bucket, then update with ``alg.inner``'s kernel."""
    from . import KERNELS  # the registry imports this module

    if scalars["lars"]:
        grads = [_trust_scaled(alg, p, g, scalars) for p, g in zip(params, grads)]
    KERNELS[alg.inner.name](alg.inner, params, grads, slots, scalars["inner"])
