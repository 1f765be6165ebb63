"""FTRL-Proximal (McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches").

Canonical algorithm ``"ftrl"``. Lowered to by MindSpore ``nn.FTRL``; Keras 3
``optimizers.Ftrl`` takes the Keras flags. Sources: MindSpore 2.10 ``nn.FTRL`` docs and its
``ApplyFtrl`` CPU/GPU kernels (``apply_ftrl_cpu_kernel.cc``, ``ftrl_impl.cu``); Keras 3
``keras/src/optimizers/ftrl.py``. The slots are TF's: the accumulator ``accum`` (``n``,
starting at ``initial_accumulator_value``) and the linear term ``linear`` (``u``, zero).

Dialect axes (DIALECTS.md D12), each an explicit flag:

* ``l1_sign`` — ``"signed"``: the closed-form weight is ``(sign(u)·l1 − u)/q``, as MindSpore
  documents and its GPU kernel computes, and as Keras/TF compute (Keras writes it
  ``(clip(u, −l1, l1) − u)/q``, the same numbers). ``"positive"``: ``(l1 − u)/q`` for every
  ``|u| > l1`` — MindSpore 2.10's CPU ``ApplyFtrl`` kernel evaluates ``linear ? l1 : −l1``,
  which is ``+l1`` for any non-zero ``u``, so it differs from the formula where ``u < −l1``.
  Equal when ``l1 = 0``.
* ``l2_shrinkage`` — Keras ``l2_shrinkage_regularization_strength``: the linear term
  accumulates ``g + 2·l2_shrinkage·p`` while the accumulator still takes ``g²`` (0 in
  MindSpore).
* ``beta`` — Keras: the quadratic term uses ``l2 + beta/(2·lr)`` (0 in MindSpore).
* ``power_precision`` — ``"float64"``: ``n**p`` is evaluated in float64 and rounded to the
  parameter's dtype (MindSpore's CPU kernel calls C++ ``pow`` on float arguments, which
  promotes to double; bit for bit on the CPU build) · ``"native"``: in the parameter's
  dtype (Keras ``ops.power``). Only ``lr_power`` other than ``-0.5`` and ``0`` tells them apart
  in practice.
* ``weight_decay_form`` — ``"coupled"`` (MindSpore: ``g + wd·p`` before the update) or
  ``"keras"`` (``p − (p·wd)·lr`` first, Keras's base optimizer); see
  :mod:`optbridge.algorithms.weight_decay`.

Host scalars, in ``precision`` (MindSpore feeds ``lr``, ``l1``, ``l2`` and ``lr_power`` to
its kernel as float32): ``neg_lr_power = −lr_power``, ``l1``, ``two_l2 = 2·l2_eff`` with
``l2_eff = l2 + beta/(2·lr)``, ``two_l2_shrinkage = 2·l2_shrinkage``.

Canonical op order (``g`` pre-processed; slots ``accum`` = n, ``linear`` = u; ``p = −lr_power``):

0. rule-side weight decay (``"keras"``: ``p = p − (p·wd)·lr``), at every step (with
   ``wd = 0`` it leaves every finite ``p`` unchanged).
1. ``n' = n + g·g``
2. ``a = n**p``, ``a' = n'**p`` (``"float64"``: ``n`` and ``p`` widened to float64, the power
   rounded back to the parameter's dtype; ``"native"``: in the parameter's dtype)
3. ``u = u + (g_s − ((a' − a)/lr)·w)`` with ``g_s = g`` or, when ``l2_shrinkage ≠ 0``,
   ``g_s = g + two_l2_shrinkage·w``
4. where ``|u| > l1``: ``w = (s − u)/(a'/lr + two_l2)`` with ``s = sign(u)·l1`` (signed) or
   ``s = l1`` (positive); elsewhere (also where ``u`` is NaN) ``w = 0``.
5. ``n = n'``
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import DecayAppliedBy, apply_rule_decay, check_choice

__all__ = ["FTRL"]

L1_SIGNS = ("signed", "positive")
POWER_PRECISIONS = ("float64", "native")
WEIGHT_DECAY_FORMS = ("coupled", "keras")


@register_algorithm
@dataclass(frozen=True)
class FTRL(Algorithm):
    """Canonical FTRL-Proximal. See the module docstring for the op order."""

    name = "ftrl"
    lr_power: float = -0.5
    l1: float = 0.0
    l2: float = 0.0
    initial_accumulator_value: float = 0.1
    l1_sign: str = "signed"
    l2_shrinkage: float = 0.0
    beta: float = 0.0
    power_precision: str = "float64"
    weight_decay_form: str = "coupled"

    weight_decay_applied_by = DecayAppliedBy()

    def __post_init__(self) -> None:
        check_choice(self.name, "l1_sign", self.l1_sign, L1_SIGNS)
        check_choice(self.name, "power_precision", self.power_precision, POWER_PRECISIONS)
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, WEIGHT_DECAY_FORMS)

    def update_tensor(self, ops, p, g, state, s):
        lr, l1 = s["lr"], s["l1"]
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        n, u = state["accum"], state["linear"]
        n_new = n + g * g
        if self.power_precision == "float64":
            dtype, power = ops.dtype_of(p), ops.astype(s["neg_lr_power"], "float64")
            a_old = ops.astype(ops.power(ops.astype(n, "float64"), power), dtype)
            a_new = ops.astype(ops.power(ops.astype(n_new, "float64"), power), dtype)
        else:
            a_old, a_new = ops.power(n, s["neg_lr_power"]), ops.power(n_new, s["neg_lr_power"])
        g_s = g + s["two_l2_shrinkage"] * p if self.l2_shrinkage != 0.0 else g
        u = state["linear"] = ops.add_(u, g_s - ops.div(a_new - a_old, lr) * p)
        shrink = ops.sign(u) * l1 if self.l1_sign == "signed" else l1
        w = ops.div(shrink - u, ops.div(a_new, lr) + s["two_l2"])
        p = ops.assign_(p, ops.where(ops.greater(ops.abs(u), l1), w, ops.scalar(0.0, p)))
        state["accum"] = ops.assign_(n, n_new)
        return p

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("accum", self.initial_accumulator_value), Slot("linear"))

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(),
                **dict.fromkeys(("neg_lr_power", "l1", "two_l2", "two_l2_shrinkage"), NUMBER)}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        l2 = t(self.l2)
        if self.beta != 0.0:
            l2 = l2 + t(self.beta) / (t(2.0) * t(hs.lr))
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "neg_lr_power": float(-t(self.lr_power)),
            "l1": float(t(self.l1)),
            "two_l2": float(t(2.0) * l2),
            "two_l2_shrinkage": float(t(2.0) * t(self.l2_shrinkage)),
        }
        return scalars, dict(host_state)
