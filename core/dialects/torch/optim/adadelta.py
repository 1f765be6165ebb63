"""``torch.optim.Adadelta`` (torch 2.13), lowered to canonical ``adadelta``.

torch's single-tensor update (``torch/optim/adadelta.py``, ``_single_tensor_adadelta``):

.. math::
    v ← ρv + (1 − ρ)g²;\\quad δ = \\frac{\\sqrt{u + ε}}{\\sqrt{v + ε}}·g;\\quad
    u ← ρu + (1 − ρ)δ²;\\quad p ← p − lr·δ

The same numbers as MindSpore's ``nn.Adadelta`` (both lower to canonical ``adadelta``).
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adadelta import Adadelta as CanonicalAdadelta
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, number

__all__ = ["Adadelta"]


@register_dialect
class Adadelta(TorchOptimizer):
    """Adadelta, as ``torch.optim.Adadelta``.

    Raises:
        ValueError: ``lr`` < 0, ``rho`` outside [0, 1], ``eps`` < 0, ``weight_decay`` < 0.
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "torch.optim.Adadelta"
    cls_name = "Adadelta"
    hyperparameters = ("lr", "rho", "eps", "weight_decay", "maximize", "capturable", "foreach", "differentiable")

    def __init__(self, params: Any = None, lr: Any = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0,
                 foreach: bool | None = None, *, capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False, unassigned: str = "error"):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        if not 0.0 <= number("lr", hp["lr"]):
            raise SpecValueError(f"Invalid learning rate: {hp['lr']}")
        if not 0.0 <= number("rho", hp["rho"]) <= 1.0:
            raise SpecValueError(f"Invalid rho value: {hp['rho']}")
        if not 0.0 <= number("eps", hp["eps"]):
            raise SpecValueError(f"Invalid epsilon value: {hp['eps']}")
        if not 0.0 <= number("weight_decay", hp["weight_decay"]):
            raise SpecValueError(f"Invalid weight_decay value: {hp['weight_decay']}")

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdadelta:
        return CanonicalAdadelta(rho=float(hp["rho"]), eps=float(hp["eps"]), maximize=bool(hp["maximize"]))
