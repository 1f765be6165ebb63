"""``torch.optim.NAdam`` (torch 2.13), lowered to canonical ``nadam`` (``form="torch"``).

torch's single-tensor update (``torch/optim/nadam.py``, ``_single_tensor_nadam``) at step
``t`` with ``ψ`` = ``momentum_decay`` (DIALECTS.md D10):

.. math::
    μ_t = β₁(1 − ½·0.96^{tψ}),\\quad \\bar μ_t = \\bar μ_{t−1} μ_t,\\quad
    m ← \\operatorname{lerp}(m, g, 1 − β₁),\\quad v ← β₂ v + (1 − β₂) g²,\\quad
    p ← p − lr\\frac{(1 − μ_t)}{1 − \\bar μ_t}\\frac{g}{d} − lr\\frac{μ_{t+1}}{1 − \\bar μ_t μ_{t+1}}\\frac{m}{d},
    \\quad d = \\sqrt{v / (1 − β₂^t)} + ε

Weight decay is coupled L2, or with ``decoupled_weight_decay=True`` ``p ← p(1 − lr·wd)``
first (NAdamW). ``μ̄`` is a float32 tensor in torch (rounded every step; the canonical
algorithm does the same).

Dialect notes (torch source, not in its docs): unlike ``Adam``, integer betas are
accepted (no "both floats" check).
"""
from __future__ import annotations

from typing import Any

from ....algorithms.nadam import NAdam as CanonicalNAdam
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, number
from .adam import check_adam_family

__all__ = ["NAdam"]


@register_dialect
class NAdam(TorchOptimizer):
    """NAdam, as ``torch.optim.NAdam``.

    Raises:
        ValueError: ``lr``/``eps``/``weight_decay``/``momentum_decay`` < 0, a beta
            outside [0, 1) (torch's words).
        TypeError: a hyperparameter that is not a number; ``betas`` not a pair.
    """

    qualname = "torch.optim.NAdam"
    cls_name = "NAdam"
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize",
                       "foreach", "capturable", "differentiable")

    def __init__(self, params: Any = None, lr: Any = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, unassigned: str = "error"):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        check_adam_family(hp, both_floats=False)
        if not 0.0 <= number("momentum_decay", hp["momentum_decay"]):
            raise SpecValueError(f"Invalid momentum_decay value: {hp['momentum_decay']}")

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalNAdam:
        beta1, beta2 = hp["betas"]
        return CanonicalNAdam(beta1=float(beta1), beta2=float(beta2), eps=float(hp["eps"]),
                              momentum_decay=float(hp["momentum_decay"]), form="torch",
                              weight_decay_form="decoupled" if hp["decoupled_weight_decay"] else "coupled",
                              maximize=bool(hp["maximize"]))
