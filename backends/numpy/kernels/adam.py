"""NumPy kernel for canonical ``adam`` (op order: optbridge.algorithms.adam)."""
from __future__ import annotations

import numpy as np


def adam(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the moment slots in place."""
    amsgrad = alg.amsgrad
    for i, (p, g) in enumerate(zip(params, grads)):
        t = p.dtype.type
        m = slots["exp_avg"][i]
        v = slots["exp_avg_sq"][i]
        m += (g - m) * t(scalars["one_minus_beta1"])
        v += (g * g - v) * t(scalars["one_minus_beta2"])
        if amsgrad:
            vhat = slots["max_exp_avg_sq"][i]
            np.maximum(vhat, v, out=vhat)
            denom = np.sqrt(vhat)
        else:
            denom = np.sqrt(v)
        denom += t(scalars["eps"])
        if alg.nesterov and not amsgrad:
            numer = m * t(scalars["beta1"]) + t(scalars["one_minus_beta1"]) * g
        else:
            numer = m
        p -= t(scalars["step_size"]) * numer / denom
