r"""``keras.optimizers.Adam`` (Keras 3.15), lowered to canonical ``adam``.

Keras's update (``keras/src/optimizers/adam.py``, ``Adam.update_step``) at step ``t``
(``iterations + 1``), after the base optimizer's weight decay ``p ← p − (p·wd)·lr``, every
scalar cast to the variable's dtype:

.. math::
    α = lr·\sqrt{1 − β₂^t}/(1 − β₁^t);\quad m ← m + (g − m)(1 − β₁);\quad
    v ← v + (g² − v)(1 − β₂);\quad \hat v ← \max(\hat v, v) \text{ (amsgrad)};\quad
    p ← p − (m·α)/(\sqrt{v} + ε)

i.e. canonical ``adam`` with ``eps_placement="hat"`` (ε added to the uncorrected
``√v``, DIALECTS.md D1; Keras's docstring calls it "epsilon hat"), ``power_form="pow"``
(``ops.power(β, t)`` in float32), ``moment_form="keras"`` (``1 − β`` on Python floats,
rounded to float32) and ``weight_decay_form="keras"``. AMSGrad keeps the max of the
uncorrected ``v`` (D4). Defaults differ from torch's: ``epsilon=1e-7`` (D15).

Dialect notes (Keras source): Keras validates none of ``beta_1``, ``beta_2``, ``epsilon``
(they may even be callables there); optbridge requires numbers and accepts any value
Keras would compute with.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adam import Adam as CanonicalAdam
from ...base import register_dialect
from ._base import KerasOptimizer, check_flag, check_number

__all__ = ["Adam"]


def check_adam(hp: dict[str, Any], where: str) -> None:
    """Plain-data checks of Adam's hyperparameters (Keras itself checks none)."""
    for name in ("beta_1", "beta_2", "epsilon"):
        check_number(name, hp[name], where)
    check_flag("amsgrad", hp["amsgrad"], where)


def canonical_adam(hp: dict[str, Any]) -> CanonicalAdam:
    """Keras Adam's canonical flags."""
    return CanonicalAdam(beta1=float(hp["beta_1"]), beta2=float(hp["beta_2"]), eps=float(hp["epsilon"]),
                         amsgrad=bool(hp["amsgrad"]), nesterov=False, eps_placement="hat", power_form="pow",
                         moment_form="keras", weight_decay_form="keras")


@register_dialect
class Adam(KerasOptimizer):
    """Adam with ε-hat placement, as ``keras.optimizers.Adam``.

    Raises:
        ValueError: ``learning_rate`` not a float or a schedule; the base optimizer's checks
            and unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number, ``amsgrad`` not a bool.
    """

    qualname = "keras.optimizers.Adam"
    cls_name = "Adam"
    hyperparameters = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, weight_decay: Any = None, clipnorm: Any = None,
                 clipvalue: Any = None, global_clipnorm: Any = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None,
                 loss_scale_factor: Any = None, gradient_accumulation_steps: Any = None, name: Any = None, *,
                 params: Any = None, unassigned: str = "error", exclude_from_weight_decay: Any = None,
                 **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _check(self, hp: dict[str, Any], where: str) -> None:
        check_adam(hp, where)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdam:
        return canonical_adam(hp)
