"""TensorFlow kernel for canonical ``adam_weight_decay`` (op order: its algorithm module).

TensorFlow has no fused op for MindSpore's AdamWeightDecay (no bias correction, decay
inside the step); the compiled group kernel computes
``m += (g − m)·(1 − β₁)``, ``v += (g² − v)·(1 − β₂)``,
``p −= lr·(m/(√v + ε) + wd·p)``. With ``wd == 0`` the added term is ``0·p = 0``.
Each of the three writes is one ``ResourceApplyGradientDescent`` (``var -= delta·alpha``;
``_ops.add_scaled`` for the moments): the same roundings in fewer passes.
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import add_scaled, descend
from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    omb1, omb2, eps, lr, wd = s["one_minus_beta1"], s["one_minus_beta2"], s["eps"], s["lr"], s["weight_decay"]
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
        add_scaled(m, g - m, omb1)
        add_scaled(v, g * g - v, omb2)
        step = m / (tf.sqrt(v.read_value()) + eps)
        descend(p, lr, step + wd * p)


KERNEL = Kernel(
    "adam_weight_decay",
    update,
    jit_compile=False,
    hyperparameters=frozenset({"beta1", "beta2", "eps", "maximize"}),
)
