"""``torch.optim.Adam`` and ``torch.optim.AdamW`` (torch 2.13), lowered to canonical ``adam``.

torch's single-tensor update (``torch/optim/adam.py``, ``_single_tensor_adam``) at step ``t``:

.. math::
    g ← −g \\text{ (maximize)};\\quad p ← p(1 − lr·wd) \\text{ (decoupled) or } g ← g + wd·p;\\quad
    m ← \\operatorname{lerp}(m, g, 1 − β₁);\\quad v ← β₂v + (1 − β₂)g²;\\quad
    \\hat v ← \\max(\\hat v, v) \\text{ (amsgrad)};\\quad
    p ← p − \\frac{lr}{1 − β₁^t}·\\frac{m}{\\sqrt{v}/\\sqrt{1 − β₂^t} + ε}

i.e. canonical ``adam`` with ``eps_placement="paper"`` (DIALECTS.md D1),
``power_form="pow"``, ``moment_form="torch"`` and ``weight_decay_form`` ``"coupled"``
(``Adam``) or ``"decoupled"`` (``AdamW``, ``Adam(decoupled_weight_decay=True)``, D3).
Bias corrections are computed in Python float64 from the step count, as torch does.

Dialect notes (torch source, not in its docs): ``betas`` must both be ``float`` (an
``int`` such as ``betas=(0, 0.999)`` raises "betas must be either both floats or both
Tensors" -- after the range checks); ``AdamW`` passes ``decoupled_weight_decay=True`` in
its defaults, so a group dict may still set ``"decoupled_weight_decay": False`` and then
runs coupled L2 decay. ``capturable``/``differentiable`` select torch code paths that
compute the bias corrections from a float32 step tensor; optbridge follows the default
path (see :mod:`._base`).
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adam import Adam as CanonicalAdam
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, check_betas, check_fused, number

__all__ = ["Adam", "AdamW", "check_adam_family"]


def check_adam_family(hp: dict[str, Any], both_floats: bool) -> None:
    """torch's checks shared by Adam, AdamW, NAdam and RAdam, in their order.

    ``lr``, ``eps``, ``betas[0]``, ``betas[1]``, ``weight_decay``; Adam/AdamW then require
    both betas to be ``float`` (``both_floats``).
    """
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
    if both_floats and not (isinstance(beta1, float) and isinstance(beta2, float)):
        raise SpecValueError("betas must be either both floats or both Tensors")


@register_dialect
class Adam(TorchOptimizer):
    """Adam, as ``torch.optim.Adam``.

    Raises:
        ValueError: ``lr``/``eps``/``weight_decay`` < 0, a beta outside [0, 1), betas not
            both ``float`` ("Invalid learning rate: ...", torch's words).
        RuntimeError: ``fused`` with ``differentiable`` or ``foreach``.
        TypeError: a hyperparameter that is not a number; ``betas`` not a pair.
    """

    qualname = "torch.optim.Adam"
    cls_name = "Adam"
    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable",
                       "differentiable", "fused", "decoupled_weight_decay")

    def __init__(self, params: Any = None, lr: Any = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False, unassigned: str = "error"):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        check_adam_family(hp, both_floats=True)

    def _check_after_params(self, hp: dict[str, Any]) -> None:
        check_fused(hp)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdam:
        beta1, beta2 = hp["betas"]
        return CanonicalAdam(beta1=float(beta1), beta2=float(beta2), eps=float(hp["eps"]), amsgrad=bool(hp["amsgrad"]),
                             nesterov=False, eps_placement="paper", power_form="pow", moment_form="torch",
                             weight_decay_form="decoupled" if hp["decoupled_weight_decay"] else "coupled",
                             maximize=bool(hp["maximize"]))


@register_dialect
class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW`` (``p ← p·(1 − lr·wd)`` first).

    Raises:
        ValueError, RuntimeError, TypeError: as :class:`Adam`.
    """

    qualname = "torch.optim.AdamW"
    cls_name = "AdamW"

    def __init__(self, params: Any = None, lr: Any = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, unassigned: str = "error"):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=True)
        self._init_torch(params, defaults, unassigned)
