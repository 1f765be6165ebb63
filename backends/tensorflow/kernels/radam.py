"""TensorFlow kernel for canonical ``radam`` (op order: optbridge.algorithms.radam).

``m̂ = m / bc₁``; rectified steps: ``p −= ((m̂·lr)·(1/(√v + ε))·√bc₂)·r``; earlier steps
``p −= m̂·lr``. Whether a step is rectified is a host scalar, so one trace serves both.
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import apply_kernel_decay, update_moments
from .base import Kernel, flag


def update(alg, params, grads, slots, s) -> None:
    rectified = flag(s["rectified"])
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
        apply_kernel_decay(alg.weight_decay_form, p, s)
        m_new, v_new = update_moments(alg, g, m, v, s)
        m.assign(m_new)
        v.assign(v_new)
        m_hat = m_new / s["bias_correction1"]

        def adaptive(m_hat=m_hat, v_new=v_new):
            return ((m_hat * s["lr"]) * (tf.math.reciprocal(tf.sqrt(v_new) + s["eps"]) * s["bc2_sqrt"])) * s["rect"]

        p.assign_sub(tf.cond(rectified, adaptive, lambda m_hat=m_hat: m_hat * s["lr"]))


KERNEL = Kernel("radam", update, hyperparameters=frozenset({"beta1", "beta2", "eps", "weight_decay_form", "maximize"}))
