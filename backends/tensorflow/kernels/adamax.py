"""TensorFlow kernel for canonical ``adamax`` (op order: optbridge.algorithms.adamax).

First moment in torch's (``lerp``), MindSpore's or Keras' arithmetic; ``u = max(u·β₂,
|g| + ε)`` (``eps_placement="max"``) or ``max(u·β₂, |g|)`` with ε added to the
denominator; the update in the matching arithmetic. Keras's weight decay
``p −= (p·wd)·lr`` comes first (``weight_decay_form="keras"``).
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import apply_kernel_decay, torch_lerp
from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    arithmetic = alg.arithmetic
    beta1, omb1, eps = s["beta1"], s["one_minus_beta1"], s["eps"]
    for p, g, m, u in zip(params, grads, slots["exp_avg"], slots["exp_inf"]):
        apply_kernel_decay(alg.weight_decay_form, p, s)
        if arithmetic == "torch":
            m_new = torch_lerp(m, g, omb1)
        elif arithmetic == "mindspore":
            m_new = beta1 * m + omb1 * g
        else:
            m_new = m + (g - m) * omb1
        m.assign(m_new)
        decayed = u * s["beta2"]
        if alg.eps_placement == "max":
            u_new = tf.maximum(decayed, tf.abs(g) + eps)
            d = u_new
        else:
            u_new = tf.maximum(decayed, tf.abs(g))
            d = u_new + eps
        u.assign(u_new)
        if arithmetic == "torch":
            p.assign_sub(s["step_size"] * m_new / d)
        elif arithmetic == "mindspore":
            p.assign_sub(s["step_size"] * (m_new / d))
        else:
            p.assign_sub(s["lr"] * m_new / (s["bias_correction"] * d))


KERNEL = Kernel(
    "adamax",
    update,
    hyperparameters=frozenset({"beta1", "beta2", "eps", "eps_placement", "power_form", "arithmetic",
                               "weight_decay_form", "maximize"}),
)
