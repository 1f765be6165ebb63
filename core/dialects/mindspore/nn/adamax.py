"""``mindspore.nn.AdaMax`` (MindSpore 2.10), lowered to canonical ``adamax``.

MindSpore's documented update (``ApplyAdaMax``):

.. math::
    m = β₁m + (1 − β₁)g,\\quad v = \\max(β₂v, |g|),\\quad
    w = w − \\frac{lr}{1 − β₁^t}·\\frac{m}{v + ε}

ε is added to the denominator, not inside the max (DIALECTS.md D9), and ``β₁ᵗ`` is a
float32 parameter multiplied by β₁ every step: canonical flags
``eps_placement="denominator"``, ``power_form="accumulate"``, ``arithmetic="mindspore"``.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adamax import Adamax as CanonicalAdamax
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_float_type, check_open_unit_interval, check_positive_float

__all__ = ["AdaMax"]


@register_dialect
class AdaMax(MindSporeOptimizer):
    """AdaMax, as ``mindspore.nn.AdaMax``.

    Raises:
        TypeError: ``beta1``, ``beta2``, ``eps`` or ``loss_scale`` not float; base-class type errors.
        ValueError: ``beta1``/``beta2`` outside (0, 1); ``eps`` or ``loss_scale`` <= 0; base range errors.
    """

    qualname = "mindspore.nn.AdaMax"
    cls_name = "AdaMax"

    def __init__(self, params: Any, learning_rate: Any = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-08, weight_decay: Any = 0.0, loss_scale: float = 1.0, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        check_float_type("beta1", beta1, self.cls_name)
        check_float_type("beta2", beta2, self.cls_name)
        check_float_type("eps", eps, self.cls_name)
        check_open_unit_interval("beta1", beta1, self.cls_name)
        check_open_unit_interval("beta2", beta2, self.cls_name)
        check_positive_float("eps", eps, self.cls_name)
        self._record(dict(params=params, learning_rate=learning_rate, beta1=beta1, beta2=beta2, eps=eps,
                          weight_decay=weight_decay, loss_scale=loss_scale, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalAdamax(beta1=a["beta1"], beta2=a["beta2"], eps=a["eps"],
                                           eps_placement="denominator", power_form="accumulate",
                                           arithmetic="mindspore"))
