"""``mindspore.nn.ASGD`` (MindSpore 2.10), lowered to canonical ``asgd``.

MindSpore's documented update (``λ`` = ``lambd``, ``t`` the step, ``ax`` the average):

.. math::
    w_t = w_{t−1}(1 − λη_{t−1}) − η_{t−1}g_t,\\quad ax_t = ax_{t−1} + (w_t − ax_{t−1})μ_{t−1},\\quad
    η_t = \\frac{lr}{(1 + λ·lr·t)^α},\\quad μ_t = \\frac{1}{\\max(1, t − t_0)}

Documentation vs behaviour: the reference text writes ``ax_t = (w_t − ax_{t−1})·μ`` and
``η_t = 1/(1 + λ·lr·t)^α``; MindSpore 2.10 computes ``ax + (w − ax)·μ`` (``ax = w`` while
``μ == 1``) and ``η = lr/(1 + λ·lr·t)^α`` on every platform (``nn/optim/asgd.py``), i.e.
torch's ASGD. This class follows the behaviour. ``η`` starts at the first step's lr;
MindSpore computes ``η``, ``μ`` and ``1 − λη`` in float32.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.asgd import ASGD as CanonicalASGD
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_float_type

__all__ = ["ASGD"]


@register_dialect
class ASGD(MindSporeOptimizer):
    """Averaged SGD, as ``mindspore.nn.ASGD`` (no ``loss_scale`` argument, as in MindSpore).

    Raises:
        TypeError: ``lambd``, ``alpha`` or ``t0`` not float; base-class type errors.
        ValueError: base-class range errors (``learning_rate``/``weight_decay`` < 0).
    """

    qualname = "mindspore.nn.ASGD"
    cls_name = "ASGD"

    def __init__(self, params: Any, learning_rate: Any = 0.1, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: Any = 0.0, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, 1.0, unassigned)
        check_float_type("lambd", lambd, self.cls_name)
        check_float_type("alpha", alpha, self.cls_name)
        check_float_type("t0", t0, self.cls_name)
        self._record(dict(params=params, learning_rate=learning_rate, lambd=lambd, alpha=alpha, t0=t0,
                          weight_decay=weight_decay, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalASGD(lambd=a["lambd"], alpha=a["alpha"], t0=a["t0"]))
