"""NumPy kernel for canonical ``adadelta`` (op order: optbridge.algorithms.adadelta)."""
from __future__ import annotations

import numpy as np

from ._decay import apply_kernel_decay


def adadelta(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the ``square_avg``/``acc_delta`` slots in place."""
    for p, g, v, u in zip(params, grads, slots["square_avg"], slots["acc_delta"]):
        t = p.dtype.type
        rho, omr, eps = t(scalars["rho"]), t(scalars["one_minus_rho"]), t(scalars["eps"])
        apply_kernel_decay(alg.weight_decay_form, p, scalars)
        if alg.arithmetic == "keras":
            v[...] = rho * v + omr * (g * g)
            delta = (np.sqrt(u + eps) * g) / np.sqrt(v + eps)
            u[...] = rho * u + omr * (delta * delta)
            p -= t(scalars["lr"]) * delta
            continue
        v *= rho
        v += omr * g * g
        std = np.sqrt(v + eps)
        delta = np.sqrt(u + eps)
        delta /= std
        delta *= g
        u *= rho
        u += omr * delta * delta
        p -= t(scalars["lr"]) * delta
