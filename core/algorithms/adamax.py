"""AdaMax (Kingma & Ba 2015, arXiv:1412.6980 §7.1): Adam with the infinity norm.

Canonical algorithm ``"adamax"``. Lowered to by MindSpore ``nn.AdaMax`` and torch
``optim.Adamax``; Keras ``optimizers.Adamax`` takes the third set of flags
(DIALECTS.md D9):

* ``eps_placement`` — ``"max"``: ``u = max(β₂·u, |g| + ε)``, divide by ``u`` (torch,
  optax) · ``"denominator"``: ``u = max(β₂·u, |g|)``, divide by ``u + ε`` (MindSpore
  ``ApplyAdaMax``, Keras). Invisible at β₂ = 0.999; at β₂ = 0.5 they part after a few steps.
* ``power_form`` — ``"pow"``: ``β₁ᵗ`` computed as a power (torch ``beta1 ** step``, Keras)
  · ``"accumulate"``: MindSpore keeps ``beta1_power`` as a float32 parameter multiplied by
  β₁ every step.

* ``weight_decay_form`` — ``"coupled"`` (``g + wd·p`` before the update, torch and
  MindSpore) or ``"keras"`` (Keras's base optimizer: ``p − (p·wd)·lr`` first, applied by
  the rule at every step); see :mod:`optbridge.algorithms.weight_decay`.

``arithmetic`` picks the float op order: ``"torch"`` (``_single_tensor_adamax``),
``"mindspore"`` (MindSpore 2.10 CPU ``ApplyAdaMax``, bit-identical in measurements) or
``"keras"`` (``keras/src/optimizers/adamax.py``).

Host scalars at step ``t``: ``bias_correction = 1 − β₁ᵗ`` and
``step_size = lr / bias_correction``, in the dialect's precision. ``one_minus_beta1`` is
``1 − β₁`` in that precision, except for ``"keras"``: Keras writes ``1 - self.beta_1`` on
Python floats, so it is the float64 difference (rounded to the parameter's dtype by the
kernel) -- ``float32(1 − 0.9)`` is 3 ulp away from ``float32(1) − float32(0.9)``.

Canonical op order (``g`` pre-processed; slots ``exp_avg`` = m, ``exp_inf`` = u):

0. ``weight_decay_form == "keras"``: ``p = p − (p·wd)·lr``, at every step (with ``wd == 0``
   it leaves every nonzero finite ``p`` unchanged).
1. first moment — torch: ``m = lerp(m, g, 1−β₁)`` (ATen's two-branch lerp, the branch
   chosen by ``|1 − β₁| < 0.5`` from the hyperparameter) · mindspore:
   ``m = β₁·m + (1−β₁)·g`` · keras: ``m = m + (g − m)·(1−β₁)``.
2. infinity norm — max: ``u = max(u·β₂, |g| + ε)``, ``d = u`` · denominator:
   ``u = max(u·β₂, |g|)``, ``d = u + ε``.
3. torch: ``p = p − (step_size·m)/d`` · mindspore: ``p = p − step_size·(m/d)`` · keras:
   ``p = p − (lr·m)/(bias_correction·d)``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import DecayAppliedBy, apply_rule_decay, check_choice

__all__ = ["Adamax"]

WEIGHT_DECAY_FORMS = ("coupled", "keras")


@register_algorithm
@dataclass(frozen=True)
class Adamax(Algorithm):
    """Canonical AdaMax. See the module docstring for the op order."""

    name = "adamax"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    eps_placement: str = "max"
    power_form: str = "pow"
    arithmetic: str = "torch"
    weight_decay_form: str = "coupled"

    weight_decay_applied_by = DecayAppliedBy()

    def __post_init__(self) -> None:
        check_choice(self.name, "eps_placement", self.eps_placement, ("max", "denominator"))
        check_choice(self.name, "power_form", self.power_form, ("pow", "accumulate"))
        check_choice(self.name, "arithmetic", self.arithmetic, ("torch", "mindspore", "keras"))
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, WEIGHT_DECAY_FORMS)

    def update_tensor(self, ops, p, g, state, s):
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        m = state["exp_avg"]
        if self.arithmetic == "torch":
            m = ops.assign_(m, ops.lerp(m, g, s["one_minus_beta1"], small=abs(1.0 - self.beta1) < 0.5))
        elif self.arithmetic == "mindspore":
            m = ops.assign_(m, s["beta1"] * m + s["one_minus_beta1"] * g)
        else:
            m = ops.add_(m, (g - m) * s["one_minus_beta1"])
        state["exp_avg"] = m
        u = state["exp_inf"]
        if self.eps_placement == "max":
            u = ops.assign_(u, ops.maximum(u * s["beta2"], ops.abs(g) + s["eps"]))
            d = u
        else:
            u = ops.assign_(u, ops.maximum(u * s["beta2"], ops.abs(g)))
            d = u + s["eps"]
        state["exp_inf"] = u
        if self.arithmetic == "torch":
            return ops.sub_(p, ops.div(s["step_size"] * m, d))
        if self.arithmetic == "mindspore":
            return ops.sub_(p, s["step_size"] * ops.div(m, d))
        return ops.sub_(p, ops.div(s["lr"] * m, s["bias_correction"] * d))

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("exp_avg"), Slot("exp_inf"))

    def init_host_state(self) -> dict[str, float]:
        return {"beta1_power": 1.0} if self.power_form == "accumulate" else {}

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), **dict.fromkeys(
            ("beta1", "one_minus_beta1", "beta2", "eps", "bias_correction", "step_size"), NUMBER)}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        beta1 = t(self.beta1)
        next_state = dict(host_state)
        if self.power_form == "accumulate":
            beta1_power = t(host_state["beta1_power"]) * beta1
            next_state["beta1_power"] = float(beta1_power)
        else:
            beta1_power = beta1 ** t(hs.step)
        bias_correction = t(1.0) - beta1_power
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "beta1": float(beta1),
            "one_minus_beta1": 1.0 - float(self.beta1) if self.arithmetic == "keras" else float(t(1.0) - beta1),
            "beta2": float(t(self.beta2)),
            "eps": float(t(self.eps)),
            "bias_correction": float(bias_correction),
            "step_size": float(t(hs.lr) / bias_correction),
        }
        return scalars, next_state
