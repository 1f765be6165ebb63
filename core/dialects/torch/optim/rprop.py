"""``torch.optim.Rprop`` (torch 2.13), lowered to canonical ``rprop``.

torch's single-tensor update (``torch/optim/rprop.py``, ``_single_tensor_rprop``): every
step size starts at the group's lr when the state is created; with ``s = sign(g·g′)`` it
is multiplied by ``etaplus`` (``s > 0``), ``etaminus`` (``s < 0``, the gradient then counts
as 0) or 1, clamped to ``step_sizes``, and ``p ← p − sign(g)·Δ``. The same numbers as
MindSpore's ``nn.Rprop`` (both lower to canonical ``rprop``).

Dialect notes (torch source): ``step_sizes`` is not validated (a minimum above the
maximum is accepted: ``clamp_`` then returns the maximum); there is no weight decay.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.rprop import Rprop as CanonicalRprop
from ....errors import SpecTypeError, SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, number

__all__ = ["Rprop"]


def _pair(name: str, value: Any) -> tuple[Any, Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)) or len(value) != 2:
        raise SpecTypeError(f"'{name}' must be a pair, but got {value!r}")
    return number(f"{name}[0]", value[0]), number(f"{name}[1]", value[1])


@register_dialect
class Rprop(TorchOptimizer):
    """Resilient backpropagation, as ``torch.optim.Rprop``.

    Raises:
        ValueError: ``lr`` < 0; ``etas`` not ``0 < etaminus < 1 < etaplus``.
        TypeError: a hyperparameter that is not a number; ``etas``/``step_sizes`` not pairs.
    """

    qualname = "torch.optim.Rprop"
    cls_name = "Rprop"
    hyperparameters = ("lr", "etas", "step_sizes", "foreach", "maximize", "differentiable", "capturable")

    def __init__(self, params: Any = None, lr: Any = 1e-2, etas: Any = (0.5, 1.2), step_sizes: Any = (1e-6, 50), *,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, unassigned: str = "error"):
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        if not 0.0 <= number("lr", hp["lr"]):
            raise SpecValueError(f"Invalid learning rate: {hp['lr']}")
        etaminus, etaplus = _pair("etas", hp["etas"])
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise SpecValueError(f"Invalid eta values: {etaminus}, {etaplus}")
        _pair("step_sizes", hp["step_sizes"])

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalRprop:
        (etaminus, etaplus), (step_min, step_max) = hp["etas"], hp["step_sizes"]
        return CanonicalRprop(etaminus=float(etaminus), etaplus=float(etaplus), step_size_min=float(step_min),
                              step_size_max=float(step_max), maximize=bool(hp["maximize"]))
