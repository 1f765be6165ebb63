"""Adadelta (Zeiler 2012, arXiv:1212.5701).

Canonical algorithm ``"adadelta"``. Lowered to by MindSpore ``nn.Adadelta`` and torch
``optim.Adadelta``; Keras ``optimizers.Adadelta`` has the same formula (only its defaults
differ, DIALECTS.md D15). Sources: torch ``optim/adadelta.py`` ``_single_tensor_adadelta``,
MindSpore ``ApplyAdadelta`` and Keras 3 ``keras/src/optimizers/adadelta.py``. The three
frameworks compute the same formula; MindSpore 2.10's CPU kernel agrees with torch's op
order on more than 99% of float32 elements (measured). Keras rounds differently and
decays weights its own way, hence two flags:

* ``arithmetic`` — ``"torch"`` (torch, MindSpore) or ``"keras"``: Keras's op order below,
  with the host scalar ``1 − ρ`` computed in float64 and rounded to the dialect's
  precision (Keras's ``1 - rho`` on Python floats).
* ``weight_decay_form`` — ``"coupled"`` (``g + wd·p`` in pre-processing) or ``"keras"``
  (Keras's base optimizer: ``p = p − (p·wd)·lr`` first, by the kernel; see
  :mod:`optbridge.algorithms.weight_decay`).

Canonical op order (``g`` pre-processed; slots ``square_avg`` = v, ``acc_delta`` = u;
host scalar ``one_minus_rho = 1 − ρ``):

0. ``weight_decay_form == "keras"``: ``p = p − (p·wd)·lr``, at every step (with ``wd == 0``
   it leaves every nonzero finite ``p`` unchanged).

``arithmetic == "torch"``:

1. ``v = v·ρ + ((1−ρ)·g)·g``
2. ``std = √(v + ε)``; ``δ = √(u + ε)``
3. ``δ = (δ / std)·g``
4. ``u = u·ρ + ((1−ρ)·δ)·δ``
5. ``p = p − lr·δ``

``arithmetic == "keras"`` (``Adadelta.update_step``; Keras's ``δ`` is the negation of
this one, which changes no rounding):

1. ``v = ρ·v + (1−ρ)·(g·g)``
2. ``δ = (√(u + ε)·g) / √(v + ε)``
3. ``u = ρ·u + (1−ρ)·(δ·δ)``
4. ``p = p − lr·δ``
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import DecayAppliedBy, apply_rule_decay, check_choice

__all__ = ["Adadelta"]


@register_algorithm
@dataclass(frozen=True)
class Adadelta(Algorithm):
    """Canonical Adadelta. See the module docstring for the op order."""

    name = "adadelta"
    rho: float = 0.9
    eps: float = 1e-6
    arithmetic: str = "torch"
    weight_decay_form: str = "coupled"

    def __post_init__(self) -> None:
        check_choice(self.name, "arithmetic", self.arithmetic, ("torch", "keras"))
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, ("coupled", "keras"))

    weight_decay_applied_by = DecayAppliedBy()

    def update_tensor(self, ops, p, g, state, s):
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        rho, omr, eps = s["rho"], s["one_minus_rho"], s["eps"]
        v, u = state["square_avg"], state["acc_delta"]
        if self.arithmetic == "keras":
            v = state["square_avg"] = ops.assign_(v, rho * v + omr * (g * g))
            delta = ops.div(ops.sqrt(u + eps) * g, ops.sqrt(v + eps))
            state["acc_delta"] = ops.assign_(u, rho * u + omr * (delta * delta))
            return ops.sub_(p, s["lr"] * delta)
        v = state["square_avg"] = ops.add_(ops.mul_(v, rho), (omr * g) * g)
        delta = ops.div(ops.sqrt(u + eps), ops.sqrt(v + eps)) * g
        state["acc_delta"] = ops.add_(ops.mul_(u, rho), (omr * delta) * delta)
        return ops.sub_(p, s["lr"] * delta)

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("square_avg"), Slot("acc_delta"))

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), "rho": NUMBER, "one_minus_rho": NUMBER, "eps": NUMBER}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "rho": float(t(self.rho)),
            "one_minus_rho": float(t(1.0 - self.rho) if self.arithmetic == "keras" else t(1.0) - t(self.rho)),
            "eps": float(t(self.eps)),
        }
        return scalars, dict(host_state)
