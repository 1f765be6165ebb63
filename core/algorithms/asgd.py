"""Averaged stochastic gradient descent (Polyak & Juditsky 1992).

Canonical algorithm ``"asgd"``: torch ``optim.ASGD``'s formula, which MindSpore 2.10's
``nn.ASGD`` also runs (DIALECTS.md: "MindSpore's ASGD runs torch's formula"). Source:
"Acceleration of stochastic approximation by averaging", MindSpore ``nn.ASGD`` and torch
``optim.ASGD`` docs.

Host scalars at step ``t`` (1-based), kept per group: ``eta`` starts at the first step's
``lr`` and ``mu`` at 1. After the update
``eta = lr / (1 + lambd·lr·t)^alpha`` and ``mu = 1 / max(1, t − t0)``.

Canonical op order (``g`` pre-processed; ``ax`` the averaged-parameter slot):

1. ``p = p·(1 − lambd·eta)``  (``decay = 1 − lambd·eta`` is a host scalar)
2. ``p = p − eta·g``
3. if ``mu != 1``: ``ax = ax + (p − ax)·mu``; else ``ax = p``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .base import Algorithm, HostStep, Slot, register_algorithm, scalar_type

__all__ = ["ASGD"]


@register_algorithm
@dataclass(frozen=True)
class ASGD(Algorithm):
    """Canonical ASGD. See the module docstring for the op order."""

    name = "asgd"
    lambd: float = 1e-4
    alpha: float = 0.75
    t0: float = 1e6

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("ax"),)

    def init_host_state(self) -> dict[str, float]:
        return {"eta": 0.0, "mu": 1.0}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        lr = t(hs.lr)
        eta = lr if hs.step == 1 else t(host_state["eta"])
        mu = t(host_state["mu"])
        lambd = t(self.lambd)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "eta": float(eta),
            "decay": float(t(1.0) - lambd * eta),
            "mu": float(mu),
            "average": bool(mu != 1),
        }
        step = t(hs.step)
        next_eta = lr / ((t(1.0) + lambd * lr * step) ** t(self.alpha))
        next_mu = t(1.0) / max(t(1.0), step - t(self.t0))
        return scalars, {"eta": float(next_eta), "mu": float(next_mu)}
