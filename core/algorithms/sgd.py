"""Stochastic gradient descent with momentum, dampening and Nesterov momentum.

Canonical algorithm ``"sgd"``. Lowered to by MindSpore ``nn.Momentum`` and ``nn.SGD`` and
torch ``optim.SGD`` (torch ``SGD`` without dampening and MindSpore ``nn.Momentum`` without
Nesterov lower to the same hyperparameters and give the same numbers). Sources: MindSpore
2.10 ``ApplyMomentum``/``SGD`` operator docs, torch 2.13 ``torch/optim/sgd.py``
(``_single_tensor_sgd``), Keras 3 ``keras/src/optimizers/sgd.py``.

Canonical op order (``g`` already pre-processed: negation, coupled weight decay,
centralization, loss scale; ``b`` the ``momentum_buffer`` slot; all in the parameter's
dtype):

0. ``weight_decay_form == "keras"``: ``p = p − (p·wd)·lr`` (Keras decays before the update).
1. if ``momentum == 0``: ``p = p − lr·g`` and stop.

``momentum_form == "buffer"`` (torch, MindSpore; the buffer holds gradients, lr outside):

2. first step: ``b = g``; later steps: ``b = b·momentum + (1 − dampening)·g``
   (with ``dampening == 0`` the second term is exactly ``g``).
3. ``nesterov_form == "torch"`` (torch SGD, MindSpore nn.SGD): ``u = g + momentum·b``;
   ``nesterov_form == "scaled"`` (MindSpore nn.Momentum doc):
   ``u`` is not formed, the update is ``p = p − (g·lr + b·momentum·lr)``.
   Without Nesterov, ``u = b``.
4. ``p = p − lr·u``.

``momentum_form == "keras"`` (Keras 3 SGD, DIALECTS.md D5: lr inside the buffer, which
starts at 0, no dampening):

2. ``b = b·momentum − g·lr``
3. Nesterov: ``p = p + (b·momentum − g·lr)``; else ``p = p + b``.

torch's CPU kernels fuse ``b·momentum + (1−τ)·g``'s second product, ``g + μ·b`` and
``p − lr·u`` into fused multiply-adds (one rounding); the canonical order rounds each
operation, so float32 results can differ from torch.optim in the last bit.

Dialect notes: MindSpore's ``nn.Momentum`` keeps the ``moments`` buffer even when
``momentum == 0``; the numbers are those of step 1 (``b = 0·b + g = g``). torch and
MindSpore ``nn.SGD`` skip dampening on the first step (DIALECTS.md D6).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import FLAG, NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import DecayAppliedBy, apply_rule_decay, check_choice

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
    momentum_form: str = "buffer"
    weight_decay_form: str = "coupled"

    def __post_init__(self) -> None:
        check_choice(self.name, "nesterov_form", self.nesterov_form, ("torch", "scaled"))
        check_choice(self.name, "momentum_form", self.momentum_form, ("buffer", "keras"))
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, ("coupled", "keras"))

    weight_decay_applied_by = DecayAppliedBy()

    def update_tensor(self, ops, p, g, state, s):
        lr = s["lr"]
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        if self.momentum == 0.0:
            return ops.sub_scaled_(p, g, lr)
        mu = s["momentum"]
        b = state["momentum_buffer"]
        if self.momentum_form == "keras":
            b = state["momentum_buffer"] = ops.sub_scaled_(ops.mul_(b, mu), g, lr)
            if self.nesterov:
                return ops.blockwise_(ops.add_, p, lambda b, g: b * mu - g * lr, b, g)
            return ops.add_(p, b)
        fresh = g if self.dampening == 0.0 else s["one_minus_dampening"] * g
        # written in place (b·μ, then + fresh: the same two roundings as forming b·μ + fresh)
        b = state["momentum_buffer"] = ops.cond(
            s["first_step"], lambda: ops.assign_(b, g), lambda: ops.add_(ops.mul_(b, mu), fresh))
        if not self.nesterov:
            return ops.sub_scaled_(p, b, lr)
        if self.nesterov_form == "scaled":
            return ops.blockwise_(ops.sub_, p, lambda g, b: g * lr + b * mu * lr, g, b)
        return ops.sub_scaled_(p, g + b * mu, lr)

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("momentum_buffer"),) if self.momentum != 0.0 else ()

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), "momentum": NUMBER, "one_minus_dampening": NUMBER, "first_step": FLAG}

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
