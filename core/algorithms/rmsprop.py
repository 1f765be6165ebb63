"""RMSProp (Hinton, Coursera lecture 6e, slide 29), plain and centered, with momentum.

Canonical algorithm ``"rmsprop"``. Lowered to by MindSpore ``nn.RMSProp`` and torch
``optim.RMSprop``; Keras ``optimizers.RMSprop`` takes the third set of flags. The
dialects differ on three axes (DIALECTS.md D8), each an explicit flag:

* ``eps_placement`` — ``"outside"``: ``d = √v + ε`` (torch) · ``"inside"``:
  ``d = √(v + ε)`` (MindSpore, Keras, TF1).
* ``initial_square_avg`` — the mean square starts at 0 (torch, Keras) or at 1.0
  (MindSpore ``mean_square`` is created with ``init='ones'``, also when centered).
* ``lr_placement`` — ``"outside"``: the momentum buffer holds ``g/d`` and the update is
  ``lr·buf`` (torch) · ``"inside"``: the buffer holds ``lr·g/d`` and the update is ``buf``
  (MindSpore, Keras). The two agree for a constant lr and differ once lr changes.

* ``weight_decay_form`` — ``"coupled"`` (``g + wd·p`` in pre-processing: MindSpore,
  torch) or ``"keras"`` (Keras's base optimizer: ``p = p − (p·wd)·lr`` first, by the
  kernel; see :mod:`optbridge.algorithms.weight_decay`).

``centered`` subtracts the squared running mean of the gradient from the mean square
(Graves 2013). ``arithmetic`` chooses whose float op order the kernel reproduces
(mathematically equal forms, different float32 roundings): ``"torch"``
(``torch/optim/rmsprop.py`` ``_single_tensor_rmsprop``), ``"mindspore"`` (MindSpore 2.10
CPU ``ApplyRMSProp``/``ApplyCenteredRMSProp`` kernels) or ``"keras"``
(``keras/src/optimizers/rmsprop.py``). With ``"keras"`` the host scalar ``1 − ρ`` is computed
in float64 and rounded to the dialect's precision, as Keras's ``1 - rho`` on Python floats.

Canonical op order (``g`` pre-processed; slots ``square_avg`` = v, ``grad_avg`` = ḡ,
``momentum_buffer`` = b; ``ρ`` = ``alpha``, ``μ`` = ``momentum``; all in the parameter's
dtype, host scalars ``one_minus_alpha = 1 − ρ`` and ``lr`` in the dialect's precision):

0. ``weight_decay_form == "keras"``: ``p = p − (p·wd)·lr``, at every step (with ``wd = 0``
   it leaves every finite ``p`` unchanged).
1. mean square — torch: ``v = v·ρ + ((1−ρ)·g)·g`` · mindspore: ``v = v + (g·g − v)·(1−ρ)``
   · keras: ``v = ρ·v + (1−ρ)·(g·g)``.
2. centered only: mean gradient — torch: ``ḡ = lerp(ḡ, g, 1−ρ)`` (ATen's two-branch lerp:
   ``a + w·(b − a)`` for ``|w| < 0.5``, else ``b − (b − a)·(1 − w)``) · mindspore: ``ḡ = ḡ + (g − ḡ)·(1−ρ)`` · keras:
   ``ḡ = ρ·ḡ + (1−ρ)·g``; then ``s = v − ḡ·ḡ``. Not centered: ``s = v``.
3. denominator — outside: ``d = √s + ε`` · inside: ``d = √(s + ε)``.
4. lr outside: ``momentum > 0``: ``b = b·μ + g/d``, ``p = p − lr·b``; else
   ``p = p − (lr·g)/d``.
   lr inside: ``u = (g·lr)/d``; ``momentum > 0``: ``b = b·μ + u``, ``p = p − b``; else
   ``p = p − u``.
   MindSpore's centered kernel skips (leaves ``b`` and ``p`` unchanged for) every element
   whose ``s + ε`` is not positive; the mindspore arithmetic does the same when centered
   with ε and lr inside: there ``u = 0``, and ``b``, ``p`` keep their values, where
   ``s + ε ≤ 0`` (or is NaN).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import DecayAppliedBy, apply_rule_decay, check_choice

__all__ = ["RMSProp"]


@register_algorithm
@dataclass(frozen=True)
class RMSProp(Algorithm):
    """Canonical RMSProp. See the module docstring for the op order."""

    name = "rmsprop"
    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0
    centered: bool = False
    eps_placement: str = "outside"
    initial_square_avg: float = 0.0
    lr_placement: str = "outside"
    arithmetic: str = "torch"
    weight_decay_form: str = "coupled"

    def __post_init__(self) -> None:
        check_choice(self.name, "eps_placement", self.eps_placement, ("outside", "inside"))
        check_choice(self.name, "lr_placement", self.lr_placement, ("outside", "inside"))
        check_choice(self.name, "arithmetic", self.arithmetic, ("torch", "mindspore", "keras"))
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, ("coupled", "keras"))

    weight_decay_applied_by = DecayAppliedBy()

    def update_tensor(self, ops, p, g, state, s):
        rho, omr, lr, eps = s["alpha"], s["one_minus_alpha"], s["lr"], s["eps"]
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        v = state["square_avg"]
        if self.arithmetic == "torch":
            v = ops.blockwise_(ops.add_, ops.mul_(v, rho), lambda g: (omr * g) * g, g)
        elif self.arithmetic == "mindspore":
            v = ops.blockwise_(ops.add_, v, lambda v, g: (g * g - v) * omr, v, g)
        else:
            v = ops.blockwise_(ops.assign_, v, lambda v, g: rho * v + omr * (g * g), v, g)
        state["square_avg"] = v
        stats = (v,)
        if self.centered:
            ga = state["grad_avg"]
            if self.arithmetic == "torch":
                small = abs(1.0 - self.alpha) < 0.5
                ga = ops.blockwise_(ops.assign_, ga, lambda ga, g: ops.lerp(ga, g, omr, small=small), ga, g)
            elif self.arithmetic == "mindspore":
                ga = ops.blockwise_(ops.add_, ga, lambda ga, g: (g - ga) * omr, ga, g)
            else:
                ga = ops.blockwise_(ops.assign_, ga, lambda ga, g: rho * ga + omr * g, ga, g)
            state["grad_avg"] = ga
            stats = (v, ga)
        outside = self.eps_placement == "outside"

        def denominator(v: Any, ga: Any = None) -> Any:
            second = v if ga is None else v - ga * ga
            return ops.sqrt(second) + eps if outside else ops.sqrt(second + eps)

        momentum = self.momentum > 0
        if self.lr_placement == "outside":
            if not momentum:
                def scaled(g: Any, *st: Any) -> Any:
                    d = denominator(*st)
                    return ops.div(lr * g, d)

                return ops.blockwise_(ops.sub_, p, scaled, g, *stats)
            b = ops.mul_(state["momentum_buffer"], s["momentum"])
            b = state["momentum_buffer"] = ops.blockwise_(ops.add_, b, lambda g, *st: ops.div(g, denominator(*st)),
                                                          g, *stats)
            return ops.sub_scaled_(p, b, lr)
        if not (self.centered and self.arithmetic == "mindspore" and not outside):
            def step(g: Any, *st: Any) -> Any:
                d = denominator(*st)
                return ops.div(g * lr, d)

            if not momentum:
                return ops.blockwise_(ops.sub_, p, step, g, *stats)
            b = ops.mul_(state["momentum_buffer"], s["momentum"])
            b = state["momentum_buffer"] = ops.blockwise_(ops.add_, b, step, g, *stats)
            return ops.sub_(p, b)
        # MindSpore's centered kernel leaves an element unchanged where v − ga² + ε <= 0
        second = v - ga * ga
        inside = second + eps
        u = ops.div(g * lr, ops.sqrt(inside))
        zero = ops.scalar(0.0, p)
        keep = ops.greater(inside, zero)
        u = ops.where(keep, u, zero)
        if not momentum:
            return ops.sub_(p, u)
        b = state["momentum_buffer"]
        b = state["momentum_buffer"] = ops.assign_(b, ops.where(keep, b * s["momentum"] + u, b))
        return ops.assign_(p, ops.where(keep, p - b, p))

    def slots(self) -> tuple[Slot, ...]:
        slots = [Slot("square_avg", self.initial_square_avg)]
        if self.centered:
            slots.append(Slot("grad_avg"))
        if self.momentum > 0:
            slots.append(Slot("momentum_buffer"))
        return tuple(slots)

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), **dict.fromkeys(("alpha", "one_minus_alpha", "eps", "momentum"), NUMBER)}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "alpha": float(t(self.alpha)),
            "one_minus_alpha": float(t(1.0 - self.alpha) if self.arithmetic == "keras" else t(1.0) - t(self.alpha)),
            "eps": float(t(self.eps)),
            "momentum": float(t(self.momentum)),
        }
        return scalars, dict(host_state)

