r"""``keras.optimizers.Lion`` (Keras 3.15), lowered to canonical ``lion``.

Keras's update (``keras/src/optimizers/lion.py``, ``Lion.update_step``), after the base
optimizer's weight decay ``p ← p − (p·wd)·lr``, with ``β₁``, ``β₂`` cast to the variable's
dtype and ``m`` the ``momentum`` variable (zeros):

.. math::
    p ← p − lr·\mathrm{sign}(m·β₁ + g·(1 − β₁));\quad m ← m·β₂ + g·(1 − β₂)

i.e. canonical ``lion`` with ``weight_decay_form="keras"`` (the paper and Optax decay as
``p·(1 − lr·wd)``: the same formula, other roundings). Defaults: ``learning_rate=0.001``,
``beta_1=0.9``, ``beta_2=0.99`` and no weight decay (Optax: 1e-3, DIALECTS.md D15).

Dialect notes (Keras source): ``beta_1`` is checked after the base optimizer's checks,
with the condition ``beta_1 <= 0 or beta_1 > 1`` -- so ``beta_1=0`` is refused although
the message says "[0, 1] range"; ``beta_2`` is not validated. ``1 − β`` is formed in the
variable's dtype after the cast. On TensorFlow a subnormal ``m·β₁ + g·(1 − β₁)`` is
flushed to zero, so Keras takes no step there where NumPy steps by ``±lr``.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.lion import Lion as CanonicalLion
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import KerasOptimizer, check_number

__all__ = ["Lion"]


@register_dialect
class Lion(KerasOptimizer):
    """Lion, EvoLved Sign Momentum (Chen et al. 2023), as ``keras.optimizers.Lion``.

    Raises:
        ValueError: ``beta_1`` outside (0, 1] (Keras's message); ``learning_rate`` not a
            float or a schedule; the base optimizer's checks and unmodelled arguments (see
            :mod:`._base`).
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "keras.optimizers.Lion"
    cls_name = "Lion"
    hyperparameters = ("beta_1", "beta_2")

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 weight_decay: Any = None, clipnorm: Any = None, clipvalue: Any = None,
                 global_clipnorm: Any = None, use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: Any = None, loss_scale_factor: Any = None,
                 gradient_accumulation_steps: Any = None, name: Any = None, *, params: Any = None,
                 unassigned: str = "error", exclude_from_weight_decay: Any = None, **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _check(self, hp: dict[str, Any], where: str) -> None:
        beta_1 = check_number("beta_1", hp["beta_1"], where)
        check_number("beta_2", hp["beta_2"], where)
        if beta_1 <= 0 or beta_1 > 1:
            raise SpecValueError(
                f"{where}Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates to "
                f"SignSGD. Received: beta_1={beta_1}."
            )

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalLion:
        return CanonicalLion(beta_1=float(hp["beta_1"]), beta_2=float(hp["beta_2"]), weight_decay_form="keras")
