"""NumPy kernel for canonical ``lion`` (op order: optbridge.algorithms.lion)."""
from __future__ import annotations

import numpy as np

from ._decay import apply_kernel_decay


def lion(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the ``momentum`` slot in place (steps 0–4, each op rounded)."""
    for p, g, m in zip(params, grads, slots["momentum"]):
        t = p.dtype.type
        apply_kernel_decay(alg.weight_decay_form, p, scalars)
        c = np.multiply(m, t(scalars["beta_1"]), out=np.empty_like(m))  # an array for 0-d m too
        c += g * t(scalars["one_minus_beta_1"])
        np.sign(c, out=c)
        c *= t(scalars["lr"])
        p -= c
        m *= t(scalars["beta_2"])
        m += g * t(scalars["one_minus_beta_2"])
