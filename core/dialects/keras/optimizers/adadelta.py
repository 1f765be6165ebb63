r"""``keras.optimizers.Adadelta`` (Keras 3.15), lowered to canonical ``adadelta``.

Keras's update (``keras/src/optimizers/adadelta.py``, ``Adadelta.update_step``), ``v`` the
``accumulated_grad``, ``u`` the ``accumulated_delta_var`` (zeros),
``rms(x) = √(x + ε)``, after the base optimizer's weight decay ``p ← p − (p·wd)·lr``:

.. math::
    v ← ρv + (1 − ρ)g²;\quad δ = −\frac{rms(u)·g}{rms(v)};\quad
    u ← ρu + (1 − ρ)δ²;\quad p ← p + lr·δ

The formula is torch's and MindSpore's; the float op order is not, so this lowers to
canonical ``adadelta`` with ``arithmetic="keras"`` (and ``weight_decay_form="keras"``).
Defaults differ (DIALECTS.md D15): ``learning_rate=0.001``, ``rho=0.95``,
``epsilon=1e-7`` (torch: 1.0, 0.9, 1e-6).

Dialect notes (Keras source): nothing is validated.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adadelta import Adadelta as CanonicalAdadelta
from ...base import register_dialect
from ._base import KerasOptimizer

__all__ = ["Adadelta"]


@register_dialect
class Adadelta(KerasOptimizer):
    """Adadelta, as ``keras.optimizers.Adadelta``.

    Raises:
        ValueError: ``learning_rate`` not a float or a schedule; the base optimizer's checks
            and unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "keras.optimizers.Adadelta"
    cls_name = "Adadelta"
    hyperparameters = ("rho", "epsilon")

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float = 1e-7,
                 weight_decay: Any = None, clipnorm: Any = None, clipvalue: Any = None, global_clipnorm: Any = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None,
                 loss_scale_factor: Any = None, gradient_accumulation_steps: Any = None, name: Any = None, *,
                 params: Any = None, unassigned: str = "error", exclude_from_weight_decay: Any = None,
                 **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdadelta:
        return CanonicalAdadelta(rho=float(hp["rho"]), eps=float(hp["epsilon"]), arithmetic="keras",
                                 weight_decay_form="keras")
