"""NumPy kernel for canonical ``rprop`` (op order: optbridge.algorithms.rprop)."""
from __future__ import annotations

import numpy as np


def rprop(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the ``prev``/``step_size`` slots in place."""
    for p, g, prev, step in zip(params, grads, slots["prev"], slots["step_size"]):
        t = p.dtype.type
        if scalars["first_step"]:
            step[...] = t(scalars["lr"])
        etaminus = t(scalars["etaminus"])
        s = np.sign(g * prev)
        factor = np.where(s > 0, t(scalars["etaplus"]), np.where(s < 0, etaminus, t(1.0))).astype(p.dtype)
        step *= factor
        np.clip(step, t(scalars["step_size_min"]), t(scalars["step_size_max"]), out=step)
        accepted = np.where(factor == etaminus, t(0.0), g).astype(p.dtype)
        p -= np.sign(accepted) * step
        prev[...] = accepted
