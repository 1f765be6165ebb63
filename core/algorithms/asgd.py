"""Averaged stochastic gradient descent (Polyak & Juditsky 1992).

Canonical algorithm ``"asgd"``: torch ``optim.ASGD``'s formula, which MindSpore 2.10's
``nn.ASGD`` also runs (DIALECTS.md: "MindSpore's ASGD runs torch's formula"). Sources:
"Acceleration of stochastic approximation by averaging", MindSpore ``nn.ASGD`` docs and
``nn/optim/asgd.py``, torch 2.13 ``torch/optim/asgd.py`` (``_single_tensor_asgd``).

Host scalars at step ``t`` (1-based), kept per group: ``eta`` starts at the first step's
``lr`` and ``mu`` at 1. After the update ``eta = lr / (1 + lambd·lr·t)^alpha`` (``lr`` of
step ``t``) and ``mu = 1 / max(1, t − t0)``, evaluated in ``precision``.

``eta_mu_float32`` — torch keeps ``eta`` and ``mu`` per parameter as float32 tensors
(``_get_scalar_dtype()``, torch's default dtype): the first ``eta`` is ``float32(lr)``,
each new ``eta``/``mu`` is computed in Python float64 and stored rounded to float32, and
``decay = 1 − lambd·eta`` is computed in float64 from the float32 ``eta``. MindSpore
(``precision="float32"``) computes everything in float32; the flag changes nothing there.

Canonical op order (``g`` pre-processed; ``ax`` the averaged-parameter slot):

1. ``p = p·(1 − lambd·eta)``  (``decay = 1 − lambd·eta`` is a host scalar)
2. ``p = p − eta·g``
3. if ``mu != 1`` (the host flag ``average``): ``ax = ax + (p − ax)·mu``; else ``ax = p``.
   ``average`` may be a traced value, so the rule chooses through ``ops.cond``.

torch's CPU ``p.add_(g, alpha=−eta)`` is a fused multiply-add (one rounding); step 2
rounds twice, so float32 results can differ from torch.optim in the last bit.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import FLAG, NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type

__all__ = ["ASGD"]


@register_algorithm
@dataclass(frozen=True)
class ASGD(Algorithm):
    """Canonical ASGD. See the module docstring for the op order."""

    name = "asgd"
    lambd: float = 1e-4
    alpha: float = 0.75
    t0: float = 1e6
    eta_mu_float32: bool = False

    def update_tensor(self, ops, p, g, state, s):
        p = ops.mul_(p, s["decay"])
        p = ops.sub_(p, s["eta"] * g)
        ax = state["ax"]
        state["ax"] = ops.assign_(ax, ops.cond(s["average"], lambda: ax + (p - ax) * s["mu"], lambda: p))
        return p

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("ax"),)

    def init_host_state(self) -> dict[str, float]:
        return {"eta": 0.0, "mu": 1.0}

    def _stored(self, value) -> float:
        return float(np.float32(value)) if self.eta_mu_float32 else float(value)

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), "eta": NUMBER, "decay": NUMBER, "mu": NUMBER, "average": FLAG}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        lr = t(hs.lr)
        eta = t(self._stored(lr)) if hs.step == 1 else t(host_state["eta"])
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
        return scalars, {"eta": self._stored(next_eta), "mu": self._stored(next_mu)}
