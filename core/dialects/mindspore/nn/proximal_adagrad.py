"""``mindspore.nn.ProximalAdagrad`` (MindSpore 2.10), lowered to canonical ``proximal_adagrad``.

MindSpore's documented update (``γ`` = ``learning_rate``):

.. math::
    accum = accum + g·g,\\quad v = w − γ·g/\\sqrt{accum},\\quad
    w = \\frac{sign(v)}{1 + γ·l2}·\\max(|v| − γ·l1, 0)

Documentation vs behaviour: MindSpore 2.10's ``ApplyProximalAdagrad`` kernels (CPU
``nnacl/fp32_grad/apply_proximal_adagrad_fp32.c``, GPU, and TF's operator of the same
name) use the adaptive rate ``η = γ/√accum`` in the proximal step too:
``w = sign(v)·max(|v| − η·l1, 0)/(1 + η·l2)`` (measured on the CPU build). This class
follows that behaviour. Weight decay, gradient centralization and ``loss_scale`` are the
usual pre-processing; ``use_locking`` does not change the numbers.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.proximal_adagrad import ProximalAdagrad as CanonicalProximalAdagrad
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_bool_type, check_float_type, check_non_negative_float

__all__ = ["ProximalAdagrad"]


@register_dialect
class ProximalAdagrad(MindSporeOptimizer):
    """Proximal Adagrad, as ``mindspore.nn.ProximalAdagrad``.

    Raises:
        TypeError: ``accum``, ``l1`` or ``l2`` not a float, ``use_locking`` not a bool;
            base-class type errors.
        ValueError: ``accum``, ``l1`` or ``l2`` < 0 or not finite; base-class range errors.
    """

    qualname = "mindspore.nn.ProximalAdagrad"
    cls_name = "ProximalAdagrad"

    def __init__(self, params: Any, accum: float = 0.1, learning_rate: Any = 0.001, l1: float = 0.0,
                 l2: float = 0.0, use_locking: bool = False, loss_scale: float = 1.0, weight_decay: Any = 0.0,
                 *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        check_float_type("accum", accum, self.cls_name)
        check_float_type("l1", l1, self.cls_name)
        check_float_type("l2", l2, self.cls_name)
        check_bool_type("use_locking", use_locking, self.cls_name)
        check_non_negative_float("accum", accum, self.cls_name)
        check_non_negative_float("l1", l1, self.cls_name)
        check_non_negative_float("l2", l2, self.cls_name)
        self._record(dict(params=params, accum=accum, learning_rate=learning_rate, l1=l1, l2=l2,
                          use_locking=use_locking, loss_scale=loss_scale, weight_decay=weight_decay,
                          unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalProximalAdagrad(l1=a["l1"], l2=a["l2"], initial_accumulator_value=a["accum"]))
