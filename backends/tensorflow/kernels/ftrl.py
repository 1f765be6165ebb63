"""TensorFlow kernel for canonical ``ftrl`` (op order: optbridge.algorithms.ftrl).

``n' = n + g²``; ``a = n^(−lr_power)`` (in float64 when ``power_precision="float64"``);
``u += g_s − ((a' − a)/lr)·p`` with ``g_s = g + 2·l2_shrinkage·p``;
``p = (sign(u)·l1 − u)/(a'/lr + 2·l2)`` where ``|u| > l1``, else 0; ``n = n'``.
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import apply_kernel_decay
from .base import Kernel


def _power(x, exponent, alg):
    if alg.power_precision == "float64" and x.dtype != tf.float64:
        return tf.cast(tf.pow(tf.cast(x, tf.float64), tf.cast(exponent, tf.float64)), x.dtype)
    return tf.pow(x, exponent)


def update(alg, params, grads, slots, s) -> None:
    lr, power, l1 = s["lr"], s["neg_lr_power"], s["l1"]
    for p, g, n, u in zip(params, grads, slots["accum"], slots["linear"]):
        apply_kernel_decay(alg.weight_decay_form, p, s)
        n_new = n + g * g
        a_old, a_new = _power(n.read_value(), power, alg), _power(n_new, power, alg)
        g_s = g + s["two_l2_shrinkage"] * p if alg.l2_shrinkage != 0 else g
        u_new = u + (g_s - ((a_new - a_old) / lr) * p)
        u.assign(u_new)
        shrink = tf.sign(u_new) * l1 if alg.l1_sign == "signed" else l1
        w = (shrink - u_new) / (a_new / lr + s["two_l2"])
        p.assign(tf.where(tf.abs(u_new) > l1, w, tf.zeros_like(w)))
        n.assign(n_new)


KERNEL = Kernel("ftrl", update, hyperparameters=frozenset({"lr_power", "l1", "l2", "initial_accumulator_value", "l1_sign",
                                                           "l2_shrinkage", "beta", "power_precision",
                                                           "weight_decay_form", "maximize"}))
