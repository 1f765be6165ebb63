r"""``keras.optimizers.AdamW`` (Keras 3.15), lowered to canonical ``adam``.

Keras's ``AdamW`` is ``Adam`` with a required ``weight_decay`` (default 0.004, DIALECTS.md
D15): the decay is the base optimizer's ``p ← p − (p·wd)·lr`` before the Adam update
(D3), the same ``weight_decay_form="keras"`` every Keras optimizer uses -- so
``AdamW(weight_decay=w)`` and ``Adam(weight_decay=w)`` compute the same numbers. Unlike
torch's ``AdamW`` (``p·(1 − lr·wd)``), Keras rounds ``p·wd`` and ``(p·wd)·lr`` separately.
See :mod:`.adam` for the update.

Dialect notes (Keras source): ``weight_decay`` comes second in the signature, right after
``learning_rate``; ``weight_decay=None`` raises "Argument `weight_decay` must be a float.
Received: weight_decay=None" (an int is accepted).
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adam import Adam as CanonicalAdam
from ....errors import SpecValueError
from ...base import register_dialect
from ._base import KerasOptimizer
from .adam import canonical_adam, check_adam

__all__ = ["AdamW"]


@register_dialect
class AdamW(KerasOptimizer):
    """Adam with Keras's decoupled weight decay, as ``keras.optimizers.AdamW``.

    Raises:
        ValueError: ``weight_decay=None``; ``learning_rate`` not a float or a schedule; the
            base optimizer's checks and unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number, ``amsgrad`` not a bool.
    """

    qualname = "keras.optimizers.AdamW"
    cls_name = "AdamW"
    hyperparameters = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(self, learning_rate: Any = 0.001, weight_decay: Any = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, clipnorm: Any = None,
                 clipvalue: Any = None, global_clipnorm: Any = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None, loss_scale_factor: Any = None,
                 gradient_accumulation_steps: Any = None, name: Any = None, *, params: Any = None,
                 unassigned: str = "error", exclude_from_weight_decay: Any = None, **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _check(self, hp: dict[str, Any], where: str) -> None:
        check_adam(hp, where)

    def _check_after_base(self, arguments: dict[str, Any]) -> None:
        if arguments["weight_decay"] is None:
            raise SpecValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdam:
        return canonical_adam(hp)
