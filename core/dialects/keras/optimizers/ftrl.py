r"""``keras.optimizers.Ftrl`` (Keras 3.15), lowered to canonical ``ftrl``.

Keras's update (``keras/src/optimizers/ftrl.py``, ``Ftrl.update_step``), after the base
optimizer's weight decay ``p ← p − (p·wd)·lr``, in the variable's dtype, with ``n`` the
``accumulator`` (starts at ``initial_accumulator_value``), ``z`` the ``linear`` variable
(zeros), ``c = −learning_rate_power``, ``λ₁``, ``λ₂``, ``λ_s`` the l1, l2 and l2-shrinkage
strengths:

.. math::
    n' = n + g²;\quad z ← z + (g + 2λ_s·p) − \frac{n'^{c} − n^{c}}{lr}·p;\quad
    q = \frac{n'^{c}}{lr} + 2\Big(λ₂ + \frac{β}{2·lr}\Big);\quad
    p ← \frac{\mathrm{clip}(z, −λ₁, λ₁) − z}{q};\quad n ← n'

i.e. canonical ``ftrl`` with ``l1_sign="signed"`` (``clip(z) − z`` is ``sign(z)·λ₁ − z``
where ``|z| > λ₁`` and 0 elsewhere, TF's formula: DIALECTS.md D12), ``l2_shrinkage``,
``beta``, ``power_precision="native"`` (``ops.power`` in float32) and
``weight_decay_form="keras"``.

Dialect notes (Keras source):

* The class docstring gives ``w = (sgn(z)·λ₁ − z)/((β + √n)/α + λ₂)``; the code's
  quadratic term is ``n^c/lr + 2·λ₂ + β/lr``: ``λ₂`` counts twice, and ``learning_rate_power``
  (not −½) sets the power.
* With shrinkage the *linear* term takes ``g + 2λ_s·p`` while the accumulator still adds
  the plain ``g²``.
* ``beta`` is not validated (a negative ``beta`` is accepted, as here); ``learning_rate_power``
  may be 0 (a fixed learning rate).
* On TensorFlow, Keras's float32 ``ops.power`` is Eigen's vectorised ``pow``, which is not
  correctly rounded (it matches the correctly rounded power, and ``sqrt`` for ``c = ½``, in
  about 73% of random inputs), so optbridge -- which uses NumPy's ``pow`` -- agrees with
  Keras to a few ulp, not bit for bit.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.ftrl import FTRL as CanonicalFTRL
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import KerasOptimizer, check_number

__all__ = ["Ftrl"]

#: Keras's checks, in its order: (argument, the failing condition, the rule in Keras's words).
_RULES = (
    ("initial_accumulator_value", lambda v: v < 0.0, "needs to be positive or zero"),
    ("learning_rate_power", lambda v: v > 0.0, "needs to be negative or zero"),
    ("l1_regularization_strength", lambda v: v < 0.0, "needs to be positive or zero"),
    ("l2_regularization_strength", lambda v: v < 0.0, "needs to be positive or zero"),
    ("l2_shrinkage_regularization_strength", lambda v: v < 0.0, "needs to be positive or zero"),
)


@register_dialect
class Ftrl(KerasOptimizer):
    """FTRL-Proximal (McMahan et al. 2013), as ``keras.optimizers.Ftrl``.

    Raises:
        ValueError: ``initial_accumulator_value``, ``l1_regularization_strength``,
            ``l2_regularization_strength`` or ``l2_shrinkage_regularization_strength``
            negative; ``learning_rate_power`` positive (Keras's messages, in its order);
            ``learning_rate`` not a float or a schedule; the base optimizer's checks and
            unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "keras.optimizers.Ftrl"
    cls_name = "Ftrl"
    hyperparameters = ("learning_rate_power", "initial_accumulator_value", "l1_regularization_strength",
                       "l2_regularization_strength", "l2_shrinkage_regularization_strength", "beta")

    def __init__(self, learning_rate: Any = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, l2_shrinkage_regularization_strength: float = 0.0,
                 beta: float = 0.0, weight_decay: Any = None, clipnorm: Any = None, clipvalue: Any = None,
                 global_clipnorm: Any = None, use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: Any = None, loss_scale_factor: Any = None,
                 gradient_accumulation_steps: Any = None, name: Any = None, *, params: Any = None,
                 unassigned: str = "error", exclude_from_weight_decay: Any = None, **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _check(self, hp: dict[str, Any], where: str) -> None:
        for name, fails, rule in _RULES:
            value = check_number(name, hp[name], where)
            if fails(value):
                raise SpecValueError(f"{where}`{name}` {rule}. Received: {name}={value}.")
        check_number("beta", hp["beta"], where)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalFTRL:
        return CanonicalFTRL(
            lr_power=float(hp["learning_rate_power"]),
            l1=float(hp["l1_regularization_strength"]),
            l2=float(hp["l2_regularization_strength"]),
            initial_accumulator_value=float(hp["initial_accumulator_value"]),
            l1_sign="signed",
            l2_shrinkage=float(hp["l2_shrinkage_regularization_strength"]),
            beta=float(hp["beta"]),
            power_precision="native",
            weight_decay_form="keras",
        )
