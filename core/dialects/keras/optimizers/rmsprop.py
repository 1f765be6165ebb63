r"""``keras.optimizers.RMSprop`` (Keras 3.15), lowered to canonical ``rmsprop``.

Keras's update (``keras/src/optimizers/rmsprop.py``, ``RMSprop.update_step``), ``v`` the
``velocity`` (zeros), ``ḡ`` the ``average_gradient`` (centered), ``b`` the ``momentum``
variable (when ``momentum > 0``), after the base optimizer's weight decay
``p ← p − (p·wd)·lr``:

.. math::
    v ← ρv + (1 − ρ)g²;\quad ḡ ← ρḡ + (1 − ρ)g;\quad
    u = \frac{lr·g}{\sqrt{v − ḡ² + ε}} \ (\text{not centered: } \sqrt{v + ε});\quad
    b ← μb + u,\ p ← p − b \ (\text{else } p ← p − u)

i.e. canonical ``rmsprop`` with ε inside the square root, mean square starting at 0 and
the learning rate inside the momentum buffer (``eps_placement="inside"``,
``initial_square_avg=0``, ``lr_placement="inside"``: DIALECTS.md D8's Keras column),
``arithmetic="keras"`` (Keras's op order, ``1 − ρ`` on Python floats) and
``weight_decay_form="keras"``. Defaults: ``learning_rate=0.001``, ``rho=0.9``,
``epsilon=1e-7`` (D15).

Dialect notes (Keras source): nothing is validated; a negative ``momentum`` means no
momentum (Keras creates the buffer only for ``momentum > 0``), as here.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.rmsprop import RMSProp as CanonicalRMSProp
from ...base import register_dialect
from ._base import KerasOptimizer, check_flag, check_number

__all__ = ["RMSprop"]


@register_dialect
class RMSprop(KerasOptimizer):
    """RMSProp (plain or centered, with momentum), as ``keras.optimizers.RMSprop``.

    Raises:
        ValueError: ``learning_rate`` not a float or a schedule; the base optimizer's checks
            and unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number, ``centered`` not a bool.
    """

    qualname = "keras.optimizers.RMSprop"
    cls_name = "RMSprop"
    hyperparameters = ("rho", "momentum", "epsilon", "centered")

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
                 centered: bool = False, weight_decay: Any = None, clipnorm: Any = None, clipvalue: Any = None,
                 global_clipnorm: Any = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None,
                 loss_scale_factor: Any = None, gradient_accumulation_steps: Any = None, name: Any = None, *,
                 params: Any = None, unassigned: str = "error", exclude_from_weight_decay: Any = None,
                 **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _check(self, hp: dict[str, Any], where: str) -> None:
        for name in ("rho", "momentum", "epsilon"):
            check_number(name, hp[name], where)
        check_flag("centered", hp["centered"], where)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalRMSProp:
        return CanonicalRMSProp(alpha=float(hp["rho"]), eps=float(hp["epsilon"]), momentum=float(hp["momentum"]),
                                centered=bool(hp["centered"]), eps_placement="inside", initial_square_avg=0.0,
                                lr_placement="inside", arithmetic="keras", weight_decay_form="keras")
