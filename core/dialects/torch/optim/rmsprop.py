"""``torch.optim.RMSprop`` (torch 2.13), lowered to canonical ``rmsprop``.

torch's single-tensor update (``torch/optim/rmsprop.py``, ``_single_tensor_rmsprop``):

.. math::
    v ← αv + (1 − α)g²;\\quad d = \\sqrt{v}\\ (\\text{or } \\sqrt{v − ḡ²},\\ ḡ ← \\mathrm{lerp}(ḡ, g, 1 − α)
    \\text{ when centered}) + ε;\\quad b ← μb + g/d,\\ p ← p − lr·b \\ (μ > 0)
    \\text{ else } p ← p − lr·g/d

ε outside the root, mean square starting at 0, lr outside the momentum buffer
(DIALECTS.md D8): canonical flags ``eps_placement="outside"``, ``initial_square_avg=0``,
``lr_placement="outside"``, ``arithmetic="torch"``.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.rmsprop import RMSProp as CanonicalRMSProp
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, number

__all__ = ["RMSprop"]


@register_dialect
class RMSprop(TorchOptimizer):
    """RMSprop (optionally centered, with momentum), as ``torch.optim.RMSprop``.

    Raises:
        ValueError: ``lr``, ``eps``, ``momentum``, ``weight_decay`` or ``alpha`` < 0.
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "torch.optim.RMSprop"
    cls_name = "RMSprop"
    hyperparameters = ("lr", "momentum", "alpha", "eps", "centered", "weight_decay", "capturable", "foreach",
                       "maximize", "differentiable")

    def __init__(self, params: Any = None, lr: Any = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False, *,
                 unassigned: str = "error"):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        if not 0.0 <= number("lr", hp["lr"]):
            raise SpecValueError(f"Invalid learning rate: {hp['lr']}")
        if not 0.0 <= number("eps", hp["eps"]):
            raise SpecValueError(f"Invalid epsilon value: {hp['eps']}")
        if not 0.0 <= number("momentum", hp["momentum"]):
            raise SpecValueError(f"Invalid momentum value: {hp['momentum']}")
        if not 0.0 <= number("weight_decay", hp["weight_decay"]):
            raise SpecValueError(f"Invalid weight_decay value: {hp['weight_decay']}")
        if not 0.0 <= number("alpha", hp["alpha"]):
            raise SpecValueError(f"Invalid alpha value: {hp['alpha']}")

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalRMSProp:
        return CanonicalRMSProp(alpha=float(hp["alpha"]), eps=float(hp["eps"]), momentum=float(hp["momentum"]),
                                centered=bool(hp["centered"]), eps_placement="outside", initial_square_avg=0.0,
                                lr_placement="outside", arithmetic="torch", maximize=bool(hp["maximize"]))
