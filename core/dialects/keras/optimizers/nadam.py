r"""``keras.optimizers.Nadam`` (Keras 3.15), lowered to canonical ``nadam``.

Keras's update (``keras/src/optimizers/nadam.py``). Once per ``apply`` (before any
variable), ``Nadam._backend_update_step`` advances the product of the momentum schedule,
one float32 variable shared by all variables: ``Π ← Π·β₁·(1 − ½·0.96^t)``. Then per
variable, after the base optimizer's weight decay ``p ← p − (p·wd)·lr``, with every
scalar cast to the variable's dtype first (``β₁``, ``β₂``, ``0.96``):

.. math::
    μ_t = β₁(1 − ½·0.96^{t}),\ μ_{t+1} = β₁(1 − ½·0.96^{t+1});\quad
    m ← m + (g − m)(1 − β₁);\quad v ← v + (g² − v)(1 − β₂);\\
    \hat m = \frac{μ_{t+1}m}{1 − Π_t μ_{t+1}} + \frac{(1 − μ_t)g}{1 − Π_t};\quad
    p ← p − \frac{\hat m·lr}{\sqrt{v/(1 − β₂^t)} + ε}

i.e. canonical ``nadam`` with ``form="keras"`` (the schedule ``0.96^t``, without torch's
``momentum_decay`` factor: DIALECTS.md D10) and ``weight_decay_form="keras"``.

Dialect notes (Keras source): the ``epsilon`` argument's doc calls it "epsilon hat" (the
form before the paper's §2.1), but ``update_step`` adds it to ``√(v/(1 − β₂ᵗ))``, the
*bias-corrected* second moment: Algorithm 1's ε, as torch's NAdam. ``1 − β`` is formed
in float32 after the cast (unlike Keras ``Adam``/``Adamax``, which subtract on Python
floats). Keras validates none of ``beta_1``, ``beta_2``, ``epsilon``; optbridge requires
numbers.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.nadam import NAdam as CanonicalNAdam
from ...base import register_dialect
from ._base import KerasOptimizer

__all__ = ["Nadam"]


@register_dialect
class Nadam(KerasOptimizer):
    """Adam with Nesterov momentum (Dozat 2016), as ``keras.optimizers.Nadam``.

    Raises:
        ValueError: ``learning_rate`` not a float or a schedule; the base optimizer's checks
            and unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "keras.optimizers.Nadam"
    cls_name = "Nadam"
    hyperparameters = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, weight_decay: Any = None, clipnorm: Any = None, clipvalue: Any = None,
                 global_clipnorm: Any = None, use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: Any = None, loss_scale_factor: Any = None,
                 gradient_accumulation_steps: Any = None, name: Any = None, *, params: Any = None,
                 unassigned: str = "error", exclude_from_weight_decay: Any = None, **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalNAdam:
        return CanonicalNAdam(beta1=float(hp["beta_1"]), beta2=float(hp["beta_2"]), eps=float(hp["epsilon"]),
                              form="keras", weight_decay_form="keras")
