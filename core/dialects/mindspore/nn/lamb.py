"""``mindspore.nn.Lamb`` (MindSpore 2.10), lowered to canonical ``lamb`` (``weight_decay_form="inside"``).

MindSpore's documented update (``λ`` = ``weight_decay``, ``γ`` the learning rate, ``t``
the 1-based step, ``φ`` the identity):

.. math::
    m = β₁m + (1−β₁)g,\\quad v = β₂v + (1−β₂)g²,\\quad
    r = \\frac{m/(1−β₁^t)}{\\sqrt{v/(1−β₂^t)} + ε},\\quad
    w = w − γ·\\frac{‖w‖}{‖r + λw‖}·(r + λw)

Weight decay sits inside the trust ratio (DIALECTS.md D13) and follows the usual decay
flags (ungrouped: not on names containing ``beta``/``gamma``; grouped: groups with
``weight_decay > 0``). ``Lamb.construct`` runs gradient centralization but neither the
``g + wd·w`` pre-processing nor a loss-scale division (the class has no ``loss_scale``
argument).

Platforms: the ``Lamb`` operator has GPU and Ascend kernels only — MindSpore 2.10's CPU
build raises "Unsupported op [Lamb] on CPU" — so this class follows the documented
formula, with the trust ratio set to 1 when ``‖w‖`` or ``‖r + λw‖`` is 0 (as the GPU
kernel does). The GPU kernel's sources differ between MindSpore releases (one version
clips the trust ratio to [0, 10] and takes its norm of ``m̂/√(v̂ + ε) + λw``); neither is
documented and neither could be run here, so neither is followed.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.lamb import Lamb as CanonicalLamb
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_float_type, check_open_unit_interval, check_positive_float

__all__ = ["Lamb"]


@register_dialect
class Lamb(MindSporeOptimizer):
    """LAMB, as ``mindspore.nn.Lamb`` (no ``loss_scale`` argument, as in MindSpore).

    Raises:
        TypeError: ``beta1``, ``beta2`` or ``eps`` not a float; base-class type errors.
        ValueError: ``beta1``/``beta2`` outside (0, 1), ``eps`` <= 0; base-class range errors.
    """

    qualname = "mindspore.nn.Lamb"
    cls_name = "Lamb"
    preprocess = ("centralization",)

    def __init__(self, params: Any, learning_rate: Any, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-6, weight_decay: Any = 0.0, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, 1.0, unassigned)
        check_float_type("beta1", beta1, self.cls_name)
        check_float_type("beta2", beta2, self.cls_name)
        check_float_type("eps", eps, self.cls_name)
        check_open_unit_interval("beta1", beta1, self.cls_name)
        check_open_unit_interval("beta2", beta2, self.cls_name)
        check_positive_float("eps", eps, self.cls_name)
        self._record(dict(params=params, learning_rate=learning_rate, beta1=beta1, beta2=beta2, eps=eps,
                          weight_decay=weight_decay, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalLamb(beta1=a["beta1"], beta2=a["beta2"], eps=a["eps"],
                                         weight_decay_form="inside"))
