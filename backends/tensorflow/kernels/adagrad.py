"""TensorFlow kernel for canonical ``adagrad`` (op order: optbridge.algorithms.adagrad).

``sum += g²`` (unless ``update_slots`` is off), then ``p −= clr·g/d`` with
``d = √sum + ε``, ``√(sum + ε)`` or ``√sum`` by ``eps_placement``; Keras's weight decay
``p −= (p·wd)·lr`` first.
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import apply_kernel_decay
from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    eps, clr = s["eps"], s["clr"]
    for p, g, acc in zip(params, grads, slots["sum"]):
        apply_kernel_decay(alg.weight_decay_form, p, s)
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
                               "weight_decay_form", "maximize"}),
)
