"""TensorFlow kernel for canonical ``lion`` (op order: optbridge.algorithms.lion).

The same ops as Keras 3's ``Lion.update_step`` on TensorFlow (``tf.sign``: ``sign(0) = 0``,
``sign(NaN) = NaN``). TensorFlow has no fused Lion op, so every bucket runs the compiled
group kernel, without XLA (see ``benchmarks/tensorflow_step.py`` for how the choice is
measured). TensorFlow's CPU kernels flush subnormal results to zero: a subnormal
``m·β₁ + g·(1 − β₁)`` gives ``u = 0`` here and in Keras, ``±1`` in NumPy.
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import apply_kernel_decay
from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    lr = s["lr"]
    beta_1, omb1 = s["beta_1"], s["one_minus_beta_1"]
    beta_2, omb2 = s["beta_2"], s["one_minus_beta_2"]
    for p, g, m in zip(params, grads, slots["momentum"]):
        apply_kernel_decay(alg.weight_decay_form, p, s)
        m_old = m.read_value()
        p.assign_sub(lr * tf.sign(m_old * beta_1 + g * omb1))
        m.assign(m_old * beta_2 + g * omb2)


KERNEL = Kernel(
    "lion",
    update,
    jit_compile=False,
    hyperparameters=frozenset({"beta_1", "beta_2", "weight_decay_form", "maximize"}),
)
