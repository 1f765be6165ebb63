"""``mindspore.nn.Momentum`` (MindSpore 2.10), lowered to canonical ``sgd``.

MindSpore's documented update, with ``v`` the ``moments`` buffer and ``u`` the momentum:

.. math::
    v = v·u + g,\\qquad p = p − lr·v \\quad\\text{or, with use_nesterov,}\\quad
    p = p − (g·lr + v·u·lr)

Platform note: MindSpore 2.10's CPU ``ApplyMomentum`` kernel ignores ``use_nesterov`` and
runs plain momentum (measured; DIALECTS.md). This class follows the documented formula,
which the GPU and Ascend kernels compute; golden tests compare the Nesterov form with
that formula instead of the CPU build.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.sgd import SGD as CanonicalSGD
from ....errors import SpecTypeError, SpecValueError
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_float_type

__all__ = ["Momentum"]


@register_dialect
class Momentum(MindSporeOptimizer):
    """Momentum SGD, as ``mindspore.nn.Momentum``.

    Args:
        params: ``None``, a selector, or a list of group dicts (see the dialect docs).
        learning_rate: float/int >= 0, a per-step list, or a ``LearningRateSchedule``.
        momentum: float >= 0 (an int is a TypeError, as in MindSpore).
        weight_decay: float/int >= 0, or a schedule (dynamic weight decay).
        loss_scale: float > 0; gradients are multiplied by ``1/loss_scale``.
        use_nesterov: bool.
        unassigned: optbridge extension: ``"error"`` or ``"frozen"``.

    Raises:
        TypeError: ``learning_rate``, ``momentum``, ``loss_scale``, ``weight_decay`` or
            ``use_nesterov`` of the wrong type, or a bad element of ``params``.
        ValueError: ``learning_rate``/``weight_decay``/``momentum`` < 0, ``loss_scale`` <= 0.
    """

    qualname = "mindspore.nn.Momentum"
    cls_name = "Momentum"

    def __init__(self, params: Any, learning_rate: Any, momentum: float, weight_decay: Any = 0.0,
                 loss_scale: float = 1.0, use_nesterov: bool = False, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        check_float_type("momentum", momentum, self.cls_name)
        if momentum < 0.0:
            raise SpecValueError(
                f"For 'Momentum', the argument 'momentum' must be at least 0.0, but got {momentum}"
            )
        if not isinstance(use_nesterov, bool):
            raise SpecTypeError(f"The input value must be a bool, but got {type(use_nesterov).__name__}.")
        self._record(dict(params=params, learning_rate=learning_rate, momentum=momentum,
                          weight_decay=weight_decay, loss_scale=loss_scale, use_nesterov=use_nesterov,
                          unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalSGD(momentum=a["momentum"], dampening=0.0,
                                        nesterov=a["use_nesterov"], nesterov_form="scaled"))
