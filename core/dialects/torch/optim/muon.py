"""``torch.optim.Muon`` (torch 2.13), lowered to canonical ``muon``.

torch's update (``torch/optim/_muon.py``, ``_single_tensor_muon``), for a 2-D parameter
of shape ``A×B``:

.. math::
    B ← \\mathrm{lerp}(B, g, 1 − μ);\\quad U = \\mathrm{lerp}(g, B, μ)\\ (\\text{nesterov})\\ \\text{else}\\ B;
    \\quad O = \\mathrm{NS}^{(a,b,c)}_{k}(U; ε);\\quad p ← p·(1 − lr·wd) − lr·\\mathrm{scale}(A, B)·O

with the Newton–Schulz iterations in bfloat16 and ``scale`` from ``adjust_lr_fn``
(``None``/``"original"``: ``√max(1, A/B)``; ``"match_rms_adamw"``: ``0.2·√max(A, B)``).
Canonical flags: ``arithmetic="torch"``, ``weight_decay_form="decoupled"``,
``adjust_lr`` from ``adjust_lr_fn``.

torch checks ``ns_steps < 100`` and three ``ns_coefficients`` when it steps; this class
checks them when it is constructed, with torch's messages. A parameter that is not 2-D
is refused when the optimizer is built (torch: in the constructor), with torch's message.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.muon import Muon as CanonicalMuon
from ....errors import SpecTypeError, SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, number

__all__ = ["Muon"]

#: torch 2.13's defaults (Keller Jordan's constants)
EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5


@register_dialect
class Muon(TorchOptimizer):
    """Muon, as ``torch.optim.Muon``.

    Raises:
        ValueError: ``lr``, ``momentum`` or ``weight_decay`` < 0, an unknown
            ``adjust_lr_fn``, ``ns_steps`` >= 100, ``ns_coefficients`` not of 3 values
            (torch's messages); a parameter that is not 2-D (when built).
        TypeError: a hyperparameter that is not a number.
    """

    qualname = "torch.optim.Muon"
    cls_name = "Muon"
    hyperparameters = ("lr", "weight_decay", "momentum", "nesterov", "ns_coefficients", "eps", "ns_steps",
                       "adjust_lr_fn")
    tuple_arguments = ("ns_coefficients",)

    def __init__(self, params: Any = None, lr: Any = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients: tuple[float, float, float] = (DEFAULT_A, DEFAULT_B, DEFAULT_C),
                 eps: float = EPS, ns_steps: int = DEFAULT_NS_STEPS, adjust_lr_fn: str | None = None, *,
                 unassigned: str = "error"):
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        if not 0.0 <= number("lr", hp["lr"]):
            raise SpecValueError(f"Learning rate should be >= 0 but is: {hp['lr']}")
        if not 0.0 <= number("momentum", hp["momentum"]):
            raise SpecValueError(f"momentum should be >= 0 but is: {hp['momentum']}")
        if not 0.0 <= number("weight_decay", hp["weight_decay"]):
            raise SpecValueError(f"weight decay should be >= 0 but is: {hp['weight_decay']}")
        adjust = hp["adjust_lr_fn"]
        if adjust is not None and adjust not in ["original", "match_rms_adamw"]:
            raise SpecValueError(f"Adjust learning rate function {adjust} is not supported")
        number("eps", hp["eps"])
        steps = hp["ns_steps"]
        if not isinstance(steps, int) or isinstance(steps, bool):
            raise SpecTypeError(f"'ns_steps' must be an int, but got {steps!r} of type {type(steps).__name__}")
        if steps >= 100:
            raise SpecValueError("Number of steps must be less than 100 for computational efficiency")
        coefficients = hp["ns_coefficients"]
        if isinstance(coefficients, (str, bytes)) or not isinstance(coefficients, (tuple, list)):
            raise SpecTypeError(f"'ns_coefficients' must be a tuple of three numbers, but got {coefficients!r}")
        if len(coefficients) != 3:
            raise SpecValueError("Coefficients must be a tuple of exactly 3 values")
        for i, value in enumerate(coefficients):
            number(f"ns_coefficients[{i}]", value)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalMuon:
        a, b, c = (float(v) for v in hp["ns_coefficients"])
        return CanonicalMuon(momentum=float(hp["momentum"]), nesterov=bool(hp["nesterov"]), ns_a=a, ns_b=b, ns_c=c,
                             ns_steps=int(hp["ns_steps"]), eps=float(hp["eps"]),
                             adjust_lr=hp["adjust_lr_fn"] or "original", arithmetic="torch",
                             weight_decay_form="decoupled")
