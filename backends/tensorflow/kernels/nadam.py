"""TensorFlow kernel for canonical ``nadam`` (op order: optbridge.algorithms.nadam).

torch form: ``d = √(v / bc₂) + ε``; ``p += coef_grad·g/d``; ``p += coef_exp_avg·m/d``.
Keras form: ``m̂ = (μₜ₊₁·m)/(1 − Πμₜ₊₁) + ((1 − μₜ)·g)/(1 − Πμₜ)``;
``p −= (m̂·lr)/(√(v/(1 − β₂ᵗ)) + ε)``. Moments and kernel-side decay as in ``adam``.
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import apply_kernel_decay, update_moments
from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
        apply_kernel_decay(alg.weight_decay_form, p, s)
        m_new, v_new = update_moments(alg, g, m, v, s)
        m.assign(m_new)
        v.assign(v_new)
        if alg.form == "torch":
            denom = tf.sqrt(v_new / s["bias_correction2"]) + s["eps"]
            p.assign_add(s["coef_grad"] * g / denom)
            p.assign_add(s["coef_exp_avg"] * m_new / denom)
            continue
        m_hat = (s["mu_next"] * m_new) / s["one_minus_mu_product_next"] + (s["one_minus_mu"] * g) / s["one_minus_mu_product"]
        denom = tf.sqrt(v_new / s["one_minus_beta2_power"]) + s["eps"]
        p.assign_sub((m_hat * s["lr"]) / denom)


KERNEL = Kernel("nadam", update, hyperparameters=frozenset({"beta1", "beta2", "eps", "momentum_decay", "form",
                                                             "weight_decay_form", "maximize"}))
