"""JAX kernel for canonical ``adafactor`` (op order: ``optbridge.algorithms.adafactor``).

Mirrors the NumPy reference op for op, both arithmetics (``"torch"``: float64 norms
rounded to the dtype, ATen ``lerp`` moments, float64 step factor; ``"mindspore"``:
``g² + ε₁``, in-order sums via ``cumsum``, ``1e-30`` floors, 1000-element block RMS,
optional first moment, MindSpore weight decay). The float64 norms need
``jax_enable_x64``; without it they are float32. ``row_var``/``col_var`` hold the factored
statistics broadcast to the parameter's shape.
"""
from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from ..ops import sqrt

_MS_FLOOR = 1e-30
_MS_BLOCK = 1000


def _eps1(alg, dtype) -> float:
    return float(np.finfo(dtype).eps) if alg.eps1 is None else alg.eps1


def _norm64(x):
    """‖x‖ summed in float64, rounded to ``x``'s dtype, returned in float64."""
    x64 = x.astype(jnp.float64)
    return jnp.sqrt(jnp.sum(x64 * x64)).astype(x.dtype).astype(jnp.float64)


def _lerp(a, b, w):
    """ATen's ``lerp``: ``a + w·(b − a)`` for ``|w| < 0.5``, else ``b − (b − a)·(1 − w)``."""
    diff = b - a
    return jnp.where(jnp.abs(w) < 0.5, a + w * diff, b - diff * (1 - w))


def _torch_step(alg, p, g, s, sc):
    dtype = p.dtype
    eps1 = _eps1(alg, dtype)
    n = p.size
    rho = sc["rho"].astype(jnp.float64)
    alpha = rho
    if alg.scale_parameter:
        alpha = jnp.maximum(sc["eps2"].astype(jnp.float64), _norm64(p) / n ** 0.5) * rho
    if alg.weight_decay_form == "decoupled":
        p = jnp.where(sc["weight_decay"] != 0, p * sc["decay"], p)
    w = sc["one_minus_beta2_t"]
    out = dict(s)
    if p.ndim >= 2:
        row_norm = jnp.sqrt(jnp.sum(g * g, axis=-1, keepdims=True))
        row = _lerp(s["row_var"][..., :1], row_norm * row_norm / jnp.asarray(g.shape[-1], dtype), w)
        col_norm = jnp.sqrt(jnp.sum(g * g, axis=-2, keepdims=True))
        col = _lerp(s["col_var"][..., :1, :], col_norm * col_norm / jnp.asarray(g.shape[-2], dtype), w)
        out["row_var"] = jnp.broadcast_to(row, p.shape)
        out["col_var"] = jnp.broadcast_to(col, p.shape)
        estimate = (row * col) / jnp.maximum(jnp.mean(row, axis=-2, keepdims=True, dtype=dtype),
                                              jnp.asarray(eps1, dtype))
    else:
        estimate = _lerp(s["variance"], g * g, w)
        out["variance"] = estimate
    update = (jnp.asarray(1.0, dtype) / sqrt(jnp.maximum(estimate, jnp.asarray(eps1 * eps1, dtype)))) * g
    denom = jnp.maximum(1.0, _norm64(update) / (n ** 0.5 * sc["clip_threshold"].astype(jnp.float64)))
    return p + (-alpha / denom).astype(dtype) * update, out


def _sequential_sum(x, axis):
    return jnp.take(jnp.cumsum(x, axis=axis), -1, axis=axis)


def _mindspore_rms(x):
    flat = (x * x).ravel()
    blocks = max(1, math.ceil(flat.size / _MS_BLOCK))
    size = math.ceil(flat.size / blocks)
    total = jnp.zeros((), x.dtype)
    for start in range(0, flat.size, size):
        total = total + _sequential_sum(flat[start:start + size], 0)
    return jnp.sqrt(total / jnp.asarray(flat.size, x.dtype))


def _mindspore_step(alg, p, g, s, sc):
    dtype = p.dtype
    one = jnp.asarray(1.0, dtype)
    floor = jnp.asarray(_MS_FLOOR, dtype)
    beta2_t = sc["beta2_t"]
    one_minus = one - beta2_t
    q = g * g + jnp.asarray(_eps1(alg, dtype), dtype) if alg.eps1_placement == "add" else g * g
    out = dict(s)
    if p.ndim >= 2:
        rows, cols = g.shape[-2], g.shape[-1]
        row = s["row_var"][..., 0] * beta2_t + _sequential_sum(q, -1) / jnp.asarray(cols, dtype) * one_minus
        row_mean = jnp.maximum(_sequential_sum(row, -1) / jnp.asarray(rows, dtype), floor)
        r_factor = jnp.sqrt(row / row_mean[..., None])
        col = jnp.maximum(s["col_var"][..., 0, :] * beta2_t
                          + _sequential_sum(q, -2) / jnp.asarray(rows, dtype) * one_minus, floor)
        out["row_var"] = jnp.broadcast_to(row[..., None], p.shape)
        out["col_var"] = jnp.broadcast_to(col[..., None, :], p.shape)
        update = g / jnp.maximum(r_factor[..., :, None] * jnp.sqrt(col)[..., None, :], floor)
    else:
        variance = jnp.maximum(s["variance"] * beta2_t + q * one_minus, floor)
        out["variance"] = variance
        update = g / sqrt(variance)
    lr = sc["rho"]
    if alg.scale_parameter:
        lr = lr * jnp.maximum(sc["eps2"], _mindspore_rms(p))
    update = update * (lr / jnp.maximum(_mindspore_rms(update) / sc["clip_threshold"], one))
    if alg.beta1 > 0:
        update = s["exp_avg"] * sc["beta1"] + update * (one - sc["beta1"])
        out["exp_avg"] = update
    if alg.weight_decay_form == "decoupled":
        p = jnp.where(sc["weight_decay"] != 0, p * sc["decay"], p)
        return p - update, out
    wd = sc["weight_decay"]
    return jnp.where(wd != 0, p - (update + p * wd * lr), p - update), out


def adafactor(alg, params, grads, slots, scalars):
    """Adafactor in the algorithm's ``arithmetic`` (torch or MindSpore)."""
    step = _torch_step if alg.arithmetic == "torch" else _mindspore_step
    new_params = []
    new_slots = {name: [] for name in slots}
    for i, (p, g) in enumerate(zip(params, grads)):
        p, out = step(alg, p, g, {name: arrays[i] for name, arrays in slots.items()}, scalars)
        new_params.append(p)
        for name in slots:
            new_slots[name].append(out[name])
    return new_params, new_slots
