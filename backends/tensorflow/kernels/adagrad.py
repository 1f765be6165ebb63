"""TensorFlow kernel for canonical ``adagrad`` (op order: optbridge.algorithms.adagrad).

``sum += g²`` (unless ``update_slots`` is off), then ``p −= clr·g/d`` with
``d = √sum + ε``, ``√(sum + ε)`` or ``√sum`` by ``eps_placement``; Keras's weight decay
``p −= (p·wd)·lr`` first.

``eps_placement="outside"`` (torch) is one ``ResourceApplyAdagradV2`` per variable
(``training_ops.cc`` ``ApplyAdagradV2``: ``accum += grad²`` when ``update_slots``, then
``var -= grad·lr/(√accum + ε)``), which takes ``lr = clr`` and ``ε`` as inputs: the
canonical roundings in one pass. ``"none"`` (MindSpore) is the same op with ``ε = 0`` when
the sum is updated (``√s + 0`` is ``√s`` unless ``s = −0``, which ``s + g·g`` never is).
``"inside"`` (Keras) has no such op: ``assign_add`` then one subtraction.
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import apply_kernel_decay
from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    eps, clr = s["eps"], s["clr"]
    single_pass = alg.eps_placement == "outside" or (alg.eps_placement == "none" and alg.update_slots)
    if alg.eps_placement == "none":
        eps = tf.zeros_like(eps)
    for p, g, acc in zip(params, grads, slots["sum"]):
        apply_kernel_decay(alg.weight_decay_form, p, s)
        if single_pass:
            tf.raw_ops.ResourceApplyAdagradV2(var=p.handle, accum=acc.handle, lr=clr, epsilon=eps, grad=g,
                                              use_locking=False, update_slots=bool(alg.update_slots))
            continue
        if alg.update_slots:
            acc.assign_add(g * g, read_value=False)
        total = acc.read_value()
        d = tf.sqrt(total + eps) if alg.eps_placement == "inside" else tf.sqrt(total)
        p.assign_sub(clr * g / d, read_value=False)


KERNEL = Kernel(
    "adagrad",
    update,
    separable_decay=True,
    hyperparameters=frozenset({"lr_decay", "eps", "initial_accumulator_value", "eps_placement", "update_slots",
                               "weight_decay_form", "maximize"}),
)
