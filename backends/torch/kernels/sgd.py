"""Torch kernel for canonical ``sgd`` (op order: optbridge.algorithms.sgd).

Native path: torch's fused SGD (``torch._fused_sgd_``; the formula of
``torch.optim.SGD``: first step ``b = g``, later ``b = b·μ + (1−dampening)·g``, update
``g + μ·b`` with Nesterov, else ``b``) whenever the form is torch's: ``momentum_form ==
"buffer"``, coupled weight decay, and ``nesterov_form == "torch"`` or no Nesterov. It
also applies ``maximize`` (negation) and coupled weight decay ``g + wd·p``, in the
canonical order. MindSpore's ``"scaled"`` Nesterov and Keras' momentum form are compiled.
"""
from __future__ import annotations

import torch

from ._common import kernel_decay
from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical SGD, one tensor at a time, in place."""
    lr = s["lr"]
    if alg.momentum == 0.0:
        for p, g in zip(params, grads):
            kernel_decay(alg.weight_decay_form, p, s)
            p.sub_(lr * g)
        return
    mu = s["momentum"]
    for p, g, b in zip(params, grads, slots["momentum_buffer"]):
        kernel_decay(alg.weight_decay_form, p, s)
        if alg.momentum_form == "keras":
            b.mul_(mu)
            b.sub_(g * lr)
            if alg.nesterov:
                p.add_(b * mu - g * lr)
            else:
                p.add_(b)
            continue
        if s["first_step"]:
            b.copy_(g)
        else:
            b.mul_(mu)
            b.add_(s["one_minus_dampening"] * g)  # exactly g when dampening is 0
        if not alg.nesterov:
            p.sub_(lr * b)
        elif alg.nesterov_form == "scaled":
            p.sub_(g * lr + b * mu * lr)
        else:
            p.sub_(lr * (g + mu * b))


def native(alg):
    """torch's fused SGD when the formula is torch's (every form but MindSpore's scaled Nesterov)."""
    if alg.momentum_form != "buffer" or alg.weight_decay_form != "coupled":
        return None
    if alg.nesterov and alg.nesterov_form != "torch":
        return None
    if not hasattr(torch, "_fused_sgd_"):
        return None

    def run(alg, params, grads, slots, s, negate, weight_decay) -> None:
        # the host scalars, not the hyperparameters: a float32-precision spec rounds them
        buffers = slots["momentum_buffer"] if alg.momentum != 0.0 else []
        torch._fused_sgd_(
            params, grads, buffers, weight_decay=weight_decay, momentum=s["momentum"], lr=s["lr"],
            dampening=1.0 - s["one_minus_dampening"], nesterov=alg.nesterov, maximize=negate,
            is_first_step=bool(s["first_step"]),
        )

    return run


KERNEL = TorchKernel("sgd", update, native)
