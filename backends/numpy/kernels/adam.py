"""NumPy kernel for canonical ``adam`` (op order: optbridge.algorithms.adam)."""
from __future__ import annotations

import numpy as np

from ._decay import apply_kernel_decay


def lerp_(m: np.ndarray, g: np.ndarray, w) -> None:
    """torch's ``m.lerp_(g, w)`` with separate roundings: ``m + w·(g − m)`` for ``w < 0.5``,
    else ``g − (g − m)·(1 − w)`` (``1 − w`` in the array's dtype)."""
    t = m.dtype.type
    w = t(w)
    if abs(w) < t(0.5):
        m += w * (g - m)
    else:
        np.subtract(g, (g - m) * (t(1.0) - w), out=m)


def update_moments(alg, g: np.ndarray, m: np.ndarray, v: np.ndarray, scalars) -> None:
    """Steps 1–2 of adam/nadam/radam: the first and second moments in place."""
    t = g.dtype.type
    if alg.moment_form == "torch":
        lerp_(m, g, scalars["one_minus_beta1"])
        v *= t(scalars["beta2"])
        v += (t(scalars["one_minus_beta2"]) * g) * g
    else:
        m += (g - m) * t(scalars["one_minus_beta1"])
        v += (g * g - v) * t(scalars["one_minus_beta2"])


def adam(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the moment slots in place."""
    amsgrad = alg.amsgrad
    for i, (p, g) in enumerate(zip(params, grads)):
        t = p.dtype.type
        m = slots["exp_avg"][i]
        v = slots["exp_avg_sq"][i]
        apply_kernel_decay(alg.weight_decay_form, p, scalars)
        update_moments(alg, g, m, v, scalars)
        if amsgrad:
            vhat = slots["max_exp_avg_sq"][i]
            np.maximum(vhat, v, out=vhat)
            denom = np.sqrt(vhat)
        else:
            denom = np.sqrt(v)
        if alg.eps_placement == "paper":
            denom /= t(scalars["bc2_sqrt"])
            denom += t(scalars["eps"])
            p -= t(scalars["step_size"]) * m / denom
            continue
        denom += t(scalars["eps"])
        if alg.nesterov and not amsgrad:
            numer = m * t(scalars["beta1"]) + t(scalars["one_minus_beta1"]) * g
        else:
            numer = m
        p -= t(scalars["step_size"]) * numer / denom
