"""Adafactor (Shazeer & Stern 2018, arXiv:1804.04235): factored second moments, relative steps.

Canonical algorithm ``"adafactor"``. Lowered to by MindSpore ``nn.AdaFactor`` (the
fairseq/T5 form), torch ``optim.Adafactor`` (added in torch 2.5) and Keras
``optimizers.Adafactor`` (Keras 3.15, ``keras/src/optimizers/adafactor.py``). The three share the algorithm —
second moments factored into row and column statistics for tensors with ``ndim >= 2``,
``β₂ₜ = 1 − t^{beta2_decay}``, an update clipped to RMS ``clip_threshold``, a step scaled
by ``max(ε₂, RMS(p))`` — and differ on these axes, each a flag:

* ``eps1_placement`` — ``"add"``: ε₁ is added to ``g²`` before it is averaged (MindSpore,
  Keras, the paper) · ``"clamp"``: the variance estimate is clamped to at least ε₁²
  and the row-mean normaliser to at least ε₁ (torch). ``eps1=None`` is torch's default,
  the machine epsilon of the parameter's dtype.
* ``lr_rule`` — the relative step size ρₜ: ``"min_lr"``: ``min(lr, 1/√t)`` (torch, Keras)
  · ``"lr"``: ``lr`` (MindSpore ``relative_step=False``) · ``"relative"``:
  ``min(1e-2, 1/√t)``, the external lr unused (MindSpore ``relative_step=True``) ·
  ``"relative_warmup"``: ``min(1e-6·t, 1/√t)`` (MindSpore ``warmup_init=True``).
* ``scale_parameter`` — ``α = ρ·max(ε₂, RMS(p))`` (torch and Keras always) or ``α = ρ``.
* ``beta1`` — MindSpore's optional first moment of the clipped update (0: none; torch
  and Keras have none).
* ``weight_decay_form`` — ``"decoupled"``: ``p ← p·(1 − lr·wd)`` before the update
  (torch; the *external* lr, not ρ) · ``"mindspore"``: ``p ← p − (u + p·wd·α)`` together
  with the update (MindSpore's kernel) · ``"keras"``: ``p ← p − (p·wd)·lr`` before
  everything else (Keras's ``BaseOptimizer._apply_weight_decay``, the external lr), so
  ``RMS(p)`` is taken of the decayed parameter.

``arithmetic`` picks whose float op order the kernel follows (and so fixes
``eps1_placement``): ``"torch"`` (``torch/optim/_adafactor.py``
``_single_tensor_adafactor``), ``"mindspore"`` (MindSpore 2.10's CPU ``FusedAdaFactor``
kernel, which is what ``nn.AdaFactor`` runs on CPU: sequential float32 sums, ``1e-30``
floors on the column statistics, the row-mean normaliser and the denominator) or
``"keras"`` (``Adafactor.update_step``: no floors, ``v̂`` formed from the row statistic
divided by its mean, ``ops.maximum`` and ``ops.minimum``, every mean a sum divided by
the count).

Host scalars at step ``t``: ``rho`` (ρₜ), ``beta2_t = 1 − t^{beta2_decay}`` and
``one_minus_beta2_t = t^{beta2_decay}`` in the dialect's precision (MindSpore evaluates
them in float32 from a float32 step counter; the keras arithmetic forms
``one_minus_beta2_t = 1 − β₂ₜ`` from the rounded ``β₂ₜ``, as Keras's
``ops.subtract(1, beta_2_t)``), and torch's ``decay = 1 − lr·wd``.

Canonical op order, torch (``g`` after negation for ``maximize``; slots ``row_var`` R,
``col_var`` C for ``ndim >= 2``, ``variance`` V otherwise):

1. ``α = max(ε₂, ‖p‖/√n)·ρ`` (host arithmetic on the dtype's norm of ``p``)
2. ``wd ≠ 0``: ``p = p·decay``
3. ``ndim >= 2``: ``R = lerp(R, ‖g‖²_row/n_col, 1−β₂ₜ)``, ``C = lerp(C, ‖g‖²_col/n_row, 1−β₂ₜ)``,
   ``v̂ = (R ⊗ C) / max(mean_rows(R), ε₁)`` · else ``V = lerp(V, g·g, 1−β₂ₜ)``, ``v̂ = V``
4. ``u = (1/√max(v̂, ε₁²))·g``
5. ``p = p + u·(−α / max(1, ‖u‖/(√n·d)))``

Canonical op order, mindspore (all in the parameter's dtype; sums sequential):

1. ``q = g·g + ε₁``
2. ``ndim >= 2``: ``R = R·β₂ₜ + mean_last(q)·(1−β₂ₜ)``;
   ``r = √(R / max(mean(R), 1e-30))``; ``C = max(C·β₂ₜ + mean_rows(q)·(1−β₂ₜ), 1e-30)``;
   ``u = g / max(r ⊗ √C, 1e-30)`` · else ``V = max(V·β₂ₜ + q·(1−β₂ₜ), 1e-30)``, ``u = g/√V``
3. ``α = ρ·max(ε₂, RMS(p))`` (``scale_parameter``) or ``α = ρ``
4. ``u = u·(α / max(RMS(u)/d, 1))``
5. ``β₁ > 0``: ``m = m·β₁ + u·(1−β₁)``, ``u = m``
6. ``p = p − (u + p·wd·α)`` with weight decay, else ``p = p − u``

Canonical op order, keras (all in the parameter's dtype; ``mean`` is the float32 squares
summed in float64, rounded once, then divided by the count — Keras sums in float32 in
its backend's reduction order, which the float64 sum reproduces where that order's
result is the correctly rounded one — so every backend agrees):

0. ``p = p − (p·wd)·lr``
1. ``α = max(ε₂, √mean(p·p))·ρ`` (``scale_parameter``) or ``α = ρ``
2. ``q = g·g + ε₁``
3. ``ndim >= 2``: ``R = β₂ₜ·R + (1−β₂ₜ)·mean_last(q)``; ``C = β₂ₜ·C + (1−β₂ₜ)·mean_rows(q)``;
   ``v = (R / mean_rows(R))·C`` · else ``V = β₂ₜ·V + (1−β₂ₜ)·q``, ``v = V``
4. ``u = g / √v``
5. ``p = p − α·(u / max(1, √mean(u·u) / d))``

Keras keeps ``v`` of a factored parameter in a full-size ``velocity`` variable that each
step overwrites from ``R`` and ``C``; here it is formed in the step and not stored.

The statistics are stored factored, in torch's layout (``Slot`` shape kinds ``"row"``,
``"col"``, ``"unfactored"``): for ``ndim >= 2``, ``row_var`` of shape ``P[:-1] + (1,)``
and ``col_var`` of ``P[:-2] + (1, P[-1])`` (``R + C`` numbers for an ``R×C`` matrix) and no
``variance``; otherwise ``variance`` of ``P`` and no ``row_var``/``col_var``. A state dict
may hold ``row_var``/``col_var`` in MindSpore's (``exp_avg_sq_row`` ``P[:-1]``,
``exp_avg_sq_col`` ``P[:-2] + P[-1:]``) or Keras's layout, the same elements without the
size-1 axis; they load reshaped. (MindSpore's and Keras's size-1 placeholders for the
slots a parameter does not use have no counterpart here.) ``exp_avg`` (``beta1 > 0``) has
the parameter's shape.

The rule (:meth:`Adafactor.update_tensor`) computes the torch arithmetic's host values as
0-d float64 arrays on the device, so it traces whole: ``α``, the clip denominator and the
step factor (``max`` as Python's ``max(a, b)``, ``b if b > a else a``, which keeps ``a``
when ``b`` is NaN), with ``ρ``, ``ε₂`` and ``d`` handed over in float64
(:attr:`Adafactor.float64_scalars`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import apply_rule_decay, check_choice

__all__ = ["Adafactor"]

#: ρₜ of MindSpore's relative step (fairseq ``min_step``) and of its warm-up (``1e-6·t``).
RELATIVE_MIN_STEP = 1e-2
WARMUP_SLOPE = 1e-6

#: MindSpore's CPU kernel: the floor of its statistics and denominators, and its block size for RMS sums.
MS_FLOOR = 1e-30
MS_BLOCK = 1000

#: The machine epsilon of each dtype (torch's default ε₁).
MACHINE_EPS = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7, "float32": 2.0 ** -23, "float64": 2.0 ** -52}


@register_algorithm
@dataclass(frozen=True)
class Adafactor(Algorithm):
    """Canonical Adafactor. See the module docstring for the op order."""

    name = "adafactor"
    elementwise = False
    weight_decay_applied_by = "rule"
    beta1: float = 0.0
    beta2_decay: float = -0.8
    eps1: float | None = None
    eps2: float = 1e-3
    clip_threshold: float = 1.0
    lr_rule: str = "min_lr"
    scale_parameter: bool = True
    eps1_placement: str = "clamp"
    weight_decay_form: str = "decoupled"
    arithmetic: str = "torch"

    def __post_init__(self) -> None:
        check_choice(self.name, "lr_rule", self.lr_rule, ("min_lr", "lr", "relative", "relative_warmup"))
        check_choice(self.name, "eps1_placement", self.eps1_placement, ("clamp", "add"))
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, ("decoupled", "mindspore", "keras"))
        check_choice(self.name, "arithmetic", self.arithmetic, ("torch", "mindspore", "keras"))
        expected = {"torch": "clamp", "mindspore": "add", "keras": "add"}[self.arithmetic]
        if self.eps1_placement != expected:
            raise ValueError(
                f"algorithm 'adafactor': arithmetic {self.arithmetic!r} computes eps1_placement {expected!r} only. "
                f"Received: {self.eps1_placement!r}"
            )
        if self.arithmetic == "keras" and self.beta1 > 0:
            raise ValueError(f"algorithm 'adafactor': arithmetic 'keras' has no first moment (beta1 = 0). "
                             f"Received: beta1={self.beta1!r}")

    @property
    def float64_scalars(self) -> frozenset[str]:
        """Host scalars a backend hands the rule as float64 0-d values, whatever the bucket's
        dtype: the torch arithmetic forms ``α`` and the step factor in float64 from them."""
        return frozenset({"rho", "eps2", "clip_threshold"}) if self.arithmetic == "torch" else frozenset()

    def update_tensor(self, ops, p, g, state, s):
        if self.arithmetic == "torch":
            return self._torch_update(ops, p, g, state, s)
        if self.arithmetic == "keras":
            return self._keras_update(ops, p, g, state, s)
        return self._mindspore_update(ops, p, g, state, s)

    def _torch_update(self, ops, p, g, state, s):
        """The torch op order (module docstring), steps 1-5."""
        dtype, shape = ops.dtype_of(p), ops.shape_of(p)
        eps1 = _eps1(self, dtype)
        sqrt_n = ops.scalar(math.prod(shape) ** 0.5, s["rho"])
        alpha = s["rho"]
        if self.scale_parameter:
            alpha = _python_max(ops, s["eps2"], ops.div(_norm64(ops, p), sqrt_n)) * s["rho"]
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        w = s["one_minus_beta2_t"]
        factored = len(shape) >= 2
        if factored:
            # the slots as written are the statistics (no copy of R and C stays alive)
            row_var, col_var = state["row_var"], state["col_var"]
            row_var = state["row_var"] = ops.assign_(
                row_var, _aten_lerp(ops, row_var, _mean_square(ops, g, -1, shape[-1]), w))
            col_var = state["col_var"] = ops.assign_(
                col_var, _aten_lerp(ops, col_var, _mean_square(ops, g, -2, shape[-2]), w))
            stats = (row_var, col_var, ops.maximum(ops.mean_axes(row_var, [-2]), ops.scalar(eps1, p)))
        else:
            state["variance"] = ops.assign_(state["variance"], _aten_lerp(ops, state["variance"], g * g, w))
            stats = (state["variance"],)
        one, floor = ops.scalar(1.0, p), ops.scalar(eps1 * eps1, p)

        def scaled(g: Any, *stats: Any) -> Any:
            """``u = (1/√max(v̂, ε₁²))·g``, ``v̂ = (R ⊗ C) / max(mean_rows(R), ε₁)`` or ``V``."""
            estimate = ops.div(stats[0] * stats[1], stats[2]) if factored else stats[0]
            return ops.div(one, ops.sqrt(ops.maximum(estimate, floor))) * g

        # u and the step are elementwise: NumPy forms them a block at a time (only u is whole)
        update = ops.blockwise(scaled, g, *stats)
        ratio = ops.div(_norm64(ops, update), sqrt_n * s["clip_threshold"])
        denom = _python_max(ops, ops.scalar(1.0, ratio), ratio)
        factor = ops.astype(ops.div(-alpha, denom), dtype)
        return ops.blockwise_(ops.add_, p, lambda u: factor * u, update)

    def _keras_update(self, ops, p, g, state, s):
        """The Keras op order (module docstring), steps 0-5, all in ``p``'s dtype."""
        dtype, shape = ops.dtype_of(p), ops.shape_of(p)
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        alpha = s["rho"]
        if self.scale_parameter:
            alpha = ops.maximum(_keras_rms(ops, p), s["eps2"]) * alpha
        beta2_t, one_minus = s["beta2_t"], s["one_minus_beta2_t"]
        q = ops.square(g) + ops.scalar(_eps1(self, dtype), p)
        if len(shape) >= 2:
            row = state["row_var"] = ops.assign_(
                state["row_var"], state["row_var"] * beta2_t + _keras_mean(ops, q, -1) * one_minus)
            col = state["col_var"] = ops.assign_(
                state["col_var"], state["col_var"] * beta2_t + _keras_mean(ops, q, -2) * one_minus)
            del q
            estimate = ops.div(row, _keras_mean(ops, row, -2)) * col
        else:
            estimate = state["variance"] = ops.assign_(state["variance"], state["variance"] * beta2_t + q * one_minus)
        update = ops.div(g, ops.sqrt(estimate))
        denom = ops.maximum(ops.scalar(1.0, p), ops.div(_keras_rms(ops, update), s["clip_threshold"]))
        return ops.blockwise_(ops.sub_, p, lambda u: alpha * ops.div(u, denom), update)

    def _mindspore_update(self, ops, p, g, state, s):
        """The MindSpore op order (module docstring), steps 1-6, all in ``p``'s dtype."""
        dtype, shape = ops.dtype_of(p), ops.shape_of(p)
        one, floor = ops.scalar(1.0, p), ops.scalar(MS_FLOOR, p)
        beta2_t = s["beta2_t"]
        one_minus = one - beta2_t
        q = g * g + ops.scalar(_eps1(self, dtype), p)
        if len(shape) >= 2:
            rows, cols = shape[-2], shape[-1]
            row_var, col_var = state["row_var"], state["col_var"]
            row_sum = ops.reshape(ops.sequential_sum(q, -1), shape[:-1] + (1,))
            row = row_var * beta2_t + ops.div(row_sum, ops.scalar(cols, p)) * one_minus
            row_total = ops.reshape(ops.sequential_sum(row, -2), shape[:-2] + (1, 1))
            row_mean = ops.maximum(ops.div(row_total, ops.scalar(rows, p)), floor)
            r_factor = ops.sqrt(ops.div(row, row_mean))
            col_sum = ops.reshape(ops.sequential_sum(q, -2), shape[:-2] + (1, cols))
            col = ops.maximum(col_var * beta2_t + ops.div(col_sum, ops.scalar(rows, p)) * one_minus, floor)
            state["row_var"] = ops.assign_(row_var, row)
            state["col_var"] = ops.assign_(col_var, col)
            update = ops.div(g, ops.maximum(r_factor * ops.sqrt(col), floor))
        else:
            variance = state["variance"] = ops.assign_(
                state["variance"], ops.maximum(state["variance"] * beta2_t + q * one_minus, floor))
            update = ops.div(g, ops.sqrt(variance))
        lr = s["rho"]
        if self.scale_parameter:
            lr = lr * _python_max(ops, s["eps2"], _mindspore_rms(ops, p))
        update = update * ops.div(lr, _python_max(ops, ops.div(_mindspore_rms(ops, update), s["clip_threshold"]), one))
        if self.beta1 > 0:
            update = state["exp_avg"] = ops.assign_(
                state["exp_avg"], state["exp_avg"] * s["beta1"] + update * (one - s["beta1"]))
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        if self.weight_decay_form == "mindspore":
            wd = s["weight_decay"]
            return ops.assign_(p, ops.where(ops.equal(wd, 0.0), p - update, p - (update + p * wd * lr)))
        return ops.sub_(p, update)

    def slots(self) -> tuple[Slot, ...]:
        first = (Slot("exp_avg"),) if self.beta1 > 0 else ()
        return first + (Slot("row_var", shape="row"), Slot("col_var", shape="col"),
                        Slot("variance", shape="unfactored"))

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), "rho": NUMBER, "beta2_t": NUMBER, "one_minus_beta2_t": NUMBER,
                "beta1": NUMBER, "eps2": NUMBER, "clip_threshold": NUMBER, "decay": NUMBER}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        step = t(hs.step)
        lr = t(hs.lr)
        inv_sqrt = t(1.0) / np.sqrt(step)
        one_minus_beta2_t = step ** t(self.beta2_decay)
        if self.lr_rule == "min_lr":
            rho = min(lr, inv_sqrt)
        elif self.lr_rule == "lr":
            rho = lr
        elif self.lr_rule == "relative":
            rho = min(t(RELATIVE_MIN_STEP), inv_sqrt)
        else:
            rho = min(t(WARMUP_SLOPE) * step, inv_sqrt)
        beta2_t = t(1.0) - one_minus_beta2_t
        if self.arithmetic == "keras":
            one_minus_beta2_t = t(1.0) - beta2_t
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "rho": float(rho),
            "beta2_t": float(beta2_t),
            "one_minus_beta2_t": float(one_minus_beta2_t),
            "beta1": float(t(self.beta1)),
            "eps2": float(t(self.eps2)),
            "clip_threshold": float(t(self.clip_threshold)),
            "decay": float(t(1.0) - lr * t(hs.weight_decay)),
        }
        return scalars, dict(host_state)


def _eps1(alg: Adafactor, dtype: str) -> float:
    return MACHINE_EPS[dtype] if alg.eps1 is None else alg.eps1


def _slice(ops: Any, x: Any, axis: int, start: int, stop: int) -> Any:
    """``x`` restricted to ``start:stop`` along ``axis`` (basic indexing, the axis kept),
    which every backend's arrays implement and which rounds nothing."""
    axis %= len(ops.shape_of(x))
    return x[(slice(None),) * axis + (slice(start, stop),)]


def _python_max(ops: Any, a: Any, b: Any) -> Any:
    """Python's ``max(a, b)``: ``b if b > a else a`` (so ``a`` when either is NaN)."""
    return ops.where(ops.greater(b, a), b, a)


def _aten_lerp(ops: Any, a: Any, b: Any, w: Any) -> Any:
    """ATen's ``lerp(a, b, w)``, the branch on ``|w| < 0.5`` taken with ``where`` (``w`` is
    ``1 − β₂ₜ``, which crosses 0.5 as the step grows)."""
    small = ops.less(ops.abs(w), ops.scalar(0.5, w))
    return ops.where(small, ops.lerp(a, b, w, small=True), ops.lerp(a, b, w, small=False))


def _mean_square(ops: Any, g: Any, axis: int, n: int) -> Any:
    """``‖g‖²/n`` along ``axis`` (torch's ``g.norm(dim=axis).square_().div_(n)``): the
    norm rounded, then squared, then divided."""
    norm = ops.sqrt(ops.sum_axis(g * g, axis))
    return ops.div(norm * norm, ops.scalar(n, g))


def _norm64(ops: Any, x: Any) -> Any:
    """``‖x‖`` summed in float64 (NumPy's pairwise order), rounded to ``x``'s dtype, as a
    0-d float64 array (torch's ``x.norm(2).item()``)."""
    return ops.astype(ops.astype(ops.norm(x, "float64"), ops.dtype_of(x)), "float64")


def _keras_mean(ops: Any, x: Any, axis: int | None = None) -> Any:
    """Keras's ``ops.mean(x, axis)`` (over every element for ``axis`` ``None``; along
    ``axis`` kept as a size-1 dimension): ``x`` summed in float64, rounded once to ``x``'s
    dtype, divided by the count in ``x``'s dtype."""
    dtype, shape = ops.dtype_of(x), ops.shape_of(x)
    wide = ops.astype(x, "float64")
    if axis is None:
        total, count = ops.sum(wide), math.prod(shape)
    else:
        total, count = ops.sum_axis(wide, axis), shape[axis]
    rounded = ops.astype(total, dtype)
    return ops.div(rounded, ops.scalar(count, rounded))


def _keras_rms(ops: Any, x: Any) -> Any:
    """Keras's ``Adafactor._rms``: ``√mean(x·x)`` (squares rounded in ``x``'s dtype)."""
    return ops.sqrt(_keras_mean(ops, ops.square(x)))


def _mindspore_rms(ops: Any, x: Any) -> Any:
    """MindSpore's ``CalcRMS``: in-order sums of ``x·x`` (C order) over blocks of up to 1000
    elements, the block sums added in order to ``0``, then ``√(sum / n)``, all in ``x``'s
    dtype. (Above 1000 elements per CPU thread MindSpore splits by its thread count
    instead; that split is machine-dependent.)"""
    n = math.prod(ops.shape_of(x))
    flat = ops.reshape(x * x, (n,))
    size = math.ceil(n / max(1, math.ceil(n / MS_BLOCK)))
    total = ops.scalar(0.0, x)
    for start in range(0, n, size):
        total = total + ops.sequential_sum(_slice(ops, flat, 0, start, start + size), 0)
    return ops.sqrt(ops.div(total, ops.scalar(n, x)))
