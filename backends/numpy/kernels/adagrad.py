"""NumPy kernel for canonical ``adagrad`` (op order: optbridge.algorithms.adagrad)."""
from __future__ import annotations

import numpy as np

from ._decay import apply_kernel_decay


def adagrad(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the ``sum`` slots in place."""
    for p, g, s in zip(params, grads, slots["sum"]):
        t = p.dtype.type
        eps = t(scalars["eps"])
        apply_kernel_decay(alg.weight_decay_form, p, scalars)
        if alg.update_slots:
            s += g * g
        if alg.eps_placement == "outside":
            d = np.sqrt(s)
            d += eps
        elif alg.eps_placement == "inside":
            d = np.sqrt(s + eps)
        else:
            d = np.sqrt(s)
        p -= t(scalars["clr"]) * g / d
