"""Torch kernel for canonical ``adam_weight_decay`` (op order: its algorithm module).

No native path: MindSpore's AdamWeightDecay has no bias correction and applies the decay
inside the step; no torch kernel computes that.
"""
from __future__ import annotations

from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical AdamWeightDecay, one tensor at a time, in place.

    ``p·wd`` is always added: with ``wd == 0`` it adds ``+0``, which leaves every
    finite update unchanged, and keeps the compiled graph free of value branches.
    """
    omb1, omb2, eps, wd, lr = s["one_minus_beta1"], s["one_minus_beta2"], s["eps"], s["weight_decay"], s["lr"]
    for p, g, m, v in zip(params, grads, slots["exp_avg"], slots["exp_avg_sq"]):
        m.add_((g - m) * omb1)
        v.add_((g * g - v) * omb2)
        step = m / (v.sqrt() + eps)
        step.add_(wd * p)
        p.sub_(lr * step)


KERNEL = TorchKernel("adam_weight_decay", update)
