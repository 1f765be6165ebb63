"""RAdam: Adam with a rectified adaptive learning rate (Liu et al. 2020, arXiv:1908.03265).

Canonical algorithm ``"radam"``. Lowered to by torch ``optim.RAdam``. Source: torch 2.13
``torch/optim/radam.py`` (``_single_tensor_radam``).

Host scalars at step ``t`` (Python float64, evaluated as torch writes them):
``bc1 = 1 − β₁^t``, ``bc2 = 1 − β₂^t``, ``ρ∞ = 2/(1 − β₂) − 1``,
``ρₜ = ρ∞ − 2·t·β₂^t / bc2``; when ``ρₜ > 5`` (the rectification threshold),
``r = ((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))^0.5`` and ``bc2_sqrt = bc2^0.5``;
``decay = 1 − lr·wd`` with ``weight_decay_form="decoupled"`` (torch
``decoupled_weight_decay=True``).

Canonical op order (``g`` pre-processed; slots ``exp_avg`` = m, ``exp_avg_sq`` = v):

0. ``weight_decay_form == "decoupled"``: ``p = p·decay``, at every step (``decay`` is
   exactly 1 when ``wd == 0``).
1. ``m = m + w·(g − m)`` with ``w = 1 − β₁`` if ``w < 0.5``, else ``m = g − (g − m)·(1 − w)``
   (torch ``lerp_``).
2. ``v = v·β₂ + ((1 − β₂)·g)·g``
3. ``m̂ = m / bc1``
4. if ``ρₜ > 5`` (the host flag ``rectified``, possibly traced, so chosen through
   ``ops.cond``; ``r`` and ``bc2_sqrt`` exist only on rectified steps and are read only
   in that branch): ``a = (1 / (√v + ε))·bc2_sqrt`` (torch evaluates ``float / tensor`` as
   ``reciprocal(tensor)·float``); ``p = p − ((m̂·lr)·a)·r``.
   else: ``p = p − m̂·lr``.

torch's CPU ``lerp_``/``addcmul_`` are fused multiply-adds (one rounding); the canonical
order rounds every operation, so float32 results can differ in the last bit.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .adam import update_moments
from .base import FLAG, NUMBER, Algorithm, HostStep, Slot, register_algorithm
from .weight_decay import DecayAppliedBy, apply_rule_decay, check_choice, decay_scalars, declared_decay_scalars

__all__ = ["RAdam"]

#: ``ρₜ`` above which the variance is rectified (torch: ``rho_t > 5.0``).
RECTIFICATION_THRESHOLD = 5.0


@register_algorithm
@dataclass(frozen=True)
class RAdam(Algorithm):
    """Canonical RAdam. See the module docstring for the op order."""

    name = "radam"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay_form: str = "coupled"
    weight_decay_applied_by = DecayAppliedBy()
    moment_form = "torch"

    def __post_init__(self) -> None:
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, ("coupled", "decoupled"))

    def update_tensor(self, ops, p, g, state, s):
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        m, v = update_moments(ops, self, g, state, s)
        m_hat = ops.div(m, s["bias_correction1"])

        def rectified():
            denom = ops.sqrt(v) + s["eps"]
            adaptive = ops.div(ops.full_like(denom, 1.0), denom) * s["bc2_sqrt"]
            return ((m_hat * s["lr"]) * adaptive) * s["rect"]

        return ops.sub_(p, ops.cond(s["rectified"], rectified, lambda: m_hat * s["lr"]))

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("exp_avg"), Slot("exp_avg_sq"))

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), **dict.fromkeys(
            ("beta2", "one_minus_beta1", "one_minus_beta2", "eps", "bias_correction1"), NUMBER), "rectified": FLAG,
                **declared_decay_scalars(self.weight_decay_form), "rect": NUMBER, "bc2_sqrt": NUMBER}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        step, beta1, beta2 = float(hs.step), float(self.beta1), float(self.beta2)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        rectified = rho_t > RECTIFICATION_THRESHOLD
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "beta2": beta2,
            "one_minus_beta1": 1 - beta1,
            "one_minus_beta2": 1 - beta2,
            "eps": float(self.eps),
            "bias_correction1": bias_correction1,
            "rectified": rectified,
            **decay_scalars(self.weight_decay_form, hs.lr, hs.weight_decay),
        }
        if rectified:
            scalars["rect"] = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            scalars["bc2_sqrt"] = bias_correction2 ** 0.5
        return scalars, dict(host_state)
