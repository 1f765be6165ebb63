"""TensorFlow kernel for canonical ``adam_weight_decay`` (op order: its algorithm module).

TensorFlow has no fused op for MindSpore's AdamWeightDecay (no bias correction, decay
inside the step); the compiled group kernel computes
``m += (g − m)·(1 − β₁)``, ``v += (g² − v)·(1 − β₂)``,
``p −= lr·(m/(√v + ε) + wd·p)``. With ``wd == 0`` the added term is ``0·p = 0``.
"""
from __future__ import annotations

import tensorflow as tf

from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    omb1, omb2, eps, lr, wd = s["one_minus_beta1"], s["one_minus_beta2"], s["eps"], s["lr"], s["weight_decay"]
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
        m_new = m + (g - m) * omb1
        v_new = v + (g * g - v) * omb2
        m.assign(m_new)
        v.assign(v_new)
        step = m_new / (tf.sqrt(v_new) + eps)
        p.assign_sub(lr * (step + wd * p))


KERNEL = Kernel(
    "adam_weight_decay",
    update,
    jit_compile=False,
    hyperparameters=frozenset({"beta1", "beta2", "eps", "maximize"}),
)
