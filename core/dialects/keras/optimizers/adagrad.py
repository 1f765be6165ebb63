r"""``keras.optimizers.Adagrad`` (Keras 3.15), lowered to canonical ``adagrad``.

Keras's update (``keras/src/optimizers/adagrad.py``, ``Adagrad.update_step``), ``s`` the
``accumulator`` (filled with ``initial_accumulator_value``), after the base optimizer's
weight decay ``p ← p − (p·wd)·lr``:

.. math::
    s ← s + g²;\quad p ← p − \frac{lr·g}{\sqrt{s + ε}}

i.e. canonical ``adagrad`` with ``eps_placement="inside"``, ``initial_accumulator_value``
0.1 by default (DIALECTS.md D7: torch starts at 0 with ε outside the root), no lr decay,
and ``weight_decay_form="keras"``. Defaults: ``learning_rate=0.001``, ``epsilon=1e-7`` (D15).

Dialect notes (Keras source): nothing is validated; a negative initial accumulator is
accepted (and gives NaN once ``s + ε < 0``, in Keras as here).
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adagrad import Adagrad as CanonicalAdagrad
from ...base import register_dialect
from ._base import KerasOptimizer

__all__ = ["Adagrad"]


@register_dialect
class Adagrad(KerasOptimizer):
    """Adagrad, as ``keras.optimizers.Adagrad``.

    Raises:
        ValueError: ``learning_rate`` not a float or a schedule; the base optimizer's checks
            and unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "keras.optimizers.Adagrad"
    cls_name = "Adagrad"
    hyperparameters = ("initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 weight_decay: Any = None, clipnorm: Any = None, clipvalue: Any = None, global_clipnorm: Any = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None,
                 loss_scale_factor: Any = None, gradient_accumulation_steps: Any = None, name: Any = None, *,
                 params: Any = None, unassigned: str = "error", exclude_from_weight_decay: Any = None,
                 **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdagrad:
        return CanonicalAdagrad(lr_decay=0.0, eps=float(hp["epsilon"]),
                                initial_accumulator_value=float(hp["initial_accumulator_value"]),
                                eps_placement="inside", update_slots=True, weight_decay_form="keras")
