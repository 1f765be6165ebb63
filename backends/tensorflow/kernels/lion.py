"""TensorFlow kernel for canonical ``lion`` (op order: optbridge.algorithms.lion).

The same ops as Keras 3's ``Lion.update_step`` on TensorFlow (``tf.sign``: ``sign(0) = 0``,
``sign(NaN) = NaN``). TensorFlow has no fused Lion op, so every bucket runs the compiled
group kernel. Without XLA: measured on CPU (2 shared cores, load ≈ 5, float32, Keras
weight decay), XLA took 196 ms instead of 238 ms per step on 2,000 tensors of 512
elements and 84 ms instead of 114 ms on the ResNet-50 tensors, but it contracts
``p·decay − lr·u`` into a fused multiply-add, so only 30 % of the ``"decoupled"`` results
stayed bit-identical to NumPy (all within the float32 tolerance); the graph kernel is
bit for bit NumPy's and Keras'. ``TensorFlowOptimizer(..., jit_compile=True)`` opts in.

TensorFlow's CPU kernels flush subnormal results to zero: a subnormal
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
