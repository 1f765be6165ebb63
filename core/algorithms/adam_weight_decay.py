"""MindSpore's AdamWeightDecay: Adam without bias correction, decay inside the step.

Canonical algorithm ``"adam_weight_decay"`` (DIALECTS.md D3). Source: MindSpore 2.10
``nn.AdamWeightDecay`` docs and its fused ``AdamWeightDecay`` operator:

.. math::
    m = β₁m + (1−β₁)g,\\quad v = β₂v + (1−β₂)g²,\\quad
    p = p − lr·\\left(\\frac{m}{\\sqrt{v} + ε} + wd·p\\right)

No bias correction, default ε = 1e-6. Weight decay is decoupled and applied inside the
update (``weight_decay_applied_by = "rule"``); MindSpore applies no gradient
centralization and no loss-scale division in this optimizer.

Canonical op order (slots ``exp_avg`` = m, ``exp_avg_sq`` = v):

1. ``m = m + (g − m)·(1 − β₁)``
2. ``v = v + (g·g − v)·(1 − β₂)``
3. ``u = m / (√v + ε)``
4. ``u = u + wd·p``, at every step: with ``wd == 0`` it adds ``±0``, which leaves every
   nonzero ``u`` unchanged (the old NumPy kernel skipped it at ``wd == 0``; the torch and
   TensorFlow kernels always added it, so no backend branches on a value).
5. ``p = p − lr·u``
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type

__all__ = ["AdamWeightDecay"]


@register_algorithm
@dataclass(frozen=True)
class AdamWeightDecay(Algorithm):
    """Canonical MindSpore AdamWeightDecay. See the module docstring for the op order."""

    name = "adam_weight_decay"
    weight_decay_applied_by = "rule"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-6

    def update_tensor(self, ops, p, g, state, s):
        m = state["exp_avg"] = ops.add_(state["exp_avg"], (g - state["exp_avg"]) * s["one_minus_beta1"])
        v = state["exp_avg_sq"] = ops.add_(state["exp_avg_sq"], (g * g - state["exp_avg_sq"]) * s["one_minus_beta2"])
        u = ops.div(m, ops.sqrt(v) + s["eps"]) + s["weight_decay"] * p
        return ops.sub_(p, s["lr"] * u)

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("exp_avg"), Slot("exp_avg_sq"))

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), "one_minus_beta1": NUMBER, "one_minus_beta2": NUMBER, "eps": NUMBER}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        one = t(1.0)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "one_minus_beta1": float(one - t(self.beta1)),
            "one_minus_beta2": float(one - t(self.beta2)),
            "eps": float(t(self.eps)),
        }
        return scalars, dict(host_state)
