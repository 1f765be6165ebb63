"""Lion, EvoLved Sign Momentum (Chen et al. 2023, "Symbolic Discovery of Optimization
Algorithms", arXiv:2302.06675, Algorithm 2).

Canonical algorithm ``"lion"``. Lowered to by Keras 3 ``keras.optimizers.Lion``. Sources:
Keras 3 ``keras/src/optimizers/lion.py`` (``Lion.update_step``) and
``keras/src/optimizers/base_optimizer.py`` (``BaseOptimizer._apply_weight_decay``);
Optax ``optax/_src/alias.py`` ``lion`` (``scale_by_lion``, ``add_decayed_weights``,
``scale_by_learning_rate``); the authors' implementation (google/automl ``lion``).

One slot, ``momentum`` (``m``, zeros): Keras names the optimizer variable ``momentum``
(``add_optimizer_variables(var_list, "momentum")``, kept in ``Lion._momentums``); Optax
calls the same array ``mu``.

Dialect axes (DIALECTS.md D3, D15), each an explicit flag:

* ``weight_decay_form`` — ``"decoupled"`` (the paper, Optax, lion-pytorch):
  ``p ← p·(1 − lr·wd)`` before the update, ``decay = 1 − lr·wd`` a host scalar (float64,
  as the other algorithms' decoupled form); ``"keras"`` (Keras' base optimizer):
  ``p ← p − (p·wd)·lr`` before the update, ``wd`` and ``lr`` in the parameter's dtype.
  Both are applied by the rule at every step (Keras: ``weight_decay=None`` skips it;
  with ``wd == 0`` the decay leaves every nonzero finite ``p`` unchanged, so no backend
  branches on the value). Optax computes the decoupled form as ``p + (−lr)·(u + wd·p)`` (decayed
  weights added to the update before scaling): the same formula with other roundings.
* defaults — Keras ``learning_rate=0.001``, ``beta_1=0.9``, ``beta_2=0.99``, no weight
  decay; Optax ``weight_decay=1e-3`` (the dialect supplies its own).

Host scalars at every step, in ``precision`` (Keras: ``ops.cast(beta, variable.dtype)``
and ``1.0 − beta`` in that dtype, i.e. float32 for float32 variables; Optax forms
``1. − b1`` on Python floats, i.e. ``precision="float64"`` rounded to the dtype):
``beta_1``, ``beta_2``, ``one_minus_beta_1 = 1 − β₁``, ``one_minus_beta_2 = 1 − β₂``,
plus ``lr``, ``weight_decay`` and, for ``"decoupled"``, ``decay``.

Canonical op order (``g`` pre-processed: negation for ``maximize``, centralization, loss
scale; ``m`` the ``momentum`` slot; all in the parameter's dtype, exactly as Keras writes
``update_step``):

0. rule-side weight decay, at every step: ``"decoupled"``: ``p = p·decay``;
   ``"keras"``: ``p = p − (p·wd)·lr``.
1. ``c = m·β₁ + g·(1 − β₁)`` (two products, then their sum).
2. ``u = sign(c)`` with ``sign(0) = 0`` (``+0``) and ``sign(NaN) = NaN``, as
   ``tf.math.sign``/``np.sign`` (``torch.sign`` maps NaN to 0; the torch kernel keeps the NaN).
3. ``p = p − lr·u`` (``lr·u`` is exactly ``±lr`` or ``0``).
4. ``m = m·β₂ + g·(1 − β₂)``.

Addition and multiplication commute bitwise, so Optax's ``sign((1 − b1)·g + b1·m)`` and
``(1 − b2)·g + b2·m`` are steps 1–4 too. Because ``u`` is a sign, a rounding difference in
``c`` changes the result only where ``c`` is within an ulp of 0.

Dialect note: TensorFlow's CPU kernels flush subnormal results to zero, so there (and in
Keras on TensorFlow) a subnormal ``c`` gives ``u = 0`` where NumPy gives ``±1``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .weight_decay import apply_rule_decay, check_choice, decay_scalars, declared_decay_scalars

__all__ = ["Lion", "LION_WEIGHT_DECAY_FORMS"]

#: The ``weight_decay_form`` values Lion accepts (no coupled form: no framework couples it).
LION_WEIGHT_DECAY_FORMS = ("decoupled", "keras")


@register_algorithm
@dataclass(frozen=True)
class Lion(Algorithm):
    """Canonical Lion. See the module docstring for the op order."""

    name = "lion"
    beta_1: float = 0.9
    beta_2: float = 0.99
    weight_decay_form: str = "decoupled"

    def __post_init__(self) -> None:
        check_choice(self.name, "weight_decay_form", self.weight_decay_form, LION_WEIGHT_DECAY_FORMS)

    #: both forms are applied by the kernel (step 0)
    weight_decay_applied_by = "rule"

    def update_tensor(self, ops, p, g, state, s):
        p = apply_rule_decay(ops, self.weight_decay_form, p, s)
        m = state["momentum"]
        beta_1, omb1, lr = s["beta_1"], s["one_minus_beta_1"], s["lr"]
        p = ops.blockwise_(ops.sub_, p, lambda m, g: ops.sign(m * beta_1 + g * omb1) * lr, m, g)
        state["momentum"] = ops.add_scaled_(ops.mul_(m, s["beta_2"]), g, s["one_minus_beta_2"])
        return p

    def slots(self) -> tuple[Slot, ...]:
        return (Slot("momentum"),)

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), **dict.fromkeys(
            ("beta_1", "beta_2", "one_minus_beta_1", "one_minus_beta_2"), NUMBER),
                **declared_decay_scalars(self.weight_decay_form)}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        one = t(1.0)
        beta_1, beta_2 = t(self.beta_1), t(self.beta_2)
        scalars = {
            "lr": hs.lr,
            "weight_decay": hs.weight_decay,
            "beta_1": float(beta_1),
            "beta_2": float(beta_2),
            "one_minus_beta_1": float(one - beta_1),
            "one_minus_beta_2": float(one - beta_2),
            **decay_scalars(self.weight_decay_form, hs.lr, hs.weight_decay),
        }
        return scalars, dict(host_state)
