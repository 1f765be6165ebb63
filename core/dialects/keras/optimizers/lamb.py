r"""``keras.optimizers.Lamb`` (Keras 3.15), lowered to canonical ``lamb``.

Keras's update (``keras/src/optimizers/lamb.py``, ``Lamb.update_step``) at step ``t``
(``iterations + 1``), after the base optimizer's weight decay ``p ← p − (p·wd)·lr``, in the
variable's dtype:

.. math::
    m ← m + (g − m)(1 − β₁);\quad v ← v + (g² − v)(1 − β₂);\quad
    u = \frac{m/(1 − β₁^t)}{\sqrt{v/(1 − β₂^t)} + ε};\quad
    r = \begin{cases}‖p‖/‖u‖ & ‖p‖ > 0,\ ‖u‖ > 0\\ 1 & \text{else}\end{cases};\quad
    p ← p − (r·lr)·u

one trust ratio per variable, i.e. canonical ``lamb`` with ``weight_decay_form="keras"``
(the decay is outside the trust ratio, which sees the decayed ``p``; the paper, Optax and
MindSpore add ``wd·p`` to ``u`` inside it: DIALECTS.md D13) and ``arithmetic="keras"``
(``1 − β`` written on Python floats: the float64 difference rounded to float32).
Default ``epsilon=1e-7`` (MindSpore, Optax: 1e-6, D15).

Dialect notes (Keras source): unlike Keras ``Adam``, ε is added to the *bias-corrected*
``√v̂`` (the paper's ε). Keras takes the norms as ``sqrt(sum(power(x, 2)))``; on
TensorFlow the float32 ``power(x, 2)`` (Eigen's vectorised ``pow``) is not always the
correctly rounded ``x·x`` and the sum is TensorFlow's reduction order, so trust ratios
agree with Keras to a few ulp, not bit for bit. Keras validates none of ``beta_1``,
``beta_2``, ``epsilon``; optbridge requires numbers.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.lamb import Lamb as CanonicalLamb
from ...base import register_dialect
from ._base import KerasOptimizer

__all__ = ["Lamb"]


@register_dialect
class Lamb(KerasOptimizer):
    """LAMB (You et al. 2020), as ``keras.optimizers.Lamb``.

    Raises:
        ValueError: ``learning_rate`` not a float or a schedule; the base optimizer's checks
            and unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "keras.optimizers.Lamb"
    cls_name = "Lamb"
    hyperparameters = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, weight_decay: Any = None, clipnorm: Any = None, clipvalue: Any = None,
                 global_clipnorm: Any = None, use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: Any = None, loss_scale_factor: Any = None,
                 gradient_accumulation_steps: Any = None, name: Any = None, *, params: Any = None,
                 unassigned: str = "error", exclude_from_weight_decay: Any = None, **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalLamb:
        return CanonicalLamb(beta1=float(hp["beta_1"]), beta2=float(hp["beta_2"]), eps=float(hp["epsilon"]),
                             weight_decay_form="keras", arithmetic="keras")
