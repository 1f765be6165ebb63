"""NumPy kernel for canonical ``proximal_adagrad`` (op order: optbridge.algorithms.proximal_adagrad)."""
from __future__ import annotations

import numpy as np


def proximal_adagrad(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the ``accum`` slots in place."""
    for p, g, s in zip(params, grads, slots["accum"]):
        t = p.dtype.type
        l1, l2 = t(scalars["l1"]), t(scalars["l2"])
        s += g * g
        eta = t(scalars["lr"]) / np.sqrt(s)
        v = p - g * eta
        if l1 > 0:
            p[...] = np.sign(v) * np.maximum(np.abs(v) - eta * l1, t(0.0)) / (t(1.0) + l2 * eta)
        else:
            p[...] = v / (t(1.0) + l2 * eta)
