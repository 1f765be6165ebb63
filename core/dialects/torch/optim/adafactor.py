"""``torch.optim.Adafactor`` (torch 2.13), lowered to canonical ``adafactor``.

torch's single-tensor update (``torch/optim/_adafactor.py``, ``_single_tensor_adafactor``),
``t`` the parameter's step, ``n`` its size:

.. math::
    ρ = \\min(lr, 1/\\sqrt{t}),\\ α = \\max(ε₂, ‖p‖/\\sqrt{n})·ρ;\\quad p ← p(1 − lr·wd);\\quad
    R ← \\mathrm{lerp}(R, \\overline{g²}_{row}, t^{β₂decay}),\\
    C ← \\mathrm{lerp}(C, \\overline{g²}_{col}, t^{β₂decay}),\\
    v̂ = R C / \\max(\\bar R, ε₁);\\quad u = g/\\sqrt{\\max(v̂, ε₁²)};\\quad
    p ← p − α·u / \\max(1, \\mathrm{RMS}(u)/d)

(1-D tensors keep an unfactored ``V ← lerp(V, g², t^{β₂decay})``.) This is not the
fairseq/T5 Adafactor of MindSpore's ``nn.AdaFactor``: ε₁ clamps the estimate instead of
being added to ``g²`` (default: the dtype's machine epsilon), the relative step is
``min(lr, 1/√t)``, there is no first moment and the weight decay is decoupled with the
external lr. Canonical flags: ``eps1_placement="clamp"``, ``lr_rule="min_lr"``,
``scale_parameter=True``, ``beta1=0``, ``weight_decay_form="decoupled"``,
``arithmetic="torch"``.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adafactor import Adafactor as CanonicalAdafactor
from ....errors import SpecTypeError, SpecValueError
from ...base import register_dialect
from ._base import TorchOptimizer, number

__all__ = ["Adafactor"]


def _eps(value: Any) -> tuple[Any, Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)) or len(value) != 2:
        raise SpecTypeError(f"'eps' must be a pair (eps1, eps2), but got {value!r}")
    eps1 = None if value[0] is None else number("eps[0]", value[0])
    return eps1, number("eps[1]", value[1])


@register_dialect
class Adafactor(TorchOptimizer):
    """Adafactor, as ``torch.optim.Adafactor``.

    Raises:
        ValueError: ``lr`` < 0, ``beta2_decay`` > 0, an ``eps`` entry < 0, ``d`` < 1,
            ``weight_decay`` < 0 (torch's messages).
        TypeError: a hyperparameter that is not a number; ``eps`` not a pair.
    """

    qualname = "torch.optim.Adafactor"
    cls_name = "Adafactor"
    hyperparameters = ("lr", "beta2_decay", "eps", "d", "weight_decay", "foreach", "maximize")

    def __init__(self, params: Any = None, lr: Any = 1e-2, beta2_decay: float = -0.8, eps: Any = (None, 1e-3),
                 d: float = 1.0, weight_decay: float = 0.0, *, foreach: bool | None = None, maximize: bool = False,
                 unassigned: str = "error"):
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        self._init_torch(params, defaults, unassigned)

    def _check(self, hp: dict[str, Any]) -> None:
        if not 0.0 <= number("lr", hp["lr"]):
            raise SpecValueError(f"Learning rate should be >= 0 but is: {hp['lr']}")
        if not 0.0 >= number("beta2_decay", hp["beta2_decay"]):
            raise SpecValueError(f"beta2_decay should be <= 0 but is: {hp['beta2_decay']}")
        eps1, eps2 = _eps(hp["eps"])
        if eps1 is not None and not 0.0 <= eps1:
            raise SpecValueError(f"epsilon1 should be >= 0 but is: {eps1}")
        if not 0.0 <= eps2:
            raise SpecValueError(f"epsilon2 should be >= 0 but is: {eps2}")
        if not 1.0 <= number("d", hp["d"]):
            raise SpecValueError(f"Clipping threshold d should be >= 1 but is: {hp['d']}")
        if not 0.0 <= number("weight_decay", hp["weight_decay"]):
            raise SpecValueError(f"weight_decay should be >= 0 but is: {hp['weight_decay']}")

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdafactor:
        eps1, eps2 = hp["eps"]
        return CanonicalAdafactor(beta1=0.0, beta2_decay=float(hp["beta2_decay"]),
                                  eps1=None if eps1 is None else float(eps1), eps2=float(eps2),
                                  clip_threshold=float(hp["d"]), lr_rule="min_lr", scale_parameter=True,
                                  eps1_placement="clamp", weight_decay_form="decoupled", arithmetic="torch",
                                  maximize=bool(hp["maximize"]))
