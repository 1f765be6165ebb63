"""Stochastic gradient descent with momentum, dampening and Nesterov momentum.

Canonical algorithm ``"sgd"``. Lowered to by MindSpore ``nn.Momentum`` and ``nn.SGD``
(and, in later dialects, torch ``optim.SGD``). Source: MindSpore 2.10
``ApplyMomentum``/``SGD`` operator docs and torch ``optim.SGD`` docs.

Canonical op order (``g`` already pre-processed: weight decay, centralization, loss
scale; ``b`` the ``momentum_buffer`` slot; all in the parameter's dtype):

1. if ``momentum == 0``: ``p = p - lr·g`` and stop.
2. first step: ``b = g``; later steps: ``b = b·momentum + (1 − dampening)·g``
   (with ``dampening == 0`` the second term is exactly ``g``).
3. ``nesterov_form == "torch"`` (torch SGD, MindSpore nn.SGD): ``u = g + momentum·b``;
   ``nesterov_form == "scaled"`` (MindSpore nn.Momentum doc):
   ``u`` is not formed, the update is ``p = p − (g·lr + b·momentum·lr)``.
   Without Nesterov, ``u = b``.
4. ``p = p − lr·u``.

Dialect notes: MindSpore's ``nn.Momentum`` keeps the ``moments`` buffer even when
``momentum == 0``; the numbers are those of step 1 (``b = 0·b + g = g``). torch and
MindSpore ``nn.SGD`` skip dampening on the first step (DIALECTS.md D6).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .base import Algorithm, HostStep, Slot, register_algorithm, scalar_type

__all__ = ["SGD"]


@register_algorithm
@dataclass(frozen=True)
class SGD(Algorithm):
    """Canonical SGD. See the module docstring for the op order."""

    name = "sgd"
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    nesterov_form: str = "torch"

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("momentum_buffer"),) if self.momentum != 0.0 else ()

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "momentum": float(t(self.momentum)),
            "one_minus_dampening": float(t(1.0) - t(self.dampening)),
            "first_step": hs.step == 1,
        }
        return scalars, dict(host_state)
