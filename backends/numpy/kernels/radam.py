"""NumPy kernel for canonical ``radam`` (op order: optbridge.algorithms.radam)."""
from __future__ import annotations

import numpy as np

from ._decay import apply_kernel_decay
from .adam import update_moments


def radam(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the moment slots in place."""
    for i, (p, g) in enumerate(zip(params, grads)):
        t = p.dtype.type
        m = slots["exp_avg"][i]
        v = slots["exp_avg_sq"][i]
        apply_kernel_decay(alg.weight_decay_form, p, scalars)
        update_moments(alg, g, m, v, scalars)
        m_hat = m / t(scalars["bias_correction1"])
        if scalars["rectified"]:
            denom = np.sqrt(v)
            denom += t(scalars["eps"])
            adaptive = np.reciprocal(denom) * t(scalars["bc2_sqrt"])
            p -= ((m_hat * t(scalars["lr"])) * adaptive) * t(scalars["rect"])
        else:
            p -= m_hat * t(scalars["lr"])
