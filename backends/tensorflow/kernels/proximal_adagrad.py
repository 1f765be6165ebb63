"""TensorFlow kernel for canonical ``proximal_adagrad`` (op order: optbridge.algorithms.proximal_adagrad).

``s += g²``; ``η = lr/√s``; ``v = p − g·η``; ``p = sign(v)·max(|v| − η·l1, 0)/(1 + l2·η)``
when ``l1 > 0``, else ``v/(1 + l2·η)``.
"""
from __future__ import annotations

import tensorflow as tf

from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    l1, l2 = s["l1"], s["l2"]
    for p, g, acc in zip(params, grads, slots["accum"]):
        total = acc + g * g
        acc.assign(total)
        eta = s["lr"] / tf.sqrt(total)
        v = p - g * eta
        shrunk = tf.sign(v) * tf.maximum(tf.abs(v) - eta * l1, tf.zeros_like(v)) / (1 + l2 * eta)
        p.assign(tf.where(l1 > 0, shrunk, v / (1 + l2 * eta)))


KERNEL = Kernel("proximal_adagrad", update,
                hyperparameters=frozenset({"l1", "l2", "initial_accumulator_value", "maximize"}))
