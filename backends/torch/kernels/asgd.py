"""Torch kernel for canonical ``asgd`` (op order: optbridge.algorithms.asgd).

No native path: torch has no fused ASGD kernel and its foreach form makes one pass per
op, so the compiled path is the fast one.
"""
from __future__ import annotations

from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical ASGD, one tensor at a time, in place."""
    decay, eta, mu = s["decay"], s["eta"], s["mu"]
    for p, g, ax in zip(params, grads, slots["ax"]):
        p.mul_(decay)
        p.sub_(eta * g)
        if s["average"]:
            ax.add_((p - ax) * mu)
        else:
            ax.copy_(p)


KERNEL = TorchKernel("asgd", update)
