r"""``keras.optimizers.Adamax`` (Keras 3.15), lowered to canonical ``adamax``.

Keras's update (``keras/src/optimizers/adamax.py``, ``Adamax.update_step``) at step ``t``
(``iterations + 1``), after the base optimizer's weight decay ``p ← p − (p·wd)·lr``, in the
variable's dtype:

.. math::
    m ← m + (g − m)(1 − β₁);\quad u ← \max(β₂·u, |g|);\quad
    p ← p − (lr·m)/((1 − β₁^t)·(u + ε))

i.e. canonical ``adamax`` with ``eps_placement="denominator"`` (ε added to ``u``, not
inside the max as in torch: DIALECTS.md D9), ``power_form="pow"`` (``ops.power(β₁, t)``
in float32), ``arithmetic="keras"`` (Keras's op order; ``1 − β₁`` written on Python
floats, so the float64 difference rounded to float32) and ``weight_decay_form="keras"``.
Defaults: ``learning_rate=0.001`` (torch: 2e-3), ``epsilon=1e-7`` (D15).

Dialect notes (Keras source): the class docstring writes ``m = beta1·m + (1 − beta)·g``;
the code computes ``m + (g − m)·(1 − β₁)`` (same value, other roundings). Keras validates
none of ``beta_1``, ``beta_2``, ``epsilon``; optbridge requires numbers.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adamax import Adamax as CanonicalAdamax
from ...base import register_dialect
from ._base import KerasOptimizer

__all__ = ["Adamax"]


@register_dialect
class Adamax(KerasOptimizer):
    """AdaMax (Adam with the infinity norm), as ``keras.optimizers.Adamax``.

    Raises:
        ValueError: ``learning_rate`` not a float or a schedule; the base optimizer's checks
            and unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "keras.optimizers.Adamax"
    cls_name = "Adamax"
    hyperparameters = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, weight_decay: Any = None, clipnorm: Any = None, clipvalue: Any = None,
                 global_clipnorm: Any = None, use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: Any = None, loss_scale_factor: Any = None,
                 gradient_accumulation_steps: Any = None, name: Any = None, *, params: Any = None,
                 unassigned: str = "error", exclude_from_weight_decay: Any = None, **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdamax:
        return CanonicalAdamax(beta1=float(hp["beta_1"]), beta2=float(hp["beta_2"]), eps=float(hp["epsilon"]),
                               eps_placement="denominator", power_form="pow", arithmetic="keras",
                               weight_decay_form="keras")
