"""``mindspore.nn.Adadelta`` (MindSpore 2.10), lowered to canonical ``adadelta``.

MindSpore's documented update (``ApplyAdadelta``), the same numbers as torch's Adadelta:

.. math::
    a = ρa + (1 − ρ)g²,\\quad u = \\sqrt{a_{up} + ε}\\,\\frac{g}{\\sqrt{a + ε}},\\quad
    a_{up} = ρa_{up} + (1 − ρ)u²,\\quad w = w − lr·u
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adadelta import Adadelta as CanonicalAdadelta
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_float_type, check_non_negative_float
from ._validator import INC_BOTH, check_float_range

__all__ = ["Adadelta"]


@register_dialect
class Adadelta(MindSporeOptimizer):
    """Adadelta, as ``mindspore.nn.Adadelta``.

    Raises:
        TypeError: ``rho``, ``epsilon`` or ``loss_scale`` not float; base-class type errors.
        ValueError: ``rho`` outside [0, 1]; ``epsilon`` < 0; ``loss_scale`` <= 0; base range errors.
    """

    qualname = "mindspore.nn.Adadelta"
    cls_name = "Adadelta"

    def __init__(self, params: Any, learning_rate: Any = 1.0, rho: float = 0.9, epsilon: float = 1e-6,
                 loss_scale: float = 1.0, weight_decay: Any = 0.0, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        check_float_type("rho", rho, self.cls_name)
        check_float_type("epsilon", epsilon, self.cls_name)
        check_float_range(rho, 0.0, 1.0, INC_BOTH, "rho", self.cls_name)
        check_non_negative_float("epsilon", epsilon, self.cls_name)
        self._record(dict(params=params, learning_rate=learning_rate, rho=rho, epsilon=epsilon,
                          loss_scale=loss_scale, weight_decay=weight_decay, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalAdadelta(rho=a["rho"], eps=a["epsilon"]))
