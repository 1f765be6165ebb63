"""NumPy kernel for canonical ``lamb`` (op order: optbridge.algorithms.lamb)."""
from __future__ import annotations

import numpy as np


def _norm(x: np.ndarray):
    return np.sqrt(np.sum(x * x, dtype=x.dtype))


def lamb(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the moment slots in place, one trust ratio per tensor."""
    form = alg.weight_decay_form
    for i, (p, g) in enumerate(zip(params, grads)):
        t = p.dtype.type
        lr, wd = t(scalars["lr"]), t(scalars["weight_decay"])
        if form == "keras" and wd != 0:
            p -= (p * wd) * lr
        m = slots["exp_avg"][i]
        v = slots["exp_avg_sq"][i]
        m += (g - m) * t(scalars["one_minus_beta1"])
        v += (g * g - v) * t(scalars["one_minus_beta2"])
        u = (m / t(scalars["bias_correction1"])) / (np.sqrt(v / t(scalars["bias_correction2"])) + t(scalars["eps"]))
        if form == "inside" and wd != 0:
            u += wd * p
        w_norm, u_norm = _norm(p), _norm(u)
        ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else t(1.0)
        p -= (ratio * lr) * u
