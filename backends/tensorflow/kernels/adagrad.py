"""TensorFlow kernel for canonical ``adagrad`` (op order: optbridge.algorithms.adagrad).

``sum += g²`` (unless ``update_slots`` is off), then ``p −= clr·g/d`` with
``d = √sum + ε``, ``√(sum + ε)`` or ``√sum`` by ``eps_placement``.
"""
from __future__ import annotations

import tensorflow as tf

from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    eps, clr = s["eps"], s["clr"]
    for p, g, acc in zip(params, grads, slots["sum"]):
        total = acc + g * g if alg.update_slots else acc.read_value()
        if alg.update_slots:
            acc.assign(total)
        if alg.eps_placement == "outside":
            d = tf.sqrt(total) + eps
        elif alg.eps_placement == "inside":
            d = tf.sqrt(total + eps)
        else:
            d = tf.sqrt(total)
        p.assign_sub(clr * g / d)


KERNEL = Kernel(
    "adagrad",
    update,
    hyperparameters=frozenset({"lr_decay", "eps", "initial_accumulator_value", "eps_placement", "update_slots",
                               "maximize"}),
)
