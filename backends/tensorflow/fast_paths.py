"""The TensorFlow backend's fast paths, per algorithm, and the kernel record built from them.

Every algorithm runs its rule (``Algorithm.update``, written once over the ops namespace)
on :mod:`optbridge.backends.tensorflow.ops`. A fast path computes the same numbers in
fewer passes over memory for the hyperparameters its predicate accepts (see
:mod:`optbridge.backends.tensorflow.kernels.base` for the three kinds and their order of
preference). They are proven equal to the rule by the conformance suite and
``tests/test_tensorflow_exact_ops.py`` / ``tests/test_tensorflow_native.py``.

=================  ==========================================================================
algorithm          fast paths
=================  ==========================================================================
``sgd``            fused ``ResourceApplyMomentum`` (``accum = accum·μ + g``,
                   ``var −= accum·lr``; with ``use_nesterov`` ``var −= g·lr + accum·μ·lr``):
                   buffer form, no dampening, coupled decay, no Nesterov or the ``"scaled"``
                   form; the first step's ``b = g`` is ``0·μ + g`` on the zero-filled buffer.
                   raw ``ResourceApplyKerasMomentum`` (``accum = accum·μ − g·lr``, then
                   ``var += accum``, or ``var += accum·μ − g·lr``): the Keras form.
``adam``           native ``OptbridgeAdam``: ``"hat"`` with ``"lerp"``/``"keras"`` moments.
                   fused ``ResourceApplyAdam``/``ResourceApplyAdamWithAmsgrad``: ``"hat"``,
                   ``"lerp"`` moments, coupled decay (fed ``lr = step_size`` and
                   ``β₁ᵖ = β₂ᵖ = 0``, so the op's ``α`` is ``step_size`` exactly).
                   raw: ``"hat"`` with ``"lerp"``/``"keras"`` moments: each moment one
                   ``ResourceApplyGradientDescent`` (``m − (g − m)·(−(1 − β₁))``), the step
                   one ``ResourceApplyAdagradV2(update_slots=False)``
                   (``var −= grad·lr/(√accum + ε)`` with ``grad = n``, ``accum = v`` or ``v̂``).
``rmsprop``        native ``OptbridgeRMSProp`` (every flag); fused ``ResourceApplyRMSProp``:
                   MindSpore arithmetic, ε and lr inside, momentum, not centered.
``adagrad``        native ``OptbridgeAdagrad`` (every flag).
=================  ==========================================================================

The raw paths are kept where ``benchmarks/tensorflow_step.py`` (column ``ob-graph``)
measures them faster than the rule's op chain: Keras SGD with momentum (one op where the
rule makes three passes) and Keras Adam/AdamW (two fewer intermediate tensors per moment
and step).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from optbridge.algorithms import algorithm_registry
from optbridge.algorithms.weight_decay import apply_rule_decay

from . import ops as tf_ops
from .kernels.base import Kernel
from .native import load as native_ops

__all__ = ["FAST_PATHS", "divide_descend", "kernel"]


# -- shared pieces -------------------------------------------------------------------------
def _native_decay(form: str) -> str:
    """The native ops' ``decay`` attribute for a ``weight_decay_form`` (``"coupled"`` is
    pre-processing, so the op applies none)."""
    return form if form in ("decoupled", "keras") else "none"


def _native_scalars(s: Mapping[str, tf.Tensor], names: tuple[str, ...], optional: frozenset = frozenset()) -> tf.Tensor:
    """The native ops' ``scalars`` vector: ``s[name]`` for each name, in order.

    A name in ``optional`` that the algorithm did not produce (``decay`` without the
    decoupled form, ``momentum`` at 0) is fed as 0; the op never reads it then. Any other
    missing name is a programming error and raises ``KeyError``.
    """
    dtype = next(iter(s.values())).dtype
    zero = tf.zeros([], dtype)
    return tf.stack([s[n] if n in s or n not in optional else zero for n in names])


def divide_descend(p: tf.Variable, lr: tf.Tensor, numer: tf.Tensor, accum: tf.Variable, eps: tf.Tensor) -> None:
    """``p ← p − (lr·numer)/(√accum + ε)`` in one pass; ``accum`` is read, not written.

    ``tf.raw_ops.ResourceApplyAdagradV2(update_slots=False)`` (``training_ops.cc``,
    ``ApplyAdagradV2``: ``var -= grad * lr / (accum.sqrt() + epsilon)``) takes every
    constant as an input and rounds each operation in this order.
    """
    tf.raw_ops.ResourceApplyAdagradV2(var=p.handle, accum=accum.handle, lr=lr, epsilon=eps, grad=numer,
                                      use_locking=False, update_slots=False)


# -- sgd -------------------------------------------------------------------------------------
def _sgd_can_fuse(alg, dtype) -> bool:
    return (alg.momentum != 0.0 and alg.dampening == 0.0 and alg.momentum_form == "buffer"
            and alg.weight_decay_form == "coupled" and (not alg.nesterov or alg.nesterov_form == "scaled"))


def _sgd_fused(alg, params, grads, slots, s) -> None:
    for p, g, b in zip(params, grads, slots["momentum_buffer"]):
        tf.raw_ops.ResourceApplyMomentum(var=p.handle, accum=b.handle, lr=s["lr"], grad=g, momentum=s["momentum"],
                                         use_locking=False, use_nesterov=bool(alg.nesterov))


def _sgd_can_raw(alg) -> bool:
    return alg.momentum != 0.0 and alg.momentum_form == "keras"


def _sgd_raw(alg, params, grads, slots, s) -> None:
    for p, g, b in zip(params, grads, slots["momentum_buffer"]):
        apply_rule_decay(tf_ops, alg.weight_decay_form, p, s)
        tf.raw_ops.ResourceApplyKerasMomentum(var=p.handle, accum=b.handle, lr=s["lr"], grad=g, momentum=s["momentum"],
                                              use_locking=False, use_nesterov=bool(alg.nesterov))


# -- adam ------------------------------------------------------------------------------------
def _adam_can_fuse(alg, dtype) -> bool:
    return alg.eps_placement == "hat" and alg.moment_form == "lerp" and alg.weight_decay_form == "coupled"


def _adam_fused(alg, params, grads, slots, s) -> None:
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


def _adam_can_native(alg) -> bool:
    return alg.eps_placement == "hat" and alg.moment_form in ("lerp", "keras")


def _adam_native(alg, params, grads, slots, s) -> None:
    ops = native_ops()
    scalars = _native_scalars(s, ("step_size", "one_minus_beta1", "one_minus_beta2", "eps", "beta1", "lr",
                                  "weight_decay", "decay"), optional=frozenset({"decay"}))
    attrs = dict(decay=_native_decay(alg.weight_decay_form), amsgrad=bool(alg.amsgrad),
                 nesterov=bool(alg.nesterov and not alg.amsgrad))
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
        vhat = slots["max_exp_avg_sq"][i] if alg.amsgrad else v
        ops.optbridge_adam(var=p.handle, m=m.handle, v=v.handle, vhat=vhat.handle, grad=g, scalars=scalars, **attrs)


def _adam_raw(alg, params, grads, slots, s) -> None:
    nesterov = alg.nesterov and not alg.amsgrad
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
        apply_rule_decay(tf_ops, alg.weight_decay_form, p, s)
        tf_ops.add_scaled_(m, g - m, s["one_minus_beta1"])
        tf_ops.add_scaled_(v, g * g - v, s["one_minus_beta2"])
        second = v
        if alg.amsgrad:
            second = tf_ops.assign_(slots["max_exp_avg_sq"][i], tf.maximum(slots["max_exp_avg_sq"][i], v))
        numer = m * s["beta1"] + s["one_minus_beta1"] * g if nesterov else m.read_value()
        divide_descend(p, s["step_size"], numer, second, s["eps"])


# -- rmsprop ---------------------------------------------------------------------------------
def _rmsprop_can_fuse(alg, dtype) -> bool:
    return (alg.arithmetic == "mindspore" and not alg.centered and alg.eps_placement == "inside"
            and alg.lr_placement == "inside" and alg.momentum > 0)


def _rmsprop_fused(alg, params, grads, slots, s) -> None:
    for i, (p, g) in enumerate(zip(params, grads)):
        apply_rule_decay(tf_ops, alg.weight_decay_form, p, s)
        tf.raw_ops.ResourceApplyRMSProp(var=p.handle, ms=slots["square_avg"][i].handle,
                                        mom=slots["momentum_buffer"][i].handle, lr=s["lr"], rho=s["alpha"],
                                        momentum=s["momentum"], epsilon=s["eps"], grad=g, use_locking=False)


def _rmsprop_native(alg, params, grads, slots, s) -> None:
    ops = native_ops()
    scalars = _native_scalars(s, ("lr", "alpha", "one_minus_alpha", "eps", "momentum", "weight_decay", "decay"),
                              optional=frozenset({"momentum", "decay"}))
    use_momentum = alg.momentum > 0
    attrs = dict(decay=_native_decay(alg.weight_decay_form), arithmetic=alg.arithmetic, centered=bool(alg.centered),
                 eps_inside=alg.eps_placement == "inside", lr_inside=alg.lr_placement == "inside",
                 use_momentum=bool(use_momentum))
    for i, (p, g) in enumerate(zip(params, grads)):
        v = slots["square_avg"][i]
        ga = slots["grad_avg"][i] if alg.centered else v
        b = slots["momentum_buffer"][i] if use_momentum else v
        ops.optbridge_rms_prop(var=p.handle, square_avg=v.handle, grad_avg=ga.handle, momentum_buffer=b.handle,
                               grad=g, scalars=scalars, **attrs)


# -- adagrad ---------------------------------------------------------------------------------
def _adagrad_native(alg, params, grads, slots, s) -> None:
    ops = native_ops()
    scalars = _native_scalars(s, ("clr", "eps", "lr", "weight_decay", "decay"), optional=frozenset({"decay"}))
    attrs = dict(decay=_native_decay(alg.weight_decay_form), eps_placement=alg.eps_placement,
                 update_slots=bool(alg.update_slots))
    for p, g, acc in zip(params, grads, slots["sum"]):
        ops.optbridge_adagrad(var=p.handle, sum=acc.handle, grad=g, scalars=scalars, **attrs)


def _always(alg) -> bool:
    return True


#: ``{algorithm name: Kernel fields}``: the fast paths, the hyperparameters they were
#: written for (any other set away from its default turns them off) and whether a
#: statically zero rule-side weight decay may skip step 0. An algorithm absent here
#: runs its rule only.
FAST_PATHS: dict[str, dict[str, Any]] = {
    "sgd": dict(
        fused=_sgd_fused, can_fuse=_sgd_can_fuse, raw=_sgd_raw, can_raw=_sgd_can_raw, separable_decay=True,
        hyperparameters=frozenset({"momentum", "dampening", "nesterov", "nesterov_form", "momentum_form",
                                   "weight_decay_form", "maximize"}),
    ),
    "adam": dict(
        native=_adam_native, can_native=_adam_can_native, fused=_adam_fused, can_fuse=_adam_can_fuse,
        raw=_adam_raw, can_raw=_adam_can_native, separable_decay=True,
        hyperparameters=frozenset({"beta1", "beta2", "eps", "amsgrad", "nesterov", "eps_placement", "power_form",
                                   "moment_form", "weight_decay_form", "maximize"}),
    ),
    "rmsprop": dict(
        native=_rmsprop_native, can_native=_always, fused=_rmsprop_fused, can_fuse=_rmsprop_can_fuse,
        separable_decay=True,
        hyperparameters=frozenset({"alpha", "eps", "momentum", "centered", "eps_placement", "initial_square_avg",
                                   "lr_placement", "arithmetic", "weight_decay_form", "maximize"}),
    ),
    "adagrad": dict(
        native=_adagrad_native, can_native=_always, separable_decay=True,
        hyperparameters=frozenset({"lr_decay", "eps", "initial_accumulator_value", "eps_placement", "update_slots",
                                   "weight_decay_form", "maximize"}),
    ),
}

_CACHE: dict[str, Kernel] = {}


def kernel(name: str) -> Kernel:
    """The :class:`Kernel` of the registered algorithm ``name``: its shared rule with the
    fast paths :data:`FAST_PATHS` gives it.

    Raises:
        KeyError: ``name`` defines no rule (a plugin's algorithm brings its own kernel
            through ``optbridge_kernels`` instead).
    """
    cached = _CACHE.get(name)
    if cached is not None:
        return cached
    if not algorithm_registry[name].has_rule():
        raise KeyError(f"{name!r} defines no update rule over the ops namespace")
    built = Kernel(name, None, **FAST_PATHS.get(name, {}))
    _CACHE[name] = built
    return built

