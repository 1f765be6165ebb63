r"""``keras.optimizers.SGD`` (Keras 3.15), lowered to canonical ``sgd``.

Keras's update (``keras/src/optimizers/sgd.py``, ``SGD.update_step``), ``v`` the
``momentum`` variable (zeros), ``μ`` momentum, after the base optimizer's weight decay
``p ← p − (p·wd)·lr``:

.. math::
    μ = 0:\ p ← p − g·lr;\qquad
    v ← v·μ − g·lr;\quad p ← p + v \ \text{or, Nesterov,}\ p ← p + (v·μ − g·lr)

i.e. canonical ``sgd`` with ``momentum_form="keras"`` (lr inside the velocity,
DIALECTS.md D5; no dampening, D6) and ``weight_decay_form="keras"``. The velocity
exists only when ``momentum != 0``, as in Keras.

Dialect notes (Keras source): ``momentum`` must be a Python ``float`` in [0, 1] -- an
``int`` such as ``momentum=0`` raises "`momentum` must be a float between [0, 1]." --
and ``learning_rate`` a ``float`` too (``learning_rate=1`` raises). ``nesterov`` without
momentum is accepted and has no effect.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.sgd import SGD as CanonicalSGD
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import KerasOptimizer, check_flag

__all__ = ["SGD"]


@register_dialect
class SGD(KerasOptimizer):
    """Gradient descent with momentum, as ``keras.optimizers.SGD``.

    Raises:
        ValueError: ``momentum`` not a float in [0, 1]; ``learning_rate`` not a float or a
            schedule; the base optimizer's checks and unmodelled arguments (see
            :mod:`._base`).
        TypeError: ``nesterov`` not a bool; a callable learning rate.
    """

    qualname = "keras.optimizers.SGD"
    cls_name = "SGD"
    hyperparameters = ("momentum", "nesterov")

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: Any = None, clipnorm: Any = None, clipvalue: Any = None, global_clipnorm: Any = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None,
                 loss_scale_factor: Any = None, gradient_accumulation_steps: Any = None, name: Any = None, *,
                 params: Any = None, unassigned: str = "error", exclude_from_weight_decay: Any = None,
                 **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _check(self, hp: dict[str, Any], where: str) -> None:
        momentum = hp["momentum"]
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise SpecValueError(f"{where}`momentum` must be a float between [0, 1].")
        check_flag("nesterov", hp["nesterov"], where)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalSGD:
        return CanonicalSGD(momentum=float(hp["momentum"]), nesterov=bool(hp["nesterov"]), momentum_form="keras",
                            weight_decay_form="keras")
