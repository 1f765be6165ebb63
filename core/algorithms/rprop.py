"""Rprop, resilient backpropagation (Riedmiller & Braun 1993), the "Rprop−" variant.

Canonical algorithm ``"rprop"``. Lowered to by MindSpore ``nn.Rprop`` and torch
``optim.Rprop``, which compute the same numbers (DIALECTS.md D11; optax's
``scale_by_rprop`` lags one step and Keras has no Rprop). Source: torch
``optim/rprop.py`` ``_single_tensor_rprop`` and MindSpore 2.10 ``nn/optim/rprop.py``.

The learning rate is read once: every step size starts at the lr of the first step
(torch fills ``step_size`` with the group's lr when the state is created; MindSpore fills
it with the lr of ``global_step == 1``). Later lr changes have no effect, in both.

Canonical op order (``g`` pre-processed; slots ``prev`` = g′ (the last accepted gradient)
and ``step_size`` = Δ; ``η₋``, ``η₊`` = ``etaminus``, ``etaplus``):

1. first step: ``Δ = lr`` (every element).
2. ``s = sign(g·g′)``; ``f = η₊`` where ``s > 0``, ``η₋`` where ``s < 0``, ``1`` where ``s = 0``
   (and where ``g·g′`` is NaN).
3. ``Δ = clip(Δ·f, step_size_min, step_size_max)`` (``min(max(Δ·f, step_size_min), step_size_max)``)
4. ``g = 0`` where ``f = η₋`` (a sign change: skip this element's update)
5. ``p = p − sign(g)·Δ``
6. ``g′ = g``
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import FLAG, NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type

__all__ = ["Rprop"]


@register_algorithm
@dataclass(frozen=True)
class Rprop(Algorithm):
    """Canonical Rprop. See the module docstring for the op order."""

    name = "rprop"
    etaminus: float = 0.5
    etaplus: float = 1.2
    step_size_min: float = 1e-6
    step_size_max: float = 50.0

    def update_tensor(self, ops, p, g, state, s):
        step = state["step_size"]
        current = ops.cond(s["first_step"], lambda: ops.full_like(step, 1.0) * s["lr"], lambda: step)
        sgn = ops.sign(g * state["prev"])
        one, zero = ops.scalar(1.0, p), ops.scalar(0.0, p)
        factor = ops.where(ops.greater(sgn, zero), s["etaplus"], ops.where(ops.less(sgn, zero), s["etaminus"], one))
        step = state["step_size"] = ops.assign_(
            step, ops.minimum(ops.maximum(current * factor, s["step_size_min"]), s["step_size_max"]))
        accepted = ops.where(ops.equal(factor, s["etaminus"]), zero, g)
        p = ops.sub_(p, ops.sign(accepted) * step)
        state["prev"] = ops.assign_(state["prev"], accepted)
        return p

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("prev"), Slot("step_size"))

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), "first_step": FLAG, **dict.fromkeys(
            ("etaminus", "etaplus", "step_size_min", "step_size_max"), NUMBER)}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "first_step": hs.step == 1,
            "etaminus": float(t(self.etaminus)),
            "etaplus": float(t(self.etaplus)),
            "step_size_min": float(t(self.step_size_min)),
            "step_size_max": float(t(self.step_size_max)),
        }
        return scalars, dict(host_state)
