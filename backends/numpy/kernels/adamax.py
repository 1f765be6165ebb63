"""NumPy kernel for canonical ``adamax`` (op order: optbridge.algorithms.adamax)."""
from __future__ import annotations

import numpy as np

from ._decay import apply_kernel_decay
from ._ops import torch_lerp_


def adamax(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the ``exp_avg``/``exp_inf`` slots in place."""
    arithmetic = alg.arithmetic
    for p, g, m, u in zip(params, grads, slots["exp_avg"], slots["exp_inf"]):
        t = p.dtype.type
        beta1, omb1 = t(scalars["beta1"]), t(scalars["one_minus_beta1"])
        eps = t(scalars["eps"])
        # 0. kernel-side (Keras) weight decay
        apply_kernel_decay(alg.weight_decay_form, p, scalars)
        # 1. first moment
        if arithmetic == "torch":
            torch_lerp_(m, g, scalars["one_minus_beta1"])
        elif arithmetic == "mindspore":
            m[...] = beta1 * m + omb1 * g
        else:
            m += (g - m) * omb1
        # 2. infinity norm
        u *= t(scalars["beta2"])
        if alg.eps_placement == "max":
            a = np.abs(g)
            a += eps
            np.maximum(u, a, out=u)
            d = u
        else:
            np.maximum(u, np.abs(g), out=u)
            d = u + eps
        # 3. update
        if arithmetic == "torch":
            p -= t(scalars["step_size"]) * m / d
        elif arithmetic == "mindspore":
            p -= t(scalars["step_size"]) * (m / d)
        else:
            p -= t(scalars["lr"]) * m / (t(scalars["bias_correction"]) * d)
