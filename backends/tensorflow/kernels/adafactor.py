"""TensorFlow kernel for canonical ``adafactor`` (op order: optbridge.algorithms.adafactor).

Mirrors the NumPy reference (``optbridge.backends.numpy.kernels.adafactor``) op for op:

* ``arithmetic="torch"``: ``α = max(ε₂, ‖p‖/√n)·ρ`` with ``‖p‖`` summed in float64 and
  rounded to the dtype (torch's ``p.norm(2).item()``); decoupled decay ``p·decay``;
  factored (``ndim >= 2``) or full second moments through ATen's ``lerp`` with weight
  ``1−β₂ₜ``; ``u = (1/√max(v̂, ε₁²))·g``; ``p += u·(−α / max(1, ‖u‖/(√n·d)))``, the
  step factor formed in float64 and rounded to the dtype.
* ``arithmetic="mindspore"``: ``q = g² + ε₁``; row/column statistics from in-order sums
  (``tf.cumsum``'s last element, MindSpore's C loop); ``1e-30`` floors; RMS by MindSpore's
  1000-element block sums; optional first moment ``β₁``; ``"mindspore"`` weight decay
  ``p − (u + p·wd·α)``.

``row_var``/``col_var`` hold the factored statistics broadcast to the parameter's shape.
TensorFlow's reductions sum in their own order, so the torch-form row/column norms may
differ from NumPy's pairwise sums in the last bit.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from .base import Kernel

#: MindSpore's CPU kernel: floors of the statistics, and its block size for RMS sums.
_MS_FLOOR = 1e-30
_MS_BLOCK = 1000


def apply_kernel_decay(form: str, p: tf.Variable, s) -> None:
    """Step 0: ``p ← p·decay`` (``"decoupled"``); nothing for other forms."""
    if form == "decoupled":
        p.assign(p * s["decay"], read_value=False)


def torch_lerp(a, b, w):
    """ATen's ``lerp(a, b, w)`` with separate roundings: ``a + w·(b − a)`` for ``|w| < 0.5``,
    else ``b − (b − a)·(1 − w)``."""
    diff = b - a
    return tf.cond(tf.abs(w) < 0.5, lambda: a + w * diff, lambda: b - diff * (1 - w))


def _eps1(alg, dtype) -> float:
    return float(np.finfo(dtype.as_numpy_dtype).eps) if alg.eps1 is None else alg.eps1


def _norm64(x):
    """The 2-norm of ``x`` summed in float64, rounded to ``x``'s dtype, returned as float64."""
    x64 = tf.cast(x, tf.float64)
    return tf.cast(tf.cast(tf.sqrt(tf.reduce_sum(x64 * x64)), x.dtype), tf.float64)


def _torch_step(alg, p, g, s, scalars) -> None:
    dtype = p.dtype
    eps1 = _eps1(alg, dtype)
    n = int(np.prod(p.shape))
    rho = tf.cast(scalars["rho"], tf.float64)
    alpha = rho
    if alg.scale_parameter:
        alpha = tf.maximum(tf.cast(scalars["eps2"], tf.float64), _norm64(p) / n ** 0.5) * rho
    if alg.weight_decay_form == "decoupled":
        apply_kernel_decay("decoupled", p, scalars)
    weight = scalars["one_minus_beta2_t"]
    if len(p.shape) >= 2:
        row_var, col_var = s["row_var"], s["col_var"]
        row_norm = tf.sqrt(tf.reduce_sum(g * g, axis=-1, keepdims=True))
        row = torch_lerp(row_var[..., :1], row_norm * row_norm / tf.constant(g.shape[-1], dtype), weight)
        col_norm = tf.sqrt(tf.reduce_sum(g * g, axis=-2, keepdims=True))
        col = torch_lerp(col_var[..., :1, :], col_norm * col_norm / tf.constant(g.shape[-2], dtype), weight)
        row_var.assign(tf.broadcast_to(row, p.shape))
        col_var.assign(tf.broadcast_to(col, p.shape))
        estimate = (row * col) / tf.maximum(tf.reduce_mean(row, axis=-2, keepdims=True), tf.constant(eps1, dtype))
    else:
        variance = s["variance"]
        estimate = torch_lerp(variance, g * g, weight)
        variance.assign(estimate)
    update = (tf.constant(1.0, dtype) / tf.sqrt(tf.maximum(estimate, tf.constant(eps1 * eps1, dtype)))) * g
    clip = tf.cast(scalars["clip_threshold"], tf.float64)
    denom = tf.maximum(tf.constant(1.0, tf.float64), _norm64(update) / (n ** 0.5 * clip))
    p.assign_add(tf.cast(-alpha / denom, dtype) * update)


def _sequential_sum(x, axis: int):
    """Left-to-right sum along ``axis`` in ``x``'s dtype (a C loop's ``sum += x[i]``)."""
    return tf.gather(tf.cumsum(x, axis=axis), x.shape[axis] - 1, axis=axis)


def _mindspore_rms(x):
    """MindSpore's ``CalcRMS``: in-order sums over blocks of up to 1000 elements, block sums
    added in order, ``sqrt(sum / n)``, all in ``x``'s dtype."""
    flat = tf.reshape(x * x, [-1])
    size_total = int(flat.shape[0])
    blocks = max(1, math.ceil(size_total / _MS_BLOCK))
    size = math.ceil(size_total / blocks)
    total = tf.constant(0.0, x.dtype)
    for start in range(0, size_total, size):
        total = total + _sequential_sum(flat[start:start + size], 0)
    return tf.sqrt(total / tf.constant(size_total, x.dtype))


def _mindspore_step(alg, p, g, s, scalars) -> None:
    dtype = p.dtype
    one = tf.constant(1.0, dtype)
    floor = tf.constant(_MS_FLOOR, dtype)
    beta2_t = scalars["beta2_t"]
    one_minus = one - beta2_t
    q = g * g + tf.constant(_eps1(alg, dtype), dtype) if alg.eps1_placement == "add" else g * g
    if len(p.shape) >= 2:
        rows, cols = int(g.shape[-2]), int(g.shape[-1])
        row = s["row_var"][..., 0] * beta2_t + _sequential_sum(q, -1) / tf.constant(cols, dtype) * one_minus
        row_mean = tf.maximum(_sequential_sum(row, -1) / tf.constant(rows, dtype), floor)
        r_factor = tf.sqrt(row / row_mean[..., None])
        col = tf.maximum(s["col_var"][..., 0, :] * beta2_t
                         + _sequential_sum(q, -2) / tf.constant(rows, dtype) * one_minus, floor)
        s["row_var"].assign(tf.broadcast_to(row[..., None], p.shape))
        s["col_var"].assign(tf.broadcast_to(col[..., None, :], p.shape))
        update = g / tf.maximum(r_factor[..., :, None] * tf.sqrt(col)[..., None, :], floor)
    else:
        variance = s["variance"]
        new_variance = tf.maximum(variance * beta2_t + q * one_minus, floor)
        variance.assign(new_variance)
        update = g / tf.sqrt(new_variance)
    lr = scalars["rho"]
    if alg.scale_parameter:
        lr = lr * tf.maximum(scalars["eps2"], _mindspore_rms(p))
    update = update * (lr / tf.maximum(_mindspore_rms(update) / scalars["clip_threshold"], one))
    if alg.beta1 > 0:
        m = s["exp_avg"]
        beta1 = scalars["beta1"]
        update = m * beta1 + update * (one - beta1)
        m.assign(update)
    if alg.weight_decay_form == "decoupled":
        apply_kernel_decay("decoupled", p, scalars)
        p.assign_sub(update)
    else:
        p.assign(p - (update + p * scalars["weight_decay"] * lr))


def update(alg, params, grads, slots, scalars) -> None:
    step = _torch_step if alg.arithmetic == "torch" else _mindspore_step
    for i, (p, g) in enumerate(zip(params, grads)):
        step(alg, p, g, {name: variables[i] for name, variables in slots.items()}, scalars)


KERNEL = Kernel("adafactor", update, hyperparameters=frozenset({
    "beta1", "beta2_decay", "eps1", "eps2", "clip_threshold", "lr_rule", "scale_parameter", "eps1_placement",
    "weight_decay_form", "arithmetic", "maximize"}))
