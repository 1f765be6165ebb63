"""TensorFlow kernel for canonical ``sgd`` (op order: optbridge.algorithms.sgd).

Fused path: ``tf.raw_ops.ResourceApplyMomentum`` computes ``accum = accum·momentum + g``
then ``var −= accum·lr`` (or, with ``use_nesterov``, ``var −= g·lr + accum·momentum·lr``:
the canonical ``nesterov_form="scaled"``); TensorFlow ``core/kernels/training_ops.cc``
``ApplyMomentum``. It is exact for ``momentum_form="buffer"`` with ``dampening == 0``
(the canonical second term is then ``g`` itself), coupled weight decay, and the
``"scaled"`` Nesterov form. The canonical first step ``b = g`` is ``0·momentum + g`` on
the zero-initialised buffer (the slot's initial value). Everything else runs the
compiled group kernel.

The compiled kernel uses single-pass TensorFlow ops wherever their rounding order is the
canonical one: plain SGD ``p ← p − lr·g`` is ``ResourceApplyGradientDescent``
(``var -= grad·alpha``), and the Keras momentum form is ``ResourceApplyKerasMomentum``
(``training_ops.cc`` ``ApplyKerasMomentum``: ``accum = accum·momentum − grad·lr``, then
``var += accum``, or with ``use_nesterov`` ``var += accum·momentum − grad·lr``), which
takes every constant as an input: bit for bit the canonical ``"keras"`` form in any
dtype (``tests/test_tensorflow_fused_ops.py``).
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import apply_kernel_decay, descend
from .base import Kernel, flag


def update(alg, params, grads, slots, s) -> None:
    lr = s["lr"]
    if alg.momentum == 0.0:
        for p, g in zip(params, grads):
            apply_kernel_decay(alg.weight_decay_form, p, s)
            descend(p, lr, g)
        return
    mu = s["momentum"]
    for p, g, b in zip(params, grads, slots["momentum_buffer"]):
        apply_kernel_decay(alg.weight_decay_form, p, s)
        if alg.momentum_form == "keras":
            tf.raw_ops.ResourceApplyKerasMomentum(var=p.handle, accum=b.handle, lr=lr, grad=g, momentum=mu,
                                                  use_locking=False, use_nesterov=bool(alg.nesterov))
            continue
        buf = tf.cond(flag(s["first_step"]), lambda: tf.identity(g), lambda: b * mu + s["one_minus_dampening"] * g)
        b.assign(buf, read_value=False)
        if not alg.nesterov:
            descend(p, lr, buf)
        elif alg.nesterov_form == "scaled":
            p.assign_sub(g * lr + buf * mu * lr, read_value=False)
        else:
            descend(p, lr, g + mu * buf)


def can_fuse(alg, probe, dtype) -> bool:
    return (alg.momentum != 0.0 and alg.dampening == 0.0 and alg.momentum_form == "buffer"
            and alg.weight_decay_form == "coupled" and (not alg.nesterov or alg.nesterov_form == "scaled"))


def fused(alg, params, grads, slots, s) -> None:
    for p, g, b in zip(params, grads, slots["momentum_buffer"]):
        tf.raw_ops.ResourceApplyMomentum(var=p.handle, accum=b.handle, lr=s["lr"], grad=g, momentum=s["momentum"],
                                         use_locking=False, use_nesterov=bool(alg.nesterov))


KERNEL = Kernel(
    "sgd",
    update,
    jit_compile=False,
    fused=fused,
    can_fuse=can_fuse,
    separable_decay=True,
    hyperparameters=frozenset({"momentum", "dampening", "nesterov", "nesterov_form", "momentum_form",
                               "weight_decay_form", "maximize"}),
)
