"""Adam (Kingma & Ba 2015, arXiv:1412.6980) with AMSGrad and Nesterov variants.

Canonical algorithm ``"adam"``. Lowered to by MindSpore ``nn.Adam``. Dialect axes
(DIALECTS.md D1, D2, D4):

* ``eps_placement="hat"`` — MindSpore ``nn.Adam``/Keras/TF ``ApplyAdam``: the bias
  corrections fold into the step size and ε is added to the *uncorrected* ``√v``:
  ``p -= lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)``. Equivalent to the paper's form with
  ``ε' = ε·√(1−β₂ᵗ)``, which depends on the step, so no single ε matches the other form.
* ``power_form="accumulate"`` — MindSpore keeps ``β₁ᵗ``, ``β₂ᵗ`` as float32 parameters
  multiplied by β every step (``beta1_power *= beta1``), rather than computing ``β**t``.
* ``nesterov`` — MindSpore ``use_nesterov``: TF ApplyAdam's form, the update uses
  ``β₁·m + (1−β₁)·g`` in place of ``m``.
* ``amsgrad`` — ``v̂ = max(v̂, v)`` and ``v̂`` replaces ``v`` in the denominator
  (MindSpore ``ApplyAdamWithAmsgradV2``). With ``amsgrad`` MindSpore ignores
  ``use_nesterov`` (its AMSGrad operator has no such flag), and so does this algorithm.

Host scalars at step ``t``: ``step_size = lr·√(1−β₂ᵗ)/(1−β₁ᵗ)`` evaluated left to right
in ``precision`` (MindSpore evaluates it in float32 inside its CPU kernel).

Canonical op order (``g`` pre-processed; slots ``exp_avg`` = m, ``exp_avg_sq`` = v,
``max_exp_avg_sq`` = v̂):

1. ``m = m + (g − m)·(1 − β₁)``
2. ``v = v + (g·g − v)·(1 − β₂)``
3. AMSGrad: ``v̂ = max(v̂, v)``; the denominator uses ``v̂``.
4. numerator ``n = m``, or with Nesterov ``n = m·β₁ + (1 − β₁)·g``
5. ``p = p − step_size·n / (√v + ε)``  (evaluated as ``(step_size·n) / (√v + ε)``)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .base import Algorithm, HostStep, Slot, register_algorithm, scalar_type

__all__ = ["Adam"]


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

    def slots(self) -> tuple[Slot, ...]:
        base = (Slot("exp_avg"), Slot("exp_avg_sq"))
        return base + ((Slot("max_exp_avg_sq"),) if self.amsgrad else ())

    def init_host_state(self) -> dict[str, float]:
        return {"beta1_power": 1.0, "beta2_power": 1.0}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        one = t(1.0)
        beta1, beta2 = t(self.beta1), t(self.beta2)
        beta1_power = t(host_state["beta1_power"]) * beta1
        beta2_power = t(host_state["beta2_power"]) * beta2
        step_size = t(hs.lr) * np.sqrt(one - beta2_power) / (one - beta1_power)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "step_size": float(step_size),
            "beta1": float(beta1),
            "one_minus_beta1": float(one - beta1),
            "one_minus_beta2": float(one - beta2),
            "eps": float(t(self.eps)),
        }
        return scalars, {"beta1_power": float(beta1_power), "beta2_power": float(beta2_power)}

