"""``torch.optim.Adagrad`` (torch 2.13), lowered to canonical ``adagrad``.

torch's single-tensor update (``torch/optim/adagrad.py``, ``_single_tensor_adagrad``), ``t``
the parameter's step:

.. math::
    clr = \\frac{lr}{1 + (t − 1)·lr\\_decay};\\quad s ← s + g²;\\quad p ← p − clr·\\frac{g}{\\sqrt{s} + ε}

The sum starts at ``initial_accumulator_value`` (default 0) and ε is outside the root
(DIALECTS.md D7): canonical flags ``eps_placement="outside"``,
``initial_accumulator_value``, ``lr_decay``.

Dialect note (torch source, not in its docs): the sums are created in ``__init__`` from the
*constructor's* ``initial_accumulator_value``; a group dict's own
``initial_accumulator_value`` is kept in ``param_groups`` but never read. This class does
the same: every group starts from the constructor's value.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adagrad import Adagrad as CanonicalAdagrad
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, check_fused, number

__all__ = ["Adagrad"]


@register_dialect
class Adagrad(TorchOptimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    Raises:
        ValueError: ``lr``, ``lr_decay``, ``weight_decay``, ``initial_accumulator_value``
            or ``eps`` < 0.
        RuntimeError: ``fused`` with ``differentiable`` or ``foreach``.
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "torch.optim.Adagrad"
    cls_name = "Adagrad"
    hyperparameters = ("lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value", "foreach", "maximize",
                       "differentiable", "fused")

    def __init__(self, params: Any = None, lr: Any = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None,
                 unassigned: str = "error"):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        if not 0.0 <= number("lr", hp["lr"]):
            raise SpecValueError(f"Invalid learning rate: {hp['lr']}")
        if not 0.0 <= number("lr_decay", hp["lr_decay"]):
            raise SpecValueError(f"Invalid lr_decay value: {hp['lr_decay']}")
        if not 0.0 <= number("weight_decay", hp["weight_decay"]):
            raise SpecValueError(f"Invalid weight_decay value: {hp['weight_decay']}")
        if not 0.0 <= number("initial_accumulator_value", hp["initial_accumulator_value"]):
            raise SpecValueError(f"Invalid initial_accumulator_value value: {hp['initial_accumulator_value']}")
        if not 0.0 <= number("eps", hp["eps"]):
            raise SpecValueError(f"Invalid epsilon value: {hp['eps']}")

    def _check_after_params(self, hp: dict[str, Any]) -> None:
        check_fused(hp)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdagrad:
        initial = self._defaults["initial_accumulator_value"]  # torch ignores a group's own value
        return CanonicalAdagrad(lr_decay=float(hp["lr_decay"]), eps=float(hp["eps"]),
                                initial_accumulator_value=float(initial), eps_placement="outside",
                                maximize=bool(hp["maximize"]))
