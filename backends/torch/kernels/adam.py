"""Torch kernel for canonical ``adam`` (op order: optbridge.algorithms.adam).

Native path: torch's fused Adam/AdamW (``torch._fused_adam_`` / ``torch._fused_adamw_``)
for torch's own form — ``eps_placement="paper"``, ``power_form="pow"``,
``moment_form="torch"``, no Nesterov, coupled or decoupled weight decay — which is the
formula of ``torch.optim.Adam``/``AdamW`` (``_single_tensor_adam``). Every other form
(MindSpore's and Keras' ``ε̂`` placement, accumulated β powers, lerp moments) is compiled.
"""
from __future__ import annotations

import torch

from ._common import kernel_decay, update_moments
from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical Adam, one tensor at a time, in place."""
    nesterov = alg.nesterov and not alg.amsgrad
    for i, (p, g) in enumerate(zip(params, grads)):
        m = slots["exp_avg"][i]
        v = slots["exp_avg_sq"][i]
        kernel_decay(alg.weight_decay_form, p, s)
        update_moments(alg, g, m, v, s)
        if alg.amsgrad:
            vhat = slots["max_exp_avg_sq"][i]
            vhat.copy_(torch.maximum(vhat, v))  # not out=: dynamo refuses a non-contiguous out
            denom = vhat.sqrt()
        else:
            denom = v.sqrt()
        if alg.eps_placement == "paper":
            denom.div_(s["bc2_sqrt"])
            denom.add_(s["eps"])
            p.sub_(s["step_size"] * m / denom)
            continue
        denom.add_(s["eps"])
        numer = m * s["beta1"] + s["one_minus_beta1"] * g if nesterov else m
        p.sub_(s["step_size"] * numer / denom)


def native(alg):
    """torch's fused Adam (coupled decay) or AdamW (decoupled) for torch's own Adam form."""
    torch_form = (alg.eps_placement == "paper" and alg.power_form == "pow" and alg.moment_form == "torch"
                  and not alg.nesterov and alg.weight_decay_form in ("coupled", "decoupled"))
    if not torch_form or not hasattr(torch, "_fused_adam_"):
        return None
    decoupled = alg.weight_decay_form == "decoupled"
    steps: dict[torch.device, torch.Tensor] = {}

    def run(alg, params, grads, slots, s, negate, weight_decay) -> None:
        device = params[0].device
        step = steps.get(device)
        if step is None:
            step = steps[device] = torch.zeros((), dtype=torch.float32, device=device)
        step.fill_(s["step"])
        fused = torch._fused_adamw_ if decoupled else torch._fused_adam_
        fused(
            params, grads, slots["exp_avg"], slots["exp_avg_sq"], slots.get("max_exp_avg_sq", []),
            [step] * len(params), lr=s["lr"], beta1=alg.beta1, beta2=alg.beta2,
            weight_decay=s["weight_decay"] if decoupled else weight_decay, eps=alg.eps, amsgrad=alg.amsgrad,
            maximize=negate,
        )

    return run


KERNEL = TorchKernel("adam", update, native)
