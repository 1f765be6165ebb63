"""TensorFlow kernel for canonical ``rmsprop`` (op order: optbridge.algorithms.rmsprop).

The compiled group kernel follows the NumPy reference branch for branch: the mean square
in torch's, MindSpore's or Keras' arithmetic, the centered variant, ε outside or inside
the square root, and the learning rate outside (torch) or inside (MindSpore, Keras) the
momentum buffer, Keras's weight decay first; MindSpore's centered form leaves elements whose ``s + ε ≤ 0`` untouched.
"""
from __future__ import annotations

import tensorflow as tf

from ._ops import apply_kernel_decay, torch_lerp
from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    arithmetic = alg.arithmetic
    rho, omr, eps, lr = s["alpha"], s["one_minus_alpha"], s["eps"], s["lr"]
    use_momentum = alg.momentum > 0
    for i, (p, g) in enumerate(zip(params, grads)):
        v = slots["square_avg"][i]
        apply_kernel_decay(alg.weight_decay_form, p, s)
        if arithmetic == "torch":
            v_new = v * rho + omr * g * g
        elif arithmetic == "mindspore":
            v_new = v + (g * g - v) * omr
        else:
            v_new = rho * v + omr * (g * g)
        v.assign(v_new)
        if alg.centered:
            ga = slots["grad_avg"][i]
            if arithmetic == "torch":
                ga_new = torch_lerp(ga, g, omr)
            elif arithmetic == "mindspore":
                ga_new = ga + (g - ga) * omr
            else:
                ga_new = rho * ga + omr * g
            ga.assign(ga_new)
            sq = v_new - ga_new * ga_new
        else:
            sq = v_new
        keep = None
        if alg.eps_placement == "outside":
            d = tf.sqrt(sq) + eps
        else:
            inner = sq + eps
            if alg.centered and arithmetic == "mindspore":
                keep = inner > 0
            d = tf.sqrt(inner)
        if alg.lr_placement == "outside":
            if use_momentum:
                b = slots["momentum_buffer"][i]
                b_new = b * s["momentum"] + g / d
                b.assign(b_new)
                p.assign_sub(lr * b_new)
            else:
                p.assign_sub(lr * g / d)
            continue
        u = g * lr / d
        if keep is not None:
            u = tf.where(keep, u, tf.zeros_like(u))
        if use_momentum:
            b = slots["momentum_buffer"][i]
            b_new = b * s["momentum"] + u
            if keep is not None:
                b_new = tf.where(keep, b_new, b)
            b.assign(b_new)
            p.assign(tf.where(keep, p - b_new, p) if keep is not None else p - b_new)
        else:
            p.assign_sub(u)


KERNEL = Kernel(
    "rmsprop",
    update,
    hyperparameters=frozenset({"alpha", "eps", "momentum", "centered", "eps_placement", "initial_square_avg",
                               "lr_placement", "arithmetic", "weight_decay_form", "maximize"}),
)
