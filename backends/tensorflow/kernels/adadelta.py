"""TensorFlow kernel for canonical ``adadelta`` (op order: optbridge.algorithms.adadelta).

``v = v·ρ + (1−ρ)·g·g``; ``δ = (√(u + ε) / √(v + ε))·g``; ``u = u·ρ + (1−ρ)·δ·δ``;
``p −= lr·δ``.
"""
from __future__ import annotations

import tensorflow as tf

from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    rho, omr, eps, lr = s["rho"], s["one_minus_rho"], s["eps"], s["lr"]
    for p, g, v, u in zip(params, grads, slots["square_avg"], slots["acc_delta"]):
        v_new = v * rho + omr * g * g
        v.assign(v_new)
        delta = tf.sqrt(u + eps) / tf.sqrt(v_new + eps) * g
        u.assign(u * rho + omr * delta * delta)
        p.assign_sub(lr * delta)


KERNEL = Kernel("adadelta", update, hyperparameters=frozenset({"rho", "eps", "maximize"}))
