"""``mindspore.nn.RMSProp`` (MindSpore 2.10), lowered to canonical ``rmsprop``.

MindSpore's documented update (ρ = ``decay``, β = ``momentum``, η = ``learning_rate``):

.. math::
    s = ρs + (1 − ρ)g²,\\quad m = βm + \\frac{η}{\\sqrt{s + ε}}g,\\quad w = w − m

and, centered, with ``ḡ = ρḡ + (1 − ρ)g`` and ``√(s − ḡ² + ε)`` as the denominator. The
mean square starts at **1.0** (``init='ones'``, also when centered), ε sits inside the
square root and the learning rate inside the momentum buffer (DIALECTS.md D8): canonical
flags ``initial_square_avg=1.0``, ``eps_placement="inside"``, ``lr_placement="inside"``,
``arithmetic="mindspore"`` (the ``ApplyRMSProp``/``ApplyCenteredRMSProp`` op order).

Documentation vs behaviour (measured on MindSpore 2.10's CPU build, not in its docs):

* the non-centered CPU kernel (``nnacl`` ``RMSPropUnuseCenterFp32``) computes
  ``√s + ε`` (ε *outside* the root) in its AVX loop over blocks of 8 elements and
  ``√(s + ε)`` only in the scalar tail; this class follows the documented ε-inside form,
  which the GPU/Ascend kernels and the centered CPU kernel compute. The two are equal
  in float32 at the default ε = 1e-10 and differ by about ε/2 relative otherwise;
* the centered CPU kernel leaves the moment and the parameter unchanged for elements
  whose ``s − ḡ² + ε`` is not positive (the canonical mindspore arithmetic does the same).
"""
from __future__ import annotations

from typing import Any

from ....algorithms.rmsprop import RMSProp as CanonicalRMSProp
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_bool_type, check_float_type, check_non_negative_float, check_positive_float

__all__ = ["RMSProp"]


@register_dialect
class RMSProp(MindSporeOptimizer):
    """Root Mean Squared Propagation, as ``mindspore.nn.RMSProp`` (centered or not).

    Raises:
        TypeError: ``decay``, ``momentum``, ``epsilon`` or ``loss_scale`` not float;
            ``use_locking`` or ``centered`` not bool; base-class type errors.
        ValueError: ``epsilon`` <= 0; ``decay`` or ``momentum`` < 0; base range errors.
    """

    qualname = "mindspore.nn.RMSProp"
    cls_name = "RMSProp"

    def __init__(self, params: Any, learning_rate: Any = 0.1, decay: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-10, use_locking: bool = False, centered: bool = False, loss_scale: float = 1.0,
                 weight_decay: Any = 0.0, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        check_float_type("decay", decay, self.cls_name)
        check_non_negative_float("decay", decay, self.cls_name)
        check_float_type("momentum", momentum, self.cls_name)
        check_non_negative_float("momentum", momentum, self.cls_name)
        check_float_type("epsilon", epsilon, self.cls_name)
        check_positive_float("epsilon", epsilon, self.cls_name)
        check_bool_type("use_locking", use_locking, self.cls_name)
        check_bool_type("centered", centered, self.cls_name)
        self._record(dict(params=params, learning_rate=learning_rate, decay=decay, momentum=momentum,
                          epsilon=epsilon, use_locking=use_locking, centered=centered, loss_scale=loss_scale,
                          weight_decay=weight_decay, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalRMSProp(
            alpha=a["decay"], eps=a["epsilon"], momentum=a["momentum"], centered=a["centered"],
            eps_placement="inside", initial_square_avg=1.0, lr_placement="inside", arithmetic="mindspore",
        ))
