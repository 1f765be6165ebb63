"""Proximal Adagrad (Duchi & Singer 2009, "Efficient Learning using Forward-Backward Splitting").

Canonical algorithm ``"proximal_adagrad"``: an Adagrad step followed by the proximal
operator of ``l1·|w| + l2/2·w²``. Lowered to by MindSpore ``nn.ProximalAdagrad``
(``ApplyProximalAdagrad``; TF's ``ApplyProximalAdagrad`` computes the same). Sources:
MindSpore 2.10 ``nn.ProximalAdagrad`` docs and its CPU kernel
(``nnacl/fp32_grad/apply_proximal_adagrad_fp32.c``).

Documentation vs behaviour: MindSpore's docs write the proximal step with the base
learning rate ``γ``: ``w = sign(v)/(1 + γ·l2)·max(|v| − γ·l1, 0)``. Every kernel (CPU,
GPU, TF's) uses the *adaptive* rate ``η = γ/√accum`` there, the rate of the gradient
step itself. This algorithm follows the kernels.

Host scalars, in ``precision`` (MindSpore passes ``lr``, ``l1`` and ``l2`` as float32):
``lr``, ``l1``, ``l2``.

Canonical op order (``g`` pre-processed; slot ``accum`` = s, starting at
``initial_accumulator_value``):

1. ``s = s + g·g``
2. ``η = lr/√s``
3. ``v = w − g·η``
4. ``l1 > 0`` (the hyperparameter): ``w = (sign(v)·max(|v| − η·l1, 0))/(1 + l2·η)``;
   else ``w = v/(1 + l2·η)``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type

__all__ = ["ProximalAdagrad"]


@register_algorithm
@dataclass(frozen=True)
class ProximalAdagrad(Algorithm):
    """Canonical proximal Adagrad. See the module docstring for the op order."""

    name = "proximal_adagrad"
    l1: float = 0.0
    l2: float = 0.0
    initial_accumulator_value: float = 0.1

    def update_tensor(self, ops, p, g, state, s):
        acc = state["accum"] = ops.add_(state["accum"], g * g)
        eta = ops.div(s["lr"], ops.sqrt(acc))
        v = p - g * eta
        denom = ops.scalar(1.0, p) + s["l2"] * eta
        if self.l1 > 0:
            shrunk = ops.sign(v) * ops.maximum(ops.abs(v) - eta * s["l1"], ops.scalar(0.0, p))
            return ops.assign_(p, ops.div(shrunk, denom))
        return ops.assign_(p, ops.div(v, denom))

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("accum", self.initial_accumulator_value),)

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), "l1": NUMBER, "l2": NUMBER}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "l1": float(t(self.l1)),
            "l2": float(t(self.l2)),
        }
        return scalars, dict(host_state)
