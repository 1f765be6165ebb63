"""TensorFlow kernel for canonical ``asgd`` (op order: optbridge.algorithms.asgd).

TensorFlow has no fused ASGD op; the compiled group kernel follows the op order:
``p = p·decay``, ``p = p − eta·g``, then ``ax = ax + (p − ax)·mu`` while averaging
(``mu != 1``), else ``ax = p``.
"""
from __future__ import annotations

import tensorflow as tf

from .base import Kernel, flag


def update(alg, params, grads, slots, s) -> None:
    decay, eta, mu = s["decay"], s["eta"], s["mu"]
    average = flag(s["average"])
    for p, g, ax in zip(params, grads, slots["ax"]):
        new_p = p * decay
        new_p = new_p - eta * g
        p.assign(new_p)
        ax.assign(tf.cond(average, lambda: ax + (new_p - ax) * mu, lambda: tf.identity(new_p)))


KERNEL = Kernel(
    "asgd",
    update,
    jit_compile=False,
    hyperparameters=frozenset({"lambd", "alpha", "t0", "eta_mu_float32", "maximize"}),
)
