"""``torch.optim.ASGD`` (torch 2.13), lowered to canonical ``asgd`` with ``eta_mu_float32``.

torch's single-tensor update (``torch/optim/asgd.py``, ``_single_tensor_asgd``), ``ax``
the average, ``λ`` = ``lambd``:

.. math::
    p ← p(1 − λη);\\quad p ← p − η g;\\quad ax ← ax + (p − ax)μ \\text{ if } μ ≠ 1 \\text{ else } ax ← p;\\quad
    η ← \\frac{lr}{(1 + λ·lr·t)^α},\\quad μ ← \\frac{1}{\\max(1, t − t_0)}

``η`` starts at ``lr``, ``μ`` at 1. This is MindSpore ``nn.ASGD``'s formula too; torch
keeps ``η`` and ``μ`` as float32 tensors (its default dtype), so each is rounded to
float32 after it is computed in float64 (canonical flag ``eta_mu_float32``).

Dialect notes (torch source, not in its docs): ``lambd``, ``alpha`` and ``t0`` are not
validated; ``foreach``, ``maximize``, ``differentiable`` and ``capturable`` are
positional parameters here (keyword-only in most other classes).
"""
from __future__ import annotations

from typing import Any

from ....algorithms.asgd import ASGD as CanonicalASGD
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, number

__all__ = ["ASGD"]


@register_dialect
class ASGD(TorchOptimizer):
    """Averaged stochastic gradient descent, as ``torch.optim.ASGD``.

    Raises:
        ValueError: ``lr`` < 0 or ``weight_decay`` < 0 (torch's words).
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "torch.optim.ASGD"
    cls_name = "ASGD"
    hyperparameters = ("lr", "lambd", "alpha", "t0", "weight_decay", "foreach", "maximize", "differentiable",
                       "capturable")

    def __init__(self, params: Any = None, lr: Any = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False, *, unassigned: str = "error"):
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        if not 0.0 <= number("lr", hp["lr"]):
            raise SpecValueError(f"Invalid learning rate: {hp['lr']}")
        if not 0.0 <= number("weight_decay", hp["weight_decay"]):
            raise SpecValueError(f"Invalid weight_decay value: {hp['weight_decay']}")
        for name in ("lambd", "alpha", "t0"):
            number(name, hp[name])

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalASGD:
        return CanonicalASGD(lambd=float(hp["lambd"]), alpha=float(hp["alpha"]), t0=float(hp["t0"]),
                             eta_mu_float32=True, maximize=bool(hp["maximize"]))
