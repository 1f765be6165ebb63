"""TensorFlow kernel for canonical ``rprop`` (op order: optbridge.algorithms.rprop).

First step: ``step = lr``. Then ``s = sign(g·prev)``; ``step *= η₊`` where ``s > 0``,
``η₋`` where ``s < 0``, 1 elsewhere; ``step = clip(step, min, max)``; the accepted
gradient is 0 where the factor is ``η₋``, else ``g``; ``p −= sign(accepted)·step``;
``prev = accepted``.
"""
from __future__ import annotations

import tensorflow as tf

from .base import Kernel, flag


def update(alg, params, grads, slots, s) -> None:
    etaminus, etaplus = s["etaminus"], s["etaplus"]
    for p, g, prev, step in zip(params, grads, slots["prev"], slots["step_size"]):
        current = tf.cond(flag(s["first_step"]), lambda: tf.fill(tf.shape(step), s["lr"]), lambda: step.read_value())
        sign = tf.sign(g * prev)
        one = tf.ones_like(g)
        factor = tf.where(sign > 0, etaplus * one, tf.where(sign < 0, etaminus * one, one))
        new_step = tf.clip_by_value(current * factor, s["step_size_min"], s["step_size_max"])
        step.assign(new_step)
        accepted = tf.where(factor == etaminus, tf.zeros_like(g), g)
        p.assign_sub(tf.sign(accepted) * new_step)
        prev.assign(accepted)


KERNEL = Kernel("rprop", update,
                hyperparameters=frozenset({"etaminus", "etaplus", "step_size_min", "step_size_max", "maximize"}))
