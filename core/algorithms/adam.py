"""Adam (Kingma & Ba 2015, arXiv:1412.6980) with AMSGrad, Nesterov and weight-decay variants.

Canonical algorithm ``"adam"``. Lowered to by MindSpore ``nn.Adam``/``nn.LazyAdam`` and
torch ``optim.Adam``/``optim.AdamW``. Sources: MindSpore 2.10 ``Adam``/``ApplyAdamWithAmsgradV2``
operator docs, torch 2.13 ``torch/optim/adam.py`` (``_single_tensor_adam``), Keras 3
``keras/src/optimizers/adam.py``. Dialect axes (DIALECTS.md D1–D4), each an explicit flag:

* ``eps_placement`` — ``"hat"`` (MindSpore, Keras, TF ``ApplyAdam``): the bias
  corrections fold into the step size and ε is added to the *uncorrected* ``√v``:
  ``p -= lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)``; ``"paper"`` (torch): ε is added to
  ``√v / √(1−β₂ᵗ)`` and the step size is ``lr/(1−β₁ᵗ)``. The two are equivalent only with
  the step-dependent ``ε' = ε·√(1−β₂ᵗ)``.
* ``power_form`` — ``"accumulate"`` (MindSpore: ``β₁ᵗ``/``β₂ᵗ`` kept as float32 products,
  ``beta1_power *= beta1``) or ``"pow"`` (torch, Keras: ``β**t`` each step).
* ``moment_form`` — ``"lerp"`` (MindSpore): ``m += (g − m)(1 − β₁)``,
  ``v += (g² − v)(1 − β₂)``; ``"keras"``: the same ops, but the host scalars ``1 − β₁``
  and ``1 − β₂`` are computed in float64 and then rounded to ``precision`` (Keras writes
  ``1 - self.beta_1`` on Python floats; in float32 ``float32(1 − 0.9)`` is 3 ulp from
  ``float32(1) − float32(0.9)``); ``"torch"``: ``m = lerp(m, g, 1 − β₁)`` (torch's ``lerp_``:
  ``m + w·(g − m)`` for ``w < 0.5``, else ``g − (g − m)·(1 − w)``) and
  ``v = v·β₂ + ((1 − β₂)·g)·g`` (``mul_`` then ``addcmul_``).
* ``nesterov`` — MindSpore ``use_nesterov``: TF ApplyAdam's form, the numerator is
  ``β₁·m + (1−β₁)·g`` (``"hat"`` placement only; torch has NAdam instead).
* ``amsgrad`` — ``v̂ = max(v̂, v)`` and ``v̂`` replaces ``v`` in the denominator (MindSpore
  ``ApplyAdamWithAmsgradV2``, Keras, torch: the max of the *uncorrected* ``v``, D4). With
  ``amsgrad`` MindSpore ignores ``use_nesterov`` (its AMSGrad operator has no such
  flag), and so does this algorithm.
* ``weight_decay_form`` — ``"coupled"`` (``g + wd·p`` before the update: torch Adam,
  MindSpore), ``"decoupled"`` (torch AdamW / ``decoupled_weight_decay=True``:
  ``p·(1 − lr·wd)`` first) or ``"keras"`` (``p − (p·wd)·lr`` first). See
  :mod:`optbridge.algorithms.weight_decay`.

Host scalars at step ``t``, evaluated left to right in ``precision`` (MindSpore: float32
inside its CPU kernel; torch: Python float64, exactly as ``_single_tensor_adam`` writes
them; Keras: float32):

* ``"hat"``: ``step_size = lr·√(1−β₂ᵗ)/(1−β₁ᵗ)``;
* ``"paper"``: ``step_size = lr/(1 − β₁ᵗ)``, ``bc2_sqrt = (1 − β₂ᵗ)**0.5``;
* ``"decoupled"``: ``decay = 1 − lr·wd``.

Canonical op order (``g`` pre-processed; slots ``exp_avg`` = m, ``exp_avg_sq`` = v,
``max_exp_avg_sq`` = v̂):

0. rule-side weight decay (``"decoupled"``: ``p = p·decay``; ``"keras"``:
   ``p = p − (p·wd)·lr``), at every step (see :func:`~optbridge.algorithms.weight_decay.apply_rule_decay`).
1. ``m``: ``"lerp"``/``"keras"``: ``m = m + (g − m)·(1 − β₁)``; ``"torch"``: ``m = m + w·(g − m)``
   with ``w = 1 − β₁`` if ``w < 0.5``, else ``m = g − (g − m)·(1 − w)``.
2. ``v``: ``"lerp"``/``"keras"``: ``v = v + (g·g − v)·(1 − β₂)``; ``"torch"``:
   ``v = v·β₂ + ((1 − β₂)·g)·g``.
3. AMSGrad: ``v̂ = max(v̂, v)``; the denominator uses ``v̂``.
4. ``"hat"``: numerator ``n = m``, or with Nesterov ``n = m·β₁ + (1 − β₁)·g``.
   ``"paper"``: ``n = m`` and the denominator is ``d = √v / bc2_sqrt + ε``.
5. ``p = p − step_size·n / (√v + ε)``  (evaluated as ``(step_size·n) / (√v + ε)``);
   ``"paper"``: ``p = p − (step_size·n) / d``.

torch's CPU kernels evaluate ``lerp_`` and ``addcmul_`` as fused multiply-adds (one
rounding; measured bit for bit on AVX512); the canonical order rounds every operation,
so float32 results differ from torch.optim in the last bit for a few elements.
``addcdiv_`` is ``p + (value·m)/d`` with separate roundings, as step 4.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import (
    WEIGHT_DECAY_FORMS,
    DecayAppliedBy,
    apply_rule_decay,
    check_choice,
    decay_scalars,
    declared_decay_scalars,
)

__all__ = ["Adam", "host_pow", "update_moments"]


def update_moments(ops: Any, alg: Any, g: Any, state: dict, s: Mapping[str, Any]) -> tuple[Any, Any]:
    """Steps 1–2 of adam/nadam/radam: writes ``exp_avg`` and ``exp_avg_sq``, returns them."""
    m, v = state["exp_avg"], state["exp_avg_sq"]
    omb1, omb2 = s["one_minus_beta1"], s["one_minus_beta2"]
    if alg.moment_form == "torch":
        small = abs(1.0 - alg.beta1) < 0.5
        m = ops.blockwise_(ops.assign_, m, lambda m, g: ops.lerp(m, g, omb1, small=small), m, g)
        v = ops.mul_(v, s["beta2"])
        v = ops.blockwise_(ops.add_, v, lambda g: (omb2 * g) * g, g)
    else:
        m = ops.blockwise_(ops.add_, m, lambda m, g: (g - m) * omb1, m, g)
        v = ops.blockwise_(ops.add_, v, lambda v, g: (g * g - v) * omb2, v, g)
    state["exp_avg"], state["exp_avg_sq"] = m, v
    return m, v


def host_pow(base: float, exponent: float, precision: str) -> float:
    """``base ** exponent`` as the origin framework evaluates it: Python float64 ``**``
    (torch's ``beta1**step``), or float32 ``pow`` (Keras ``ops.power``, MindSpore)."""
    if precision == "float32":
        return float(np.float32(base) ** np.float32(exponent))
    return float(base) ** float(exponent)


@register_algorithm
@dataclass(frozen=True)
class Adam(Algorithm):
    """Canonical Adam. See the module docstring for the op order."""

    name = "adam"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    amsgrad: bool = False
    nesterov: bool = False
    eps_placement: str = "hat"
    power_form: str = "accumulate"
    moment_form: str = "lerp"
    weight_decay_form: str = "coupled"

    def __post_init__(self) -> None:
        check_choice(self.name, "eps_placement", self.eps_placement, ("hat", "paper"))
        check_choice(self.name, "power_form", self.power_form, ("accumulate", "pow"))
        check_choice(self.name, "moment_form", self.moment_form, ("lerp", "keras", "torch"))
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, WEIGHT_DECAY_FORMS)

    weight_decay_applied_by = DecayAppliedBy()

    def update_tensor(self, ops, p, g, state, s):
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        m, v = update_moments(ops, self, g, state, s)
        second = v
        if self.amsgrad:
            second = state["max_exp_avg_sq"] = ops.blockwise_(ops.assign_, state["max_exp_avg_sq"], ops.maximum,
                                                              state["max_exp_avg_sq"], v)
        eps, step_size = s["eps"], s["step_size"]
        if self.eps_placement == "paper":
            bc2_sqrt = s["bc2_sqrt"]

            def paper(m: Any, second: Any) -> Any:
                # the denominator is the expression's own temporary: ε is added in place
                denom = ops.add_(ops.div(ops.sqrt(second), bc2_sqrt), eps)
                return ops.div(step_size * m, denom)

            return ops.blockwise_(ops.sub_, p, paper, m, second)
        nesterov = self.nesterov and not self.amsgrad
        beta1, omb1 = s["beta1"], s["one_minus_beta1"]

        def hat(m: Any, second: Any, g: Any) -> Any:
            denom = ops.add_(ops.sqrt(second), eps)
            numer = m * beta1 + omb1 * g if nesterov else m
            return ops.div(step_size * numer, denom)

        return ops.blockwise_(ops.sub_, p, hat, m, second, g)

    def slots(self) -> tuple[Slot, ...]:
        base = (Slot("exp_avg"), Slot("exp_avg_sq"))
        return base + ((Slot("max_exp_avg_sq"),) if self.amsgrad else ())

    def init_host_state(self) -> dict[str, float]:
        return {"beta1_power": 1.0, "beta2_power": 1.0} if self.power_form == "accumulate" else {}

    def declared_scalars(self) -> dict[str, Any]:
        names = ["beta1", "beta2", "one_minus_beta1", "one_minus_beta2", "eps", "step_size"]
        if self.eps_placement != "hat":
            names.append("bc2_sqrt")
        return {**super().declared_scalars(), **dict.fromkeys(names, NUMBER),
                **declared_decay_scalars(self.weight_decay_form)}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        one = t(1.0)
        beta1, beta2 = t(self.beta1), t(self.beta2)
        if self.power_form == "accumulate":
            beta1_power = t(host_state["beta1_power"]) * beta1
            beta2_power = t(host_state["beta2_power"]) * beta2
            next_state = {"beta1_power": float(beta1_power), "beta2_power": float(beta2_power)}
        else:
            beta1_power = t(host_pow(self.beta1, hs.step, precision))
            beta2_power = t(host_pow(self.beta2, hs.step, precision))
            next_state = dict(host_state)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "beta1": float(beta1),
            "beta2": float(beta2),
            "one_minus_beta1": float(t(1.0 - self.beta1) if self.moment_form == "keras" else one - beta1),
            "one_minus_beta2": float(t(1.0 - self.beta2) if self.moment_form == "keras" else one - beta2),
            "eps": float(t(self.eps)),
            **decay_scalars(self.weight_decay_form, hs.lr, hs.weight_decay),
        }
        if self.eps_placement == "hat":
            scalars["step_size"] = float(t(hs.lr) * np.sqrt(one - beta2_power) / (one - beta1_power))
        else:
            bias_correction1 = one - beta1_power
            bias_correction2 = one - beta2_power
            scalars["step_size"] = float(t(hs.lr) / bias_correction1)
            scalars["bc2_sqrt"] = float(np.sqrt(bias_correction2)) if precision == "float32" \
                else float(bias_correction2) ** 0.5
        return scalars, next_state
