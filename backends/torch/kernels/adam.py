"""Torch kernel for canonical ``adam`` (op order: optbridge.algorithms.adam).

No native path for the forms canonical ``adam`` has today (MindSpore/Keras ``ε̂``
placement with accumulated β powers): torch's fused Adam adds ε to the bias-corrected
``√v`` and updates ``v`` as ``β₂·v + (1−β₂)·g²``, a different formula.
"""
from __future__ import annotations

import torch

from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical Adam, one tensor at a time, in place."""
    omb1, omb2, eps, step_size = s["one_minus_beta1"], s["one_minus_beta2"], s["eps"], s["step_size"]
    nesterov = alg.nesterov and not alg.amsgrad
    for i, (p, g) in enumerate(zip(params, grads)):
        m = slots["exp_avg"][i]
        v = slots["exp_avg_sq"][i]
        m.add_((g - m) * omb1)
        v.add_((g * g - v) * omb2)
        if alg.amsgrad:
            vhat = slots["max_exp_avg_sq"][i]
            torch.maximum(vhat, v, out=vhat)
            denom = vhat.sqrt()
        else:
            denom = v.sqrt()
        denom.add_(eps)
        numer = m * s["beta1"] + omb1 * g if nesterov else m
        p.sub_(step_size * numer / denom)


KERNEL = TorchKernel("adam", update)
