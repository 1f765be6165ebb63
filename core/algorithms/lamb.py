"""LAMB (You et al. 2020, "Large Batch Optimization for Deep Learning: Training BERT in
76 minutes", arXiv:1904.00962): Adam's direction scaled per tensor by a trust ratio.

Canonical algorithm ``"lamb"``. Lowered to by MindSpore ``nn.Lamb``; Keras 3
``optimizers.Lamb`` takes the Keras flag. Sources: MindSpore 2.10 ``nn.Lamb`` docs (its
``Lamb`` operator has GPU and Ascend kernels only), Keras 3 ``keras/src/optimizers/lamb.py``.

Both use the paper's ε (``m̂/(√v̂ + ε)``, bias corrections ``1 − βᵗ`` with ``t`` the
1-based step) and the same trust ratio ``‖w‖/‖u‖``, taken as 1 when either norm is 0
(MindSpore's GPU kernel and Keras). They differ in where weight decay goes (DIALECTS.md
D13), the explicit flag ``weight_decay_form``:

* ``"inside"`` — MindSpore (and the paper, optax): ``u = r + wd·w`` enters the trust
  ratio and the step (the kernel reads ``scalars["weight_decay"]``);
* ``"keras"`` — Keras's base optimizer: ``w = w − (w·wd)·lr`` *before* the update, outside
  the trust ratio, which then sees the decayed ``w`` and ``u = r``;
* ``"coupled"`` — L2 in the gradient (``g + wd·w``, engine pre-processing), for
  completeness.

Host scalars at step ``t``, in ``precision`` (MindSpore's kernel evaluates
``pow(β, global_step)`` in float32, Keras ``ops.power`` in the variable dtype):
``bias_correction1 = 1 − β₁ᵗ``, ``bias_correction2 = 1 − β₂ᵗ``, ``one_minus_beta1``,
``one_minus_beta2``, ``eps``. ``arithmetic`` says how ``1 − β`` is formed:
``"mindspore"`` in ``precision``; ``"keras"`` as the float64 difference (Keras writes
``1 - self.beta_1`` on Python floats; the kernel rounds it to the parameter's dtype) --
``float32(1 − 0.999)`` and ``float32(1) − float32(0.999)`` differ by 1.3e-5 relative.

Canonical op order (``g`` pre-processed; slots ``exp_avg`` = m, ``exp_avg_sq`` = v;
norms are ``√(Σx²)`` over the whole tensor, summed in the parameter's dtype):

0. ``"keras"``: ``w = w − (w·wd)·lr``, at every step (with ``wd = 0`` it leaves every
   finite ``w`` unchanged).
1. ``m = m + (g − m)·(1 − β₁)``
2. ``v = v + (g·g − v)·(1 − β₂)``
3. ``r = (m / bias_correction1) / (√(v / bias_correction2) + ε)``
4. ``"inside"``: ``u = r + wd·w`` (at every step); otherwise ``u = r``.
5. ``ratio = ‖w‖/‖u‖`` if ``‖w‖ > 0`` and ``‖u‖ > 0``, else 1 (also when a norm is NaN).
6. ``w = w − (ratio·lr)·u``
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .adam import host_pow
from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import apply_rule_decay, check_choice

__all__ = ["Lamb"]

WEIGHT_DECAY_FORMS = ("inside", "keras", "coupled")
ARITHMETICS = ("mindspore", "keras")


@register_algorithm
@dataclass(frozen=True)
class Lamb(Algorithm):
    """Canonical LAMB. See the module docstring for the op order."""

    name = "lamb"
    elementwise = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-6
    weight_decay_form: str = "inside"
    arithmetic: str = "mindspore"

    def __post_init__(self) -> None:
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, WEIGHT_DECAY_FORMS)
        check_choice(self.name, "arithmetic", self.arithmetic, ARITHMETICS)

    @property
    def weight_decay_applied_by(self) -> str:  # type: ignore[override]
        """``"coupled"`` for the coupled form; the kernel applies the other two."""
        return "pipeline" if self.weight_decay_form == "coupled" else "rule"

    def update_tensor(self, ops, p, g, state, s):
        if self.weight_decay_form == "keras":
            p = apply_rule_decay(ops, "keras", p, s)
        m = state["exp_avg"] = ops.add_(state["exp_avg"], (g - state["exp_avg"]) * s["one_minus_beta1"])
        v = state["exp_avg_sq"] = ops.add_(state["exp_avg_sq"], (g * g - state["exp_avg_sq"]) * s["one_minus_beta2"])
        u = ops.div(ops.div(m, s["bias_correction1"]), ops.sqrt(ops.div(v, s["bias_correction2"])) + s["eps"])
        if self.weight_decay_form == "inside":
            u = u + s["weight_decay"] * p
        w_norm, u_norm = ops.norm(p), ops.norm(u)
        one = ops.scalar(1.0, p)
        both = ops.greater(ops.minimum(w_norm, u_norm), ops.scalar(0.0, p))
        ratio = ops.where(both, ops.div(w_norm, ops.where(both, u_norm, one)), one)
        return ops.sub_scaled_(p, u, ratio * s["lr"])

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("exp_avg"), Slot("exp_avg_sq"))

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), **dict.fromkeys(
            ("one_minus_beta1", "one_minus_beta2", "bias_correction1", "bias_correction2", "eps"), NUMBER)}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        one = t(1.0)
        beta1, beta2 = t(self.beta1), t(self.beta2)
        if self.arithmetic == "keras":
            one_minus = (1.0 - float(self.beta1), 1.0 - float(self.beta2))
        else:
            one_minus = (float(one - beta1), float(one - beta2))
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "one_minus_beta1": one_minus[0],
            "one_minus_beta2": one_minus[1],
            "bias_correction1": float(one - t(host_pow(self.beta1, hs.step, precision))),
            "bias_correction2": float(one - t(host_pow(self.beta2, hs.step, precision))),
            "eps": float(t(self.eps)),
        }
        return scalars, dict(host_state)
