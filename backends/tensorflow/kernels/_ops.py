"""Elementwise building blocks shared by several TensorFlow kernels (mirrors the NumPy ``_ops``/``_decay``)."""
from __future__ import annotations

from typing import Mapping

import tensorflow as tf

__all__ = ["add_scaled", "apply_kernel_decay", "descend", "divide_descend", "native_decay", "native_scalars",
           "torch_lerp", "update_moments", "update_moments_in_place"]


def descend(p: tf.Variable, alpha: tf.Tensor, delta: tf.Tensor) -> None:
    """``p ← p − delta·alpha`` in one pass over ``p``.

    ``tf.raw_ops.ResourceApplyGradientDescent`` (TensorFlow ``core/kernels/training_ops.cc``,
    ``ApplyGradientDescent``: ``var -= grad * alpha``) takes both operands as inputs and
    rounds the product, then the difference: bit for bit ``p.assign_sub(alpha·delta)``
    without the intermediate tensor.
    """
    tf.raw_ops.ResourceApplyGradientDescent(var=p.handle, alpha=alpha, delta=delta, use_locking=False)


def add_scaled(x: tf.Variable, delta: tf.Tensor, c: tf.Tensor) -> None:
    """``x ← x + delta·c`` in one pass over ``x``: :func:`descend` with ``alpha = −c``.

    ``x − delta·(−c)`` is ``x + delta·c`` bit for bit: negation is exact, rounding to
    nearest is symmetric, and IEEE 754 defines ``a − b`` as ``a + (−b)``.
    """
    descend(x, -c, delta)


def divide_descend(p: tf.Variable, lr: tf.Tensor, numer: tf.Tensor, accum: tf.Variable, eps: tf.Tensor) -> None:
    """``p ← p − (lr·numer)/(√accum + ε)`` in one pass; ``accum`` is read, not written.

    ``tf.raw_ops.ResourceApplyAdagradV2(update_slots=False)`` (``training_ops.cc``,
    ``ApplyAdagradV2``: ``var -= grad * lr / (accum.sqrt() + epsilon)``) takes every constant
    as an input and rounds each operation in this order.
    """
    tf.raw_ops.ResourceApplyAdagradV2(var=p.handle, accum=accum.handle, lr=lr, epsilon=eps, grad=numer,
                                      use_locking=False, update_slots=False)


def apply_kernel_decay(form: str, p: tf.Variable, s: Mapping[str, tf.Tensor]) -> None:
    """Step 0 of a kernel: ``p ← p·decay`` (``"decoupled"``) or ``p ← p − (p·wd)·lr`` (``"keras"``).

    The canonical order skips it when ``wd == 0``; then ``decay`` is exactly 1 and
    ``(p·0)·lr`` is 0, so applying it unconditionally gives the same numbers without a
    data-dependent branch.
    """
    if form == "decoupled":
        p.assign(p * s["decay"], read_value=False)
    elif form == "keras":
        descend(p, s["lr"], p * s["weight_decay"])


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


def update_moments_in_place(alg, g: tf.Tensor, m: tf.Variable, v: tf.Variable, s: Mapping[str, tf.Tensor]) -> None:
    """Steps 1–2 of adam-family algorithms written into the slots.

    ``"lerp"``/``"keras"``: ``m += (g − m)·(1 − β₁)`` and ``v += (g·g − v)·(1 − β₂)``, each
    one :func:`add_scaled` (the same roundings as forming ``m + (g − m)·(1 − β₁)``, in
    fewer passes); ``"torch"``: :func:`update_moments` assigned.
    """
    if alg.moment_form == "torch":
        m_new, v_new = update_moments(alg, g, m, v, s)
        m.assign(m_new, read_value=False)
        v.assign(v_new, read_value=False)
        return
    add_scaled(m, g - m, s["one_minus_beta1"])
    add_scaled(v, g * g - v, s["one_minus_beta2"])


def native_decay(form: str) -> str:
    """The native ops' ``decay`` attribute for a ``weight_decay_form`` (``"coupled"`` is
    pre-processing, so the kernel applies none)."""
    return form if form in ("decoupled", "keras") else "none"


def native_scalars(s: Mapping[str, tf.Tensor], names: tuple[str, ...], optional: frozenset = frozenset()) -> tf.Tensor:
    """The native ops' ``scalars`` vector: ``s[name]`` for each name, in order.

    A name in ``optional`` that the algorithm did not produce (e.g. ``decay`` without the
    decoupled form, ``momentum`` at 0) is fed as 0; the op never reads it then. Any other
    missing name is a programming error and raises ``KeyError``.
    """
    dtype = next(iter(s.values())).dtype
    zero = tf.zeros([], dtype)
    return tf.stack([s[n] if n in s or n not in optional else zero for n in names])
