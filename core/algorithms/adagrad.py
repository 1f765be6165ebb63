"""Adagrad (Duchi, Hazan & Singer 2011, JMLR 12), with torch's lr decay.

Canonical algorithm ``"adagrad"``. Lowered to by MindSpore ``nn.Adagrad`` and torch
``optim.Adagrad``; Keras ``optimizers.Adagrad`` takes the third set of flags
(DIALECTS.md D7):

* ``initial_accumulator_value`` — the sum starts at 0 (torch) or 0.1 (MindSpore ``accum``,
  Keras).
* ``eps_placement`` — ``"outside"``: ``√s + ε`` (torch) · ``"inside"``: ``√(s + ε)``
  (Keras) · ``"none"``: ``√s``, no ε at all (MindSpore ``ApplyAdagrad``).
* ``lr_decay`` — torch: the step uses ``clr = lr / (1 + (t − 1)·lr_decay)``, a host scalar
  (0 elsewhere).
* ``update_slots`` — MindSpore: with ``False`` the accumulator is read but never updated
  (``ApplyAdagrad(update_slots=False)``, the documented formula; MindSpore 2.10's CPU
  kernel updates it anyway — see ``nn.Adagrad``).

* ``weight_decay_form`` — ``"coupled"`` (``g + wd·p`` in pre-processing: MindSpore,
  torch) or ``"keras"`` (Keras's base optimizer: ``p = p − (p·wd)·lr`` first, by the
  kernel; see :mod:`optbridge.algorithms.weight_decay`).

The float op order below is torch's (``_single_tensor_adagrad``), Keras's and that of
MindSpore's documented ``ApplyAdagrad``; MindSpore 2.10's CPU kernel agrees with it on
more than 99% of float32 elements (measured), so no arithmetic flag is needed.

Canonical op order (``g`` pre-processed; slot ``sum`` = s; host scalar ``clr``):

0. ``weight_decay_form == "keras"``: ``p = p − (p·wd)·lr``, at every step (with ``wd == 0``
   it leaves every nonzero finite ``p`` unchanged).
1. ``update_slots``: ``s = s + g·g`` (torch ``addcmul_(g, g, value=1)`` is the same).
2. denominator ``d`` — outside: ``√s + ε`` · inside: ``√(s + ε)`` · none: ``√s``.
3. ``p = p − (clr·g)/d`` (torch ``addcdiv_(g, d, value=−clr)``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import DecayAppliedBy, apply_rule_decay, check_choice

__all__ = ["Adagrad"]


@register_algorithm
@dataclass(frozen=True)
class Adagrad(Algorithm):
    """Canonical Adagrad. See the module docstring for the op order."""

    name = "adagrad"
    lr_decay: float = 0.0
    eps: float = 1e-10
    initial_accumulator_value: float = 0.0
    eps_placement: str = "outside"
    update_slots: bool = True
    weight_decay_form: str = "coupled"

    def __post_init__(self) -> None:
        check_choice(self.name, "eps_placement", self.eps_placement, ("outside", "inside", "none"))
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, ("coupled", "keras"))

    weight_decay_applied_by = DecayAppliedBy()

    def update_tensor(self, ops, p, g, state, s):
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        acc = state["sum"]
        if self.update_slots:
            acc = state["sum"] = ops.blockwise_(ops.add_, acc, lambda g: g * g, g)
        eps, clr, placement = s["eps"], s["clr"], self.eps_placement

        def delta(g: Any, acc: Any) -> Any:
            if placement == "outside":
                d = ops.sqrt(acc) + eps
            elif placement == "inside":
                d = ops.sqrt(acc + eps)
            else:
                d = ops.sqrt(acc)
            return ops.div(clr * g, d)

        return ops.blockwise_(ops.sub_, p, delta, g, acc)

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("sum", self.initial_accumulator_value),)

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), "clr": NUMBER, "eps": NUMBER}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        lr = t(hs.lr)
        clr = lr / (t(1.0) + t(hs.step - 1) * t(self.lr_decay)) if self.lr_decay != 0.0 else lr
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "clr": float(clr),
            "eps": float(t(self.eps)),
        }
        return scalars, dict(host_state)
