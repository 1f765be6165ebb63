"""NumPy kernel for canonical ``adam_weight_decay`` (op order: its algorithm module)."""
from __future__ import annotations

import numpy as np


def adam_weight_decay(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the moment slots in place."""
    for i, (p, g) in enumerate(zip(params, grads)):
        t = p.dtype.type
        m = slots["exp_avg"][i]
        v = slots["exp_avg_sq"][i]
        m += (g - m) * t(scalars["one_minus_beta1"])
        v += (g * g - v) * t(scalars["one_minus_beta2"])
        update = m / (np.sqrt(v) + t(scalars["eps"]))
        wd = t(scalars["weight_decay"])
        if wd != 0:
            update += wd * p
        p -= t(scalars["lr"]) * update
