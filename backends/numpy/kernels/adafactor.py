"""NumPy kernel for canonical ``adafactor`` (op order: optbridge.algorithms.adafactor).

``row_var``/``col_var`` have the parameter's shape and hold the factored statistics
broadcast (``row_var[..., i, :]`` is row ``i``'s value, ``col_var[..., :, j]`` column ``j``'s).
"""
from __future__ import annotations

import math

import numpy as np

from ._ops import torch_lerp_

#: MindSpore's CPU kernel: floors of the statistics, and its block size for RMS sums.
_MS_FLOOR = 1e-30
_MS_BLOCK = 1000


def adafactor(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the Adafactor slots in place."""
    step = _torch_step if alg.arithmetic == "torch" else _mindspore_step
    for i, (p, g) in enumerate(zip(params, grads)):
        step(alg, p, g, {name: arrays[i] for name, arrays in slots.items()}, scalars)


def _eps1(alg, dtype) -> float:
    return float(np.finfo(dtype).eps) if alg.eps1 is None else alg.eps1


def _norm(x: np.ndarray) -> float:
    """The 2-norm of ``x`` rounded to ``x``'s dtype, as a Python float (torch ``x.norm(2).item()``)."""
    return float(x.dtype.type(np.sqrt(np.sum(np.square(x, dtype=np.float64)))))


def _torch_step(alg, p, g, s, scalars) -> None:
    t = p.dtype.type
    eps1 = _eps1(alg, p.dtype)
    n = p.size
    alpha = scalars["rho"]
    if alg.scale_parameter:
        alpha = max(scalars["eps2"], _norm(p) / n ** 0.5) * scalars["rho"]
    _decoupled_decay(alg, p, scalars)
    weight = scalars["one_minus_beta2_t"]
    if p.ndim >= 2:
        row_var, col_var = s["row_var"], s["col_var"]
        row = row_var[..., :1].copy()
        row_norm = np.sqrt(np.sum(g * g, axis=-1, keepdims=True))
        torch_lerp_(row, row_norm * row_norm / t(g.shape[-1]), weight)
        col = col_var[..., :1, :].copy()
        col_norm = np.sqrt(np.sum(g * g, axis=-2, keepdims=True))
        torch_lerp_(col, col_norm * col_norm / t(g.shape[-2]), weight)
        row_var[...] = row
        col_var[...] = col
        estimate = row * col
        estimate /= np.maximum(np.mean(row, axis=-2, keepdims=True, dtype=p.dtype), t(eps1))
    else:
        variance = s["variance"]
        torch_lerp_(variance, g * g, weight)
        estimate = variance.copy()
    update = t(1.0) / np.sqrt(np.maximum(estimate, t(eps1 * eps1)))
    update *= g
    denom = max(1.0, _norm(update) / (n ** 0.5 * scalars["clip_threshold"]))
    p += t(-alpha / denom) * update


def _decoupled_decay(alg, p, scalars) -> None:
    if alg.weight_decay_form == "decoupled" and scalars["weight_decay"] != 0:
        p *= p.dtype.type(scalars["decay"])


def _sequential_sum(x: np.ndarray, axis: int) -> np.ndarray:
    """Left-to-right sum along ``axis`` in ``x``'s dtype (a C loop's ``sum += x[i]``)."""
    return np.take(np.cumsum(x, axis=axis, dtype=x.dtype), -1, axis=axis)


def _mindspore_rms(x: np.ndarray):
    """MindSpore's ``CalcRMS``: sequential sums over blocks of up to 1000 elements, block sums
    added in order, ``sqrt(sum / n)``, all in ``x``'s dtype. (Above 1000 elements per CPU
    thread MindSpore splits by its thread count instead; that split is machine-dependent.)"""
    t = x.dtype.type
    flat = (x * x).ravel()
    blocks = max(1, math.ceil(flat.size / _MS_BLOCK))
    size = math.ceil(flat.size / blocks)
    total = t(0.0)
    for start in range(0, flat.size, size):
        total = total + _sequential_sum(flat[start:start + size], 0)
    return np.sqrt(total / t(flat.size))


def _mindspore_step(alg, p, g, s, scalars) -> None:
    t = p.dtype.type
    floor = t(_MS_FLOOR)
    beta2_t = t(scalars["beta2_t"])
    one_minus = t(1.0) - beta2_t
    q = g * g + t(_eps1(alg, p.dtype)) if alg.eps1_placement == "add" else g * g
    if p.ndim >= 2:
        rows, cols = g.shape[-2], g.shape[-1]
        row = s["row_var"][..., 0] * beta2_t + _sequential_sum(q, -1) / t(cols) * one_minus
        row_mean = np.maximum(_sequential_sum(row, -1) / t(rows), floor)
        r_factor = np.sqrt(row / row_mean[..., None])
        col = np.maximum(s["col_var"][..., 0, :] * beta2_t + _sequential_sum(q, -2) / t(rows) * one_minus, floor)
        s["row_var"][...] = row[..., None]
        s["col_var"][...] = col[..., None, :]
        update = g / np.maximum(r_factor[..., :, None] * np.sqrt(col)[..., None, :], floor)
    else:
        variance = s["variance"]
        variance[...] = np.maximum(variance * beta2_t + q * one_minus, floor)
        update = g / np.sqrt(variance)
    lr = t(scalars["rho"])
    if alg.scale_parameter:
        lr = lr * max(t(scalars["eps2"]), _mindspore_rms(p))
    update = update * (lr / max(_mindspore_rms(update) / t(scalars["clip_threshold"]), t(1.0)))
    if alg.beta1 > 0:
        m = s["exp_avg"]
        beta1 = t(scalars["beta1"])
        m[...] = m * beta1 + update * (t(1.0) - beta1)
        update = m.copy()
    _decoupled_decay(alg, p, scalars)
    if alg.weight_decay_form == "mindspore" and scalars["weight_decay"] != 0:
        p[...] = p - (update + p * t(scalars["weight_decay"]) * lr)
    else:
        p -= update
