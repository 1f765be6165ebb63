"""NumPy kernel for canonical ``rmsprop`` (op order: optbridge.algorithms.rmsprop)."""
from __future__ import annotations

import numpy as np

from ._decay import apply_kernel_decay
from ._ops import torch_lerp_


def rmsprop(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the ``square_avg``/``grad_avg``/``momentum_buffer`` slots in place."""
    arithmetic = alg.arithmetic
    use_momentum = alg.momentum > 0
    for i, (p, g) in enumerate(zip(params, grads)):
        t = p.dtype.type
        rho, omr = t(scalars["alpha"]), t(scalars["one_minus_alpha"])
        eps, lr = t(scalars["eps"]), t(scalars["lr"])
        v = slots["square_avg"][i]
        # 0. Keras weight decay
        apply_kernel_decay(alg.weight_decay_form, p, scalars)
        # 1. mean square
        if arithmetic == "torch":
            v *= rho
            v += omr * g * g
        elif arithmetic == "mindspore":
            v += (g * g - v) * omr
        else:
            v[...] = rho * v + omr * (g * g)
        # 2. centered: mean gradient
        if alg.centered:
            ga = slots["grad_avg"][i]
            if arithmetic == "torch":
                torch_lerp_(ga, g, scalars["one_minus_alpha"])
            elif arithmetic == "mindspore":
                ga += (g - ga) * omr
            else:
                ga[...] = rho * ga + omr * g
            s = v - ga * ga
        else:
            s = v
        # 3. denominator
        if alg.eps_placement == "outside":
            d = np.sqrt(s)
            d += eps
            keep = None
        else:
            inner = s + eps
            keep = inner > 0 if (alg.centered and arithmetic == "mindspore") else None
            d = np.sqrt(inner)
        # 4. update
        if alg.lr_placement == "outside":
            if use_momentum:
                b = slots["momentum_buffer"][i]
                b *= t(scalars["momentum"])
                b += g / d
                p -= lr * b
            else:
                p -= lr * g / d
            continue
        u = g * lr / d
        if keep is not None:
            u = np.where(keep, u, t(0.0))
        if use_momentum:
            b = slots["momentum_buffer"][i]
            if keep is None:
                b *= t(scalars["momentum"])
                b += u
            else:
                b[...] = np.where(keep, b * t(scalars["momentum"]) + u, b)
            p[...] = np.where(keep, p - b, p) if keep is not None else p - b
        else:
            p -= u
