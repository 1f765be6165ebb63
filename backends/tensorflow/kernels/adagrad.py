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

Native path (preferred; :mod:`optbridge.backends.tensorflow.native`): ``OptbridgeAdagrad``
runs the canonical order, every placement and weight-decay form, in one pass.
"""
from __future__ import annotations

import tensorflow as tf

from ..native import load as native_ops
from ._ops import apply_kernel_decay, native_decay, native_scalars
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


def native(alg, params, grads, slots, s) -> None:
    ops = native_ops()
    scalars = native_scalars(s, ("clr", "eps", "lr", "weight_decay", "decay"), optional=frozenset({"decay"}))
    attrs = dict(decay=native_decay(alg.weight_decay_form), eps_placement=alg.eps_placement,
                 update_slots=bool(alg.update_slots))
    for p, g, acc in zip(params, grads, slots["sum"]):
        ops.optbridge_adagrad(var=p.handle, sum=acc.handle, grad=g, scalars=scalars, **attrs)


KERNEL = Kernel(
    "adagrad",
    update,
    separable_decay=True,
    native=native,
    can_native=lambda alg: True,
    hyperparameters=frozenset({"lr_decay", "eps", "initial_accumulator_value", "eps_placement", "update_slots",
                               "weight_decay_form", "maximize"}),
)
