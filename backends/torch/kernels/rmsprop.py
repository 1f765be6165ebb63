"""Torch kernel for canonical ``rmsprop`` (op order: optbridge.algorithms.rmsprop).

Mirrors ``backends/numpy/kernels/rmsprop.py`` op for op for the three ``arithmetic``
forms, both ``eps_placement`` and ``lr_placement`` forms, ``centered``, momentum and Keras's
weight decay.
No native path: the compiled path is the fast one.
"""
from __future__ import annotations

import torch

from ._common import kernel_decay, lerp_
from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical RMSProp, one tensor at a time, in place."""
    arithmetic = alg.arithmetic
    use_momentum = alg.momentum > 0
    rho, omr, eps, lr = s["alpha"], s["one_minus_alpha"], s["eps"], s["lr"]
    for i, (p, g) in enumerate(zip(params, grads)):
        v = slots["square_avg"][i]
        # 0. Keras weight decay
        kernel_decay(alg.weight_decay_form, p, s)
        # 1. mean square
        if arithmetic == "torch":
            v.mul_(rho)
            v.add_((omr * g) * g)
        elif arithmetic == "mindspore":
            v.add_((g * g - v) * omr)
        else:
            v.copy_(rho * v + omr * (g * g))
        # 2. centered: mean gradient
        if alg.centered:
            ga = slots["grad_avg"][i]
            if arithmetic == "torch":
                lerp_(ga, g, omr, abs(1.0 - alg.alpha) < 0.5)
            elif arithmetic == "mindspore":
                ga.add_((g - ga) * omr)
            else:
                ga.copy_(rho * ga + omr * g)
            sq = v - ga * ga
        else:
            sq = v
        # 3. denominator
        keep = None
        if alg.eps_placement == "outside":
            d = sq.sqrt()
            d.add_(eps)
        else:
            inner = sq + eps
            if alg.centered and arithmetic == "mindspore":
                keep = inner > 0
            d = inner.sqrt()
        # 4. update
        if alg.lr_placement == "outside":
            if use_momentum:
                b = slots["momentum_buffer"][i]
                b.mul_(s["momentum"])
                b.add_(g / d)
                p.sub_(lr * b)
            else:
                p.sub_((lr * g) / d)
            continue
        u = (g * lr) / d
        if keep is not None:
            u = torch.where(keep, u, torch.zeros_like(u))
        if use_momentum:
            b = slots["momentum_buffer"][i]
            if keep is None:
                b.mul_(s["momentum"])
                b.add_(u)
                p.sub_(b)
            else:
                b.copy_(torch.where(keep, b * s["momentum"] + u, b))
                p.copy_(torch.where(keep, p - b, p))
        else:
            p.sub_(u)


KERNEL = TorchKernel("rmsprop", update)
