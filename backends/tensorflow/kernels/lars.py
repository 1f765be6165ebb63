"""TensorFlow kernel for canonical ``lars`` (op order: optbridge.algorithms.lars).

On the parameters LARS applies to (a host scalar per bucket), the gradient becomes
``(p·wd + g)·trust`` with ``trust = (coefficient·‖p‖)/((‖p‖·wd + ‖g‖) + ε)``
(clipped to ``[0, 1]`` after division by ``lr`` with ``use_clip``); then the TensorFlow
kernel of ``alg.inner`` runs with ``scalars["inner"]``.
"""
from __future__ import annotations

import tensorflow as tf

from .. import ops as tf_ops
from .base import Kernel, flag, resolve_kernel


def _trust_scaled(alg, p, g, s):
    wd = s["weight_decay"]
    w_norm = tf.sqrt(tf.reduce_sum(p * p))
    g_norm = tf.sqrt(tf.reduce_sum(g * g))
    trust = (s["coefficient"] * w_norm) / ((w_norm * wd + g_norm) + s["epsilon"])
    if alg.use_clip:
        trust = tf.maximum(tf.minimum(trust / s["lr"], tf.ones_like(trust)), tf.zeros_like(trust))
    return (p * wd + g) * trust


def update(alg, params, grads, slots, s) -> None:
    from . import KERNELS  # the registry imports this module lazily

    on = flag(s["lars"])
    grads = [tf.cond(on, lambda p=p, g=g: _trust_scaled(alg, p, g, s), lambda g=g: tf.identity(g))
             for p, g in zip(params, grads)]
    inner = resolve_kernel(KERNELS[alg.inner.name], alg.inner.name)
    if inner.update is None:
        alg.inner.update(tf_ops, list(params), grads, {k: list(v) for k, v in slots.items()}, s["inner"])
    else:
        inner.update(alg.inner, params, grads, slots, s["inner"])


KERNEL = Kernel("lars", update, hyperparameters=frozenset({"inner", "coefficient", "epsilon", "use_clip", "lars_filter",
                                                           "loss_scale", "maximize"}))
