"""TensorFlow kernel for canonical ``adam`` (op order: optbridge.algorithms.adam).

Fused path: TensorFlow's ``ApplyAdam`` (``core/kernels/training_ops.cc``) computes
``α = lr·√(1−β₂ᵖ)/(1−β₁ᵖ)``, ``m += (g − m)·(1 − β₁)``, ``v += (g² − v)·(1 − β₂)``,
``var −= (m·α)/(√v + ε)`` (Nesterov: ``(g·(1−β₁) + β₁·m)·α`` in place of ``m·α``) —
the canonical ``eps_placement="hat"``, ``moment_form="lerp"`` form. Fed ``lr =
step_size`` and ``β₁ᵖ = β₂ᵖ = 0``, the op's ``α`` is ``step_size`` exactly;
``ApplyAdamWithAmsgrad`` adds ``v̂ = max(v̂, v)`` (no Nesterov flag, as in the canonical
algorithm). The op forms ``1 − β`` itself in the parameter dtype, which equals the host's
``one_minus_beta`` when the host scalars are computed in that dtype (the optimizer only
fuses then). Coupled weight decay only (it is pre-processing); everything else runs the
compiled group kernel.

The compiled kernel writes the moments with ``assign_add`` (``"lerp"``/``"keras"``) and
makes the ``"hat"`` step ``p −= (step_size·n)/(√v + ε)`` one ``ResourceApplyAdagradV2``
with ``update_slots=False`` (``var -= grad·lr/(√accum + ε)`` with ``grad = n``,
``accum = v`` or ``v̂``), the canonical roundings in one pass.

Native path (preferred where it applies; :mod:`optbridge.backends.tensorflow.native`):
``OptbridgeAdam`` runs steps 0–5 of the ``"hat"`` form with ``"lerp"``/``"keras"``
moments in one pass over ``p, g, m, v`` (and ``v̂``), the host's ``1 − β`` fed in — so
Keras' Adam/AdamW, which TensorFlow's ``ApplyAdam`` cannot compute bit for bit, get a
single-pass kernel too.
"""
from __future__ import annotations

import tensorflow as tf

from ..native import load as native_ops
from ._ops import apply_kernel_decay, divide_descend, native_decay, native_scalars, update_moments_in_place
from .base import Kernel


def update(alg, params, grads, slots, s) -> None:
    nesterov = alg.nesterov and not alg.amsgrad and alg.eps_placement == "hat"
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
        apply_kernel_decay(alg.weight_decay_form, p, s)
        update_moments_in_place(alg, g, m, v, s)
        second = v
        if alg.amsgrad:
            second = slots["max_exp_avg_sq"][i]
            second.assign(tf.maximum(second, v), read_value=False)
        if alg.eps_placement == "paper":
            denom = tf.sqrt(second.read_value()) / s["bc2_sqrt"] + s["eps"]
            p.assign_sub(s["step_size"] * m / denom, read_value=False)
            continue
        numer = m * s["beta1"] + s["one_minus_beta1"] * g if nesterov else m.read_value()
        divide_descend(p, s["step_size"], numer, second, s["eps"])


def can_fuse(alg, probe, dtype) -> bool:
    return alg.eps_placement == "hat" and alg.moment_form == "lerp" and alg.weight_decay_form == "coupled"


def fused(alg, params, grads, slots, s) -> None:
    zero = tf.zeros([], s["step_size"].dtype)
    common = dict(beta1_power=zero, beta2_power=zero, lr=s["step_size"], beta1=s["beta1"], beta2=s["beta2"],
                  epsilon=s["eps"])
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
        if alg.amsgrad:
            tf.raw_ops.ResourceApplyAdamWithAmsgrad(var=p.handle, m=m.handle, v=v.handle,
                                                    vhat=slots["max_exp_avg_sq"][i].handle, grad=g, **common)
        else:
            tf.raw_ops.ResourceApplyAdam(var=p.handle, m=m.handle, v=v.handle, grad=g,
                                         use_nesterov=bool(alg.nesterov), **common)


def can_native(alg) -> bool:
    return alg.eps_placement == "hat" and alg.moment_form in ("lerp", "keras")


def native(alg, params, grads, slots, s) -> None:
    ops = native_ops()
    scalars = native_scalars(s, ("step_size", "one_minus_beta1", "one_minus_beta2", "eps", "beta1", "lr",
                                 "weight_decay", "decay"), optional=frozenset({"decay"}))
    attrs = dict(decay=native_decay(alg.weight_decay_form), amsgrad=bool(alg.amsgrad),
                 nesterov=bool(alg.nesterov and not alg.amsgrad))
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
        vhat = slots["max_exp_avg_sq"][i] if alg.amsgrad else v
        ops.optbridge_adam(var=p.handle, m=m.handle, v=v.handle, vhat=vhat.handle, grad=g, scalars=scalars, **attrs)


KERNEL = Kernel(
    "adam",
    update,
    jit_compile=False,
    fused=fused,
    can_fuse=can_fuse,
    separable_decay=True,
    native=native,
    can_native=can_native,
    hyperparameters=frozenset({"beta1", "beta2", "eps", "amsgrad", "nesterov", "eps_placement", "power_form",
                               "moment_form", "weight_decay_form", "maximize"}),
)
