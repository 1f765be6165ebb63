"""NumPy kernel for canonical ``adadelta`` (op order: optbridge.algorithms.adadelta)."""
from __future__ import annotations

import numpy as np


def adadelta(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the ``square_avg``/``acc_delta`` slots in place."""
    for p, g, v, u in zip(params, grads, slots["square_avg"], slots["acc_delta"]):
        t = p.dtype.type
        rho, omr, eps = t(scalars["rho"]), t(scalars["one_minus_rho"]), t(scalars["eps"])
        v *= rho
        v += omr * g * g
        std = np.sqrt(v + eps)
        delta = np.sqrt(u + eps)
        delta /= std
        delta *= g
        u *= rho
        u += omr * delta * delta
        p -= t(scalars["lr"]) * delta
