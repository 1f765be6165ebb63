"""Elementwise building blocks shared by several TensorFlow kernels (mirrors the NumPy ``_ops``/``_decay``)."""
from __future__ import annotations

from typing import Mapping

import tensorflow as tf

__all__ = ["apply_kernel_decay", "torch_lerp", "update_moments"]


def apply_kernel_decay(form: str, p: tf.Variable, s: Mapping[str, tf.Tensor]) -> None:
    """Step 0 of a kernel: ``p ← p·decay`` (``"decoupled"``) or ``p ← p − (p·wd)·lr`` (``"keras"``).

    The canonical order skips it when ``wd == 0``; then ``decay`` is exactly 1 and
    ``(p·0)·lr`` is 0, so applying it unconditionally gives the same numbers without a
    data-dependent branch.
    """
    if form == "decoupled":
        p.assign(p * s["decay"])
    elif form == "keras":
        p.assign(p - (p * s["weight_decay"]) * s["lr"])


def torch_lerp(a: tf.Tensor, b: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
    """ATen's ``lerp(a, b, w)`` with separate roundings: ``a + w·(b − a)`` for ``|w| < 0.5``,
    else ``b − (b − a)·(1 − w)``."""
    diff = b - a
    return tf.cond(tf.abs(w) < 0.5, lambda: a + w * diff, lambda: b - diff * (1 - w))


def update_moments(alg, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: Mapping[str, tf.Tensor]) -> tuple:
    """Steps 1–2 of adam-family algorithms: the new first and second moments."""
    if alg.moment_form == "torch":
        return torch_lerp(m, g, s["one_minus_beta1"]), v * s["beta2"] + (s["one_minus_beta2"] * g) * g
    return m + (g - m) * s["one_minus_beta1"], v + (g * g - v) * s["one_minus_beta2"]
