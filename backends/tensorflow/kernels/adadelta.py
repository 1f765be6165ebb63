"""TensorFlow kernel for canonical ``adadelta`` (op order: optbridge.algorithms.adadelta).

``v = v·ρ + (1−ρ)·g·g``; ``δ = (√(u + ε) / √(v + ε))·g``; ``u = u·ρ + (1−ρ)·δ·δ``;
``p −= lr·δ`` (torch arithmetic); Keras's: ``v = ρ·v + (1−ρ)·(g·g)``,
``δ = (√(u + ε)·g) / √(v + ε)``, ``u = ρ·u + (1−ρ)·(δ·δ)``, ``p −= lr·δ``, after Keras's weight
decay ``p −= (p·wd)·lr``.
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import apply_kernel_decay
from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    rho, omr, eps, lr = s["rho"], s["one_minus_rho"], s["eps"], s["lr"]
    for p, g, v, u in zip(params, grads, slots["square_avg"], slots["acc_delta"]):
        apply_kernel_decay(alg.weight_decay_form, p, s)
        if alg.arithmetic == "keras":
            v_new = rho * v + omr * (g * g)
            v.assign(v_new)
            delta = (tf.sqrt(u + eps) * g) / tf.sqrt(v_new + eps)
            u.assign(rho * u + omr * (delta * delta))
            p.assign_sub(lr * delta)
            continue
        v_new = v * rho + omr * g * g
        v.assign(v_new)
        delta = tf.sqrt(u + eps) / tf.sqrt(v_new + eps) * g
        u.assign(u * rho + omr * delta * delta)
        p.assign_sub(lr * delta)


KERNEL = Kernel("adadelta", update, hyperparameters=frozenset({"rho", "eps", "arithmetic", "weight_decay_form", "maximize"}))
