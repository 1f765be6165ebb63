"""Torch kernel for canonical ``sgd`` (op order: optbridge.algorithms.sgd).

Native path: torch's fused SGD (``torch._fused_sgd_``; the same formula as
``torch.optim.SGD``: first step ``b = g``, later ``b = b·μ + (1−dampening)·g``, update
``g + μ·b`` with Nesterov, else ``b``) whenever ``nesterov_form == "torch"`` or Nesterov
is off; it also applies ``maximize`` (negation) and coupled weight decay ``g + wd·p``
in the canonical order. MindSpore's ``"scaled"`` Nesterov form has no torch kernel and is compiled.
"""
from __future__ import annotations

import torch

from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical SGD, one tensor at a time, in place."""
    lr = s["lr"]
    if alg.momentum == 0.0:
        for p, g in zip(params, grads):
            p.sub_(lr * g)
        return
    mu = s["momentum"]
    for p, g, b in zip(params, grads, slots["momentum_buffer"]):
        if s["first_step"]:
            b.copy_(g)
        else:
            b.mul_(mu)
            b.add_(g if alg.dampening == 0.0 else s["one_minus_dampening"] * g)
        if not alg.nesterov:
            p.sub_(lr * b)
        elif alg.nesterov_form == "scaled":
            p.sub_(g * lr + b * mu * lr)
        else:
            p.sub_(lr * (g + mu * b))


def native(alg):
    """torch's fused SGD when the formula is torch's (every form but MindSpore's scaled Nesterov)."""
    if alg.nesterov and alg.nesterov_form != "torch":
        return None
    if not hasattr(torch, "_fused_sgd_"):
        return None

    def run(params, grads, slots, s, negate, weight_decay) -> None:
        # the host scalars, not the hyperparameters: a float32-precision spec rounds them
        buffers = slots["momentum_buffer"] if alg.momentum != 0.0 else []
        torch._fused_sgd_(
            params, grads, buffers, weight_decay=weight_decay, momentum=s["momentum"], lr=s["lr"],
            dampening=1.0 - s["one_minus_dampening"], nesterov=alg.nesterov, maximize=negate,
            is_first_step=bool(s["first_step"]),
        )

    return run


KERNEL = TorchKernel("sgd", update, native)
