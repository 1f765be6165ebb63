"""``torch.optim.RAdam`` (torch 2.13), lowered to canonical ``radam``.

torch's single-tensor update (``torch/optim/radam.py``, ``_single_tensor_radam``) at step ``t``:

.. math::
    m ← \\operatorname{lerp}(m, g, 1 − β₁),\\quad v ← β₂v + (1 − β₂)g²,\\quad
    ρ_∞ = \\frac{2}{1 − β₂} − 1,\\quad ρ_t = ρ_∞ − \\frac{2tβ₂^t}{1 − β₂^t}

.. math::
    p ← p − lr·\\frac{m}{1 − β₁^t}·\\frac{\\sqrt{1 − β₂^t}}{\\sqrt v + ε}·r_t \\text{ if } ρ_t > 5,
    \\text{ else } p ← p − lr·\\frac{m}{1 − β₁^t};\\quad
    r_t = \\sqrt{\\frac{(ρ_t − 4)(ρ_t − 2)ρ_∞}{(ρ_∞ − 4)(ρ_∞ − 2)ρ_t}}

Weight decay is coupled L2, or with ``decoupled_weight_decay=True`` ``p ← p(1 − lr·wd)``
first (RAdamW). With the default β₂ = 0.999 the first five steps are unrectified.

Dialect notes (torch source, not in its docs): integer betas are accepted (no "both
floats" check, unlike ``Adam``).
"""
from __future__ import annotations

from typing import Any

from ....algorithms.radam import RAdam as CanonicalRAdam
from ...base import register_dialect
from ._base import TorchOptimizer
from .adam import check_adam_family

__all__ = ["RAdam"]


@register_dialect
class RAdam(TorchOptimizer):
    """RAdam, as ``torch.optim.RAdam``.

    Raises:
        ValueError: ``lr``/``eps``/``weight_decay`` < 0, a beta outside [0, 1) (torch's words).
        TypeError: a hyperparameter that is not a number; ``betas`` not a pair.
    """

    qualname = "torch.optim.RAdam"
    cls_name = "RAdam"
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "maximize", "foreach", "capturable",
                       "decoupled_weight_decay", "differentiable")

    def __init__(self, params: Any = None, lr: Any = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, unassigned: str = "error"):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        check_adam_family(hp, both_floats=False)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalRAdam:
        beta1, beta2 = hp["betas"]
        return CanonicalRAdam(beta1=float(beta1), beta2=float(beta2), eps=float(hp["eps"]),
                              weight_decay_form="decoupled" if hp["decoupled_weight_decay"] else "coupled",
                              maximize=bool(hp["maximize"]))
