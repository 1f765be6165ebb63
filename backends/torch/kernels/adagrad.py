"""Torch kernel for canonical ``adagrad`` (op order: optbridge.algorithms.adagrad).

Mirrors ``backends/numpy/kernels/adagrad.py``: the three ``eps_placement`` forms and
``update_slots``, Keras's weight decay. No native path: the compiled path is the fast one.
"""
from __future__ import annotations

from ._common import kernel_decay
from .base import TorchKernel


def update(alg, params, grads, slots, s) -> None:
    """Canonical Adagrad, one tensor at a time, in place."""
    eps, clr = s["eps"], s["clr"]
    for p, g, acc in zip(params, grads, slots["sum"]):
        kernel_decay(alg.weight_decay_form, p, s)
        if alg.update_slots:
            acc.add_(g * g)
        if alg.eps_placement == "outside":
            d = acc.sqrt()
            d.add_(eps)
        elif alg.eps_placement == "inside":
            d = (acc + eps).sqrt()
        else:
            d = acc.sqrt()
        p.sub_((clr * g) / d)


KERNEL = TorchKernel("adagrad", update)
