"""NumPy kernel for canonical ``ftrl`` (op order: optbridge.algorithms.ftrl)."""
from __future__ import annotations

import numpy as np

from ._decay import apply_kernel_decay


def ftrl(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the ``accum``/``linear`` slots in place."""
    signed = alg.l1_sign == "signed"
    for p, g, n, u in zip(params, grads, slots["accum"], slots["linear"]):
        t = p.dtype.type
        apply_kernel_decay(alg.weight_decay_form, p, scalars)
        lr = t(scalars["lr"])
        power = t(scalars["neg_lr_power"])
        l1 = t(scalars["l1"])
        n_new = n + g * g
        if alg.power_precision == "float64":
            a_old = np.power(n.astype(np.float64), np.float64(power)).astype(p.dtype)
            a_new = np.power(n_new.astype(np.float64), np.float64(power)).astype(p.dtype)
        else:
            a_old = np.power(n, power)
            a_new = np.power(n_new, power)
        g_s = g + t(scalars["two_l2_shrinkage"]) * p if scalars["two_l2_shrinkage"] != 0 else g
        u += g_s - ((a_new - a_old) / lr) * p
        s = np.sign(u) * l1 if signed else l1
        w = (s - u) / (a_new / lr + t(scalars["two_l2"]))
        p[...] = np.where(np.abs(u) > l1, w, t(0.0))
        n[...] = n_new
