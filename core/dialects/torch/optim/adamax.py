"""``torch.optim.Adamax`` (torch 2.13), lowered to canonical ``adamax``.

torch's single-tensor update (``torch/optim/adamax.py``, ``_single_tensor_adamax``):

.. math::
    m ← \\mathrm{lerp}(m, g, 1 − β₁);\\quad u ← \\max(β₂u, |g| + ε);\\quad
    p ← p − \\frac{lr}{1 − β₁^t}·\\frac{m}{u}

ε inside the max (DIALECTS.md D9; MindSpore and Keras add it to the denominator) and
``β₁ᵗ`` a float64 power: canonical flags ``eps_placement="max"``, ``power_form="pow"``,
``arithmetic="torch"``.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adamax import Adamax as CanonicalAdamax
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, check_betas, number

__all__ = ["Adamax"]


@register_dialect
class Adamax(TorchOptimizer):
    """Adamax, as ``torch.optim.Adamax``.

    Raises:
        ValueError: ``lr``/``eps``/``weight_decay`` < 0; a beta outside [0, 1).
        TypeError: a hyperparameter that is not a number; ``betas`` not a pair.
    """

    qualname = "torch.optim.Adamax"
    cls_name = "Adamax"
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "foreach", "maximize", "differentiable", "capturable")

    def __init__(self, params: Any = None, lr: Any = 2e-3, betas: Any = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False, unassigned: str = "error"):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        if not 0.0 <= number("lr", hp["lr"]):
            raise SpecValueError(f"Invalid learning rate: {hp['lr']}")
        if not 0.0 <= number("eps", hp["eps"]):
            raise SpecValueError(f"Invalid epsilon value: {hp['eps']}")
        beta1, beta2 = check_betas(hp["betas"])
        if not 0.0 <= beta1 < 1.0:
            raise SpecValueError(f"Invalid beta parameter at index 0: {beta1}")
        if not 0.0 <= beta2 < 1.0:
            raise SpecValueError(f"Invalid beta parameter at index 1: {beta2}")
        if not 0.0 <= number("weight_decay", hp["weight_decay"]):
            raise SpecValueError(f"Invalid weight_decay value: {hp['weight_decay']}")

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdamax:
        beta1, beta2 = hp["betas"]
        return CanonicalAdamax(beta1=float(beta1), beta2=float(beta2), eps=float(hp["eps"]), eps_placement="max",
                               power_form="pow", arithmetic="torch", maximize=bool(hp["maximize"]))
