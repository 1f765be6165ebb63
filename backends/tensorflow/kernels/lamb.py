"""TensorFlow kernel for canonical ``lamb`` (op order: optbridge.algorithms.lamb).

Keras-form decay ``p −= (p·wd)·lr`` first; ``m``, ``v`` as Adam's ``"lerp"`` moments;
``u = (m/bc₁)/(√(v/bc₂) + ε)`` (+ ``wd·p`` for the ``"inside"`` form); one trust ratio
per tensor, ``‖p‖/‖u‖`` when both norms are positive, else 1; ``p −= (ratio·lr)·u``.
The norms are TensorFlow reductions: their summation order is not NumPy's pairwise one.
"""
from __future__ import annotations

import tensorflow as tf

from .base import Kernel


def _norm(x):
    return tf.sqrt(tf.reduce_sum(x * x))


def update(alg, params, grads, slots, s) -> None:
    lr, wd = s["lr"], s["weight_decay"]
    for i, (p, g) in enumerate(zip(params, grads)):
        if alg.weight_decay_form == "keras":
            p.assign(p - (p * wd) * lr)
        m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
        m_new = m + (g - m) * s["one_minus_beta1"]
        v_new = v + (g * g - v) * s["one_minus_beta2"]
        m.assign(m_new)
        v.assign(v_new)
        u = (m_new / s["bias_correction1"]) / (tf.sqrt(v_new / s["bias_correction2"]) + s["eps"])
        if alg.weight_decay_form == "inside":
            u = u + wd * p
        w_norm, u_norm = _norm(p), _norm(u)
        ratio = tf.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, tf.ones_like(w_norm))
        p.assign_sub((ratio * lr) * u)


KERNEL = Kernel("lamb", update, hyperparameters=frozenset({"beta1", "beta2", "eps", "weight_decay_form", "arithmetic",
                                                            "maximize"}))
