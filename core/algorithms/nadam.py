"""NAdam: Adam with Nesterov momentum and a momentum schedule (Dozat 2016).

Canonical algorithm ``"nadam"``. Lowered to by torch ``optim.NAdam`` (``form="torch"``);
``form="keras"`` is Keras 3 ``keras.optimizers.Nadam`` (DIALECTS.md D10). Sources:
torch 2.13 ``torch/optim/nadam.py`` (``_single_tensor_nadam``), Keras 3.15
``keras/src/optimizers/nadam.py``.

Momentum schedule at step ``t`` (``ψ`` = ``momentum_decay``):

* torch: ``μₜ = β₁·(1 − ½·0.96^(t·ψ))``, ``μₜ₊₁ = β₁·(1 − ½·0.96^((t+1)·ψ))``;
* Keras: ``μₜ = β₁·(1 − ½·0.96^t)`` (no ``ψ``; ``momentum_decay`` is ignored).

``μ̄ₜ = μ̄ₜ₋₁·μₜ`` (``mu_product``, host state per group) is stored in float32 by both
frameworks: torch keeps it as a float32 tensor and multiplies in float32
(``mu_product *= mu``: ``float32(μ̄)·float32(μ)``); Keras keeps a float32 variable updated
as ``(μ̄·β₁)·(1 − ½·0.96^t)`` in float32.

Host scalars, ``form="torch"`` (Python float64, as torch writes them, with the float32
``μ̄ₜ``): ``bc2 = 1 − β₂^t``;
``c_g = (−lr·(1 − μₜ)) / (1 − μ̄ₜ)``; ``c_m = (−lr·μₜ₊₁) / (1 − μ̄ₜ·μₜ₊₁)``;
``decay = 1 − lr·wd`` with ``decoupled_weight_decay``.
``form="keras"`` (in ``precision``, Keras: float32): ``μₜ₊₁``, ``1 − μ̄ₜ·μₜ₊₁``,
``1 − μₜ``, ``1 − μ̄ₜ``, ``1 − β₂^t``.

Canonical op order (``g`` pre-processed; slots ``exp_avg`` = m, ``exp_avg_sq`` = v):

``form="torch"``:

0. rule-side weight decay (:func:`~optbridge.algorithms.weight_decay.apply_rule_decay`),
   at every step: ``"decoupled"``: ``p = p·decay``; ``"keras"``: ``p = p − (p·wd)·lr``.
1. ``m = m + w·(g − m)`` with ``w = 1 − β₁`` if ``w < 0.5``, else ``m = g − (g − m)·(1 − w)``
   (torch ``lerp_``).
2. ``v = v·β₂ + ((1 − β₂)·g)·g``
3. ``d = √(v / bc2) + ε``
4. ``p = p + (c_g·g) / d``
5. ``p = p + (c_m·m) / d``

``form="keras"``:

0. rule-side weight decay, as for ``form="torch"``.
1. ``m = m + (g − m)·(1 − β₁)``
2. ``v = v + (g·g − v)·(1 − β₂)``
3. ``m̂ = (μₜ₊₁·m) / (1 − μ̄ₜ·μₜ₊₁) + ((1 − μₜ)·g) / (1 − μ̄ₜ)``
4. ``p = p − (m̂·lr) / (√(v / (1 − β₂^t)) + ε)``

torch's CPU ``lerp_``/``addcmul_`` are fused multiply-adds (one rounding); the canonical
order rounds every operation, so float32 results can differ in the last bit.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .adam import host_pow, update_moments
from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import (
    WEIGHT_DECAY_FORMS,
    DecayAppliedBy,
    apply_rule_decay,
    check_choice,
    decay_scalars,
    declared_decay_scalars,
)

__all__ = ["NAdam"]


@register_algorithm
@dataclass(frozen=True)
class NAdam(Algorithm):
    """Canonical NAdam. See the module docstring for the op order."""

    name = "nadam"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    momentum_decay: float = 4e-3
    form: str = "torch"
    weight_decay_form: str = "coupled"
    weight_decay_applied_by = DecayAppliedBy()

    def __post_init__(self) -> None:
        check_choice(self.name, "form", self.form, ("torch", "keras"))
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, WEIGHT_DECAY_FORMS)

    @property
    def moment_form(self) -> str:
        """The moment update of steps 1–2 (shared with canonical ``adam``)."""
        return "torch" if self.form == "torch" else "lerp"

    def update_tensor(self, ops, p, g, state, s):
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        m, v = update_moments(ops, self, g, state, s)
        if self.form == "torch":
            denom = ops.sqrt(ops.div(v, s["bias_correction2"])) + s["eps"]
            p = ops.add_(p, ops.div(s["coef_grad"] * g, denom))
            return ops.add_(p, ops.div(s["coef_exp_avg"] * m, denom))
        m_hat = (ops.div(s["mu_next"] * m, s["one_minus_mu_product_next"])
                 + ops.div(s["one_minus_mu"] * g, s["one_minus_mu_product"]))
        denom = ops.sqrt(ops.div(v, s["one_minus_beta2_power"])) + s["eps"]
        return ops.sub_(p, ops.div(m_hat * s["lr"], denom))

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("exp_avg"), Slot("exp_avg_sq"))

    def init_host_state(self) -> dict[str, float]:
        return {"mu_product": 1.0}

    def declared_scalars(self) -> dict[str, Any]:
        if self.form == "torch":
            names: tuple[str, ...] = ("beta2", "one_minus_beta1", "one_minus_beta2", "bias_correction2", "eps",
                                      "coef_grad", "coef_exp_avg")
        else:
            names = ("one_minus_beta1", "one_minus_beta2", "eps", "mu_next", "one_minus_mu_product_next",
                     "one_minus_mu", "one_minus_mu_product", "one_minus_beta2_power")
        return {**super().declared_scalars(), **declared_decay_scalars(self.weight_decay_form),
                **dict.fromkeys(names, NUMBER)}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            **decay_scalars(self.weight_decay_form, hs.lr, hs.weight_decay),
        }
        if self.form == "torch":
            step, beta1, beta2, lr = float(hs.step), float(self.beta1), float(self.beta2), float(hs.lr)
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * self.momentum_decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * self.momentum_decay)))
            mu_product = float(np.float32(host_state["mu_product"]) * np.float32(mu))
            mu_product_next = mu_product * mu_next
            scalars.update({
                "beta2": beta2,
                "one_minus_beta1": 1.0 - beta1,
                "one_minus_beta2": 1.0 - beta2,
                "bias_correction2": 1.0 - beta2 ** step,
                "eps": float(self.eps),
                "coef_grad": -lr * (1.0 - mu) / (1.0 - mu_product),
                "coef_exp_avg": (-lr * mu_next) / (1.0 - mu_product_next),
            })
            return scalars, {"mu_product": mu_product}
        t = scalar_type(precision)
        one, half, decay = t(1.0), t(0.5), t(0.96)
        beta1, beta2 = t(self.beta1), t(self.beta2)
        mu = beta1 * (one - half * t(host_pow(decay, hs.step, precision)))
        mu_next = beta1 * (one - half * t(host_pow(decay, hs.step + 1, precision)))
        mu_product32 = np.float32(np.float32(host_state["mu_product"]) * np.float32(beta1)
                                  * (one - half * t(host_pow(decay, hs.step, precision))))
        mu_product_next = t(mu_product32) * mu_next
        scalars.update({
            "one_minus_beta1": float(one - beta1),
            "one_minus_beta2": float(one - beta2),
            "eps": float(t(self.eps)),
            "mu_next": float(mu_next),
            "one_minus_mu_product_next": float(one - mu_product_next),
            "one_minus_mu": float(one - mu),
            "one_minus_mu_product": float(one - t(mu_product32)),
            "one_minus_beta2_power": float(one - t(host_pow(beta2, hs.step, precision))),
        })
        return scalars, {"mu_product": float(mu_product32)}
