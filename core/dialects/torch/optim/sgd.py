"""``torch.optim.SGD`` (torch 2.13), lowered to canonical ``sgd``.

torch's single-tensor update (``torch/optim/sgd.py``, ``_single_tensor_sgd``), ``b`` the
``momentum_buffer``, ``μ`` momentum, ``τ`` dampening:

.. math::
    g ← −g \\text{ (maximize)};\\quad g ← g + wd·p;\\quad
    b ← g \\text{ (first step)},\\ b ← μb + (1 − τ)g \\text{ (later)};\\quad
    u = g + μb \\text{ (nesterov) else } u = b;\\quad p ← p − lr·u

With ``momentum == 0`` there is no buffer and ``p ← p − lr·g``. This is canonical
``sgd`` with ``nesterov_form="torch"`` -- the algorithm MindSpore's ``nn.SGD`` lowers to;
without dampening and Nesterov it is also MindSpore's ``nn.Momentum`` (same numbers,
tests/test_torch_optim_live_sgd_adam.py proves it).

Dialect notes (torch source, not in its docs): ``dampening`` is not validated (a
negative value is accepted); ``lr`` is compared with ``lr < 0.0``, so ``nan`` passes.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.sgd import SGD as CanonicalSGD
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, check_fused, number

__all__ = ["SGD"]


@register_dialect
class SGD(TorchOptimizer):
    """Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    Raises:
        ValueError: ``lr`` < 0 ("Invalid learning rate: ..."), ``momentum`` < 0,
            ``weight_decay`` < 0, ``nesterov`` without momentum or with dampening.
        RuntimeError: ``fused`` with ``differentiable`` or ``foreach``.
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "torch.optim.SGD"
    cls_name = "SGD"
    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
                       "differentiable", "fused")

    def __init__(self, params: Any = None, lr: Any = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None,
                 unassigned: str = "error"):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        if number("lr", hp["lr"]) < 0.0:
            raise SpecValueError(f"Invalid learning rate: {hp['lr']}")
        if number("momentum", hp["momentum"]) < 0.0:
            raise SpecValueError(f"Invalid momentum value: {hp['momentum']}")
        if number("weight_decay", hp["weight_decay"]) < 0.0:
            raise SpecValueError(f"Invalid weight_decay value: {hp['weight_decay']}")
        number("dampening", hp["dampening"])
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise SpecValueError("Nesterov momentum requires a momentum and zero dampening")

    def _check_after_params(self, hp: dict[str, Any]) -> None:
        check_fused(hp)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalSGD:
        return CanonicalSGD(momentum=float(hp["momentum"]), dampening=float(hp["dampening"]),
                            nesterov=bool(hp["nesterov"]), nesterov_form="torch", maximize=bool(hp["maximize"]))
