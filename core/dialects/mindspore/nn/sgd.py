"""``mindspore.nn.SGD`` (MindSpore 2.10), lowered to canonical ``sgd``.

MindSpore's ``SGD`` operator (Sutskever et al. 2013; torch-compatible):

.. math::
    b = g \\text{ on the first step, else } b = b·μ + (1 − dampening)·g;\\qquad
    p = p − lr·(g + μ·b) \\text{ with nesterov, else } p = p − lr·b

With ``momentum == 0`` the update is ``p = p − lr·g``. Weight decay is MindSpore's
coupled pre-processing (the operator's own ``weight_decay`` is set to 0). Dynamic weight
decay is refused, as in MindSpore.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.sgd import SGD as CanonicalSGD
from ....errors import SpecTypeError, SpecValueError
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_bool_type

__all__ = ["SGD"]


@register_dialect
class SGD(MindSporeOptimizer):
    """Stochastic gradient descent, as ``mindspore.nn.SGD``.

    Raises:
        TypeError: ``momentum``/``dampening`` not float or int, ``nesterov`` not bool,
            a dynamic weight decay, or the base class's type errors.
        ValueError: ``momentum``/``dampening`` < 0; ``nesterov`` with ``momentum <= 0``
            or ``dampening != 0``; the base class's range errors.
    """

    qualname = "mindspore.nn.SGD"
    cls_name = "SGD"

    def __init__(self, params: Any, learning_rate: Any = 0.1, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: Any = 0.0, nesterov: bool = False, loss_scale: float = 1.0, *,
                 unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        if isinstance(momentum, int) and not isinstance(momentum, bool):
            momentum = float(momentum)
        if not isinstance(momentum, float):
            raise SpecTypeError(f"For 'SGD', the argument 'momentum' must be float type, but got {type(momentum)}.")
        if momentum < 0.0:
            raise SpecValueError(f"For 'SGD', the argument 'momentum' must be at least 0.0, but got {momentum}.")
        if isinstance(dampening, int) and not isinstance(dampening, bool):
            dampening = float(dampening)
        if not isinstance(dampening, float):
            raise SpecTypeError(f"For 'SGD', the argument 'dampening' must be float type, but got {type(dampening)}.")
        if dampening < 0.0:
            raise SpecValueError(
                f"For 'SGD', the argument 'dampening' must be at least 0.0, but got 'dampening' {dampening}"
            )
        check_bool_type("nesterov", nesterov, self.cls_name)
        if nesterov and (momentum <= 0.0 or dampening != 0.0):
            raise SpecValueError(
                f"For 'SGD', if 'nesterov' is true, 'momentum' must be > 0.0 and 'dampening' must equal to 0.0, "
                f"but got 'momentum' {momentum}, 'dampening' {dampening}."
            )
        if self._dynamic_weight_decay:
            raise SpecTypeError(
                "For 'SGD', dynamic weight decay is currently not supported, the argument 'weight_decay' or "
                "'weight_decay' set in grouped 'params' must be float or int type."
            )
        self._record(dict(params=params, learning_rate=learning_rate, momentum=momentum, dampening=dampening,
                          weight_decay=weight_decay, nesterov=nesterov, loss_scale=loss_scale,
                          unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalSGD(momentum=a["momentum"], dampening=a["dampening"],
                                        nesterov=a["nesterov"], nesterov_form="torch"))
