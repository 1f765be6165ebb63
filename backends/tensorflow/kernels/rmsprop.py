"""TensorFlow kernel for canonical ``rmsprop`` (op order: optbridge.algorithms.rmsprop).

The compiled group kernel follows the NumPy reference branch for branch: the mean square
in torch's, MindSpore's or Keras' arithmetic, the centered variant, ε outside or inside
the square root, and the learning rate outside (torch) or inside (MindSpore, Keras) the
momentum buffer, Keras's weight decay first; MindSpore's centered form leaves elements whose ``s + ε ≤ 0`` untouched.

Single-pass TensorFlow ops stand in for op sequences whose roundings they repeat exactly
(they take every constant as an input; ``core/kernels/training_ops.cc``):
``ResourceApplyMomentum`` (``accum = accum·momentum + grad``, ``var -= accum·lr``) for
step 4 with momentum (``grad = g/d`` and the lr, or ``grad = u`` and ``lr = 1``), and
``ResourceApplyAdagradV2(update_slots=False)`` (``var -= grad·lr/(√accum + ε)``) for
``p −= (lr·g)/(√v + ε)`` when not centered.

Fused path: ``ResourceApplyRMSProp`` computes ``ms += (g² − ms)·(1 − ρ)``,
``mom = mom·momentum + (g·lr)/√(ms + ε)``, ``var −= mom`` — the canonical MindSpore
arithmetic with ε and lr inside and momentum, not centered (``ResourceApplyCenteredRMSProp``
does not skip elements whose ``s + ε ≤ 0``, so the centered form is not fused). The op
forms ``1 − ρ`` in the parameter dtype, as the host does for this arithmetic when the
host precision is that dtype (the optimizer only fuses then).

Native path (preferred; :mod:`optbridge.backends.tensorflow.native`): ``OptbridgeRMSProp``
runs the whole canonical order above, every flag, in one pass over the variable, its
slots and the gradient.
"""
from __future__ import annotations

import tensorflow as tf

from ..native import load as native_ops
from ._ops import add_scaled, apply_kernel_decay, divide_descend, native_decay, native_scalars, torch_lerp
from .base import Kernel


def _mean_square(arithmetic: str, v: tf.Variable, g: tf.Tensor, rho: tf.Tensor, omr: tf.Tensor) -> None:
    """Step 1, written into ``v``."""
    if arithmetic == "torch":
        v.assign(v * rho + omr * g * g, read_value=False)
    elif arithmetic == "mindspore":
        add_scaled(v, g * g - v, omr)
    else:
        v.assign(rho * v + omr * (g * g), read_value=False)


def _momentum_descend(p: tf.Variable, b: tf.Variable, lr: tf.Tensor, x: tf.Tensor, mu: tf.Tensor) -> None:
    """``b = b·μ + x``, ``p = p − b·lr`` as one ``ResourceApplyMomentum``."""
    tf.raw_ops.ResourceApplyMomentum(var=p.handle, accum=b.handle, lr=lr, grad=x, momentum=mu, use_locking=False,
                                     use_nesterov=False)


def update(alg, params, grads, slots, s) -> None:
    arithmetic = alg.arithmetic
    rho, omr, eps, lr = s["alpha"], s["one_minus_alpha"], s["eps"], s["lr"]
    use_momentum = alg.momentum > 0
    for i, (p, g) in enumerate(zip(params, grads)):
        v = slots["square_avg"][i]
        apply_kernel_decay(alg.weight_decay_form, p, s)
        _mean_square(arithmetic, v, g, rho, omr)
        if alg.centered:
            ga = slots["grad_avg"][i]
            if arithmetic == "torch":
                ga_new = torch_lerp(ga, g, omr)
            elif arithmetic == "mindspore":
                ga_new = ga + (g - ga) * omr
            else:
                ga_new = rho * ga + omr * g
            ga.assign(ga_new, read_value=False)
            sq = v - ga_new * ga_new
        elif alg.eps_placement == "outside" and alg.lr_placement == "outside" and not use_momentum:
            divide_descend(p, lr, g, v, eps)
            continue
        else:
            sq = v.read_value()
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
                _momentum_descend(p, slots["momentum_buffer"][i], lr, g / d, s["momentum"])
            else:
                p.assign_sub(lr * g / d, read_value=False)
            continue
        u = g * lr / d
        if keep is not None:
            u = tf.where(keep, u, tf.zeros_like(u))
        if use_momentum:
            b = slots["momentum_buffer"][i]
            if keep is None:
                _momentum_descend(p, b, tf.ones([], p.dtype), u, s["momentum"])
                continue
            b_new = tf.where(keep, b * s["momentum"] + u, b)
            b.assign(b_new, read_value=False)
            p.assign(tf.where(keep, p - b_new, p), read_value=False)
        else:
            p.assign_sub(u, read_value=False)


def can_fuse(alg, probe, dtype) -> bool:
    return (alg.arithmetic == "mindspore" and not alg.centered and alg.eps_placement == "inside"
            and alg.lr_placement == "inside" and alg.momentum > 0)


def fused(alg, params, grads, slots, s) -> None:
    for i, (p, g) in enumerate(zip(params, grads)):
        apply_kernel_decay(alg.weight_decay_form, p, s)
        tf.raw_ops.ResourceApplyRMSProp(var=p.handle, ms=slots["square_avg"][i].handle,
                                        mom=slots["momentum_buffer"][i].handle, lr=s["lr"], rho=s["alpha"],
                                        momentum=s["momentum"], epsilon=s["eps"], grad=g, use_locking=False)


def native(alg, params, grads, slots, s) -> None:
    ops = native_ops()
    scalars = native_scalars(s, ("lr", "alpha", "one_minus_alpha", "eps", "momentum", "weight_decay", "decay"),
                             optional=frozenset({"momentum", "decay"}))
    use_momentum = alg.momentum > 0
    attrs = dict(decay=native_decay(alg.weight_decay_form), arithmetic=alg.arithmetic, centered=bool(alg.centered),
                 eps_inside=alg.eps_placement == "inside", lr_inside=alg.lr_placement == "inside",
                 use_momentum=bool(use_momentum))
    for i, (p, g) in enumerate(zip(params, grads)):
        v = slots["square_avg"][i]
        ga = slots["grad_avg"][i] if alg.centered else v
        b = slots["momentum_buffer"][i] if use_momentum else v
        ops.optbridge_rms_prop(var=p.handle, square_avg=v.handle, grad_avg=ga.handle, momentum_buffer=b.handle,
                               grad=g, scalars=scalars, **attrs)


KERNEL = Kernel(
    "rmsprop",
    update,
    fused=fused,
    can_fuse=can_fuse,
    separable_decay=True,
    native=native,
    can_native=lambda alg: True,
    hyperparameters=frozenset({"alpha", "eps", "momentum", "centered", "eps_placement", "initial_square_avg",
                               "lr_placement", "arithmetic", "weight_decay_form", "maximize"}),
)
