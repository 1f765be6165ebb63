"""Adafactor (Shazeer & Stern 2018, arXiv:1804.04235): factored second moments, relative steps.

Canonical algorithm ``"adafactor"``. Lowered to by MindSpore ``nn.AdaFactor`` (the
fairseq/T5 form) and torch ``optim.Adafactor`` (added in torch 2.5); Keras
``optimizers.Adafactor`` takes a third set of flags. The three share the algorithm —
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
  with the update (MindSpore's kernel). Keras's base-class decay is a later addition.

``arithmetic`` picks whose float op order the kernel follows (and so fixes
``eps1_placement``; Keras's ``"add"`` with ``"min_lr"`` comes with its own arithmetic): ``"torch"``
(``torch/optim/_adafactor.py`` ``_single_tensor_adafactor``) or ``"mindspore"``
(MindSpore 2.10's CPU ``FusedAdaFactor`` kernel, which is what ``nn.AdaFactor`` runs on
CPU: sequential float32 sums, ``1e-30`` floors on the column statistics, the row-mean
normaliser and the denominator).

Host scalars at step ``t``: ``rho`` (ρₜ), ``beta2_t = 1 − t^{beta2_decay}`` and
``one_minus_beta2_t = t^{beta2_decay}`` in the dialect's precision (MindSpore evaluates
them in float32 from a float32 step counter), and torch's ``decay = 1 − lr·wd``.

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

The row and column statistics are stored broadcast to the parameter's shape (every
column of ``row_var`` holds its row's value), because slots have the parameter's shape;
the numbers are those of the factored statistics, the memory is not sublinear.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np

from ._decay import check_choice
from .base import Algorithm, HostStep, Slot, register_algorithm, scalar_type

__all__ = ["Adafactor"]

#: ρₜ of MindSpore's relative step (fairseq ``min_step``) and of its warm-up (``1e-6·t``).
RELATIVE_MIN_STEP = 1e-2
WARMUP_SLOPE = 1e-6


@register_algorithm
@dataclass(frozen=True)
class Adafactor(Algorithm):
    """Canonical Adafactor. See the module docstring for the op order."""

    name = "adafactor"
    weight_decay_mode = "kernel"
    beta1: float = 0.0
    beta2_decay: float = -0.8
    eps1: Optional[float] = None
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
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, ("decoupled", "mindspore"))
        check_choice(self.name, "arithmetic", self.arithmetic, ("torch", "mindspore"))
        expected = {"torch": "clamp", "mindspore": "add"}[self.arithmetic]
        if self.eps1_placement != expected:
            raise ValueError(
                f"algorithm 'adafactor': arithmetic {self.arithmetic!r} computes eps1_placement {expected!r} only. "
                f"Received: {self.eps1_placement!r}"
            )

    def slots(self) -> tuple[Slot, ...]:
        first = (Slot("exp_avg"),) if self.beta1 > 0 else ()
        return first + (Slot("row_var"), Slot("col_var"), Slot("variance"))

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
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "rho": float(rho),
            "beta2_t": float(t(1.0) - one_minus_beta2_t),
            "one_minus_beta2_t": float(one_minus_beta2_t),
            "beta1": float(t(self.beta1)),
            "eps2": float(t(self.eps2)),
            "clip_threshold": float(t(self.clip_threshold)),
            "decay": float(t(1.0) - lr * t(hs.weight_decay)),
        }
        return scalars, dict(host_state)

