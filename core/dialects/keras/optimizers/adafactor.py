r"""``keras.optimizers.Adafactor`` (Keras 3.15), lowered to canonical ``adafactor``.

Keras's update (``keras/src/optimizers/adafactor.py``, ``Adafactor.update_step``), after
the base optimizer's weight decay ``p ← p − (p·wd)·lr``, at ``t = iterations + 1``, every
value cast to the variable's dtype:

.. math::
    ρ = \min(lr, 1/\sqrt{t});\quad α = \max(ε_2, \mathrm{RMS}(p))·ρ;\quad
    β_{2,t} = 1 − t^{\mathrm{beta\_2\_decay}};\quad q = g² + ε_1

for a variable with ``ndim >= 2`` the row and column statistics ``r ← β₂ₜ·r + (1−β₂ₜ)·mean_{-1}(q)``,
``c ← β₂ₜ·c + (1−β₂ₜ)·mean_{-2}(q)`` and ``v = (r / mean(r))·c``, else
``v ← β₂ₜ·v + (1−β₂ₜ)·q``; then ``u = g/√v`` and
``p ← p − α·(u / \max(1, \mathrm{RMS}(u)/\mathrm{clip\_threshold}))``: canonical
``adafactor`` with ``arithmetic="keras"``, ``eps1_placement="add"``,
``lr_rule="min_lr"``, ``weight_decay_form="keras"``, ``eps1=epsilon_1``,
``eps2=epsilon_2``, ``beta2_decay=beta_2_decay``.

Dialect notes (Keras source): ``relative_step`` changes nothing: Keras takes
``min(lr, 1/√t)`` for a constant learning rate when it is set and forms
``ρ = min(lr, 1/√t)`` again unconditionally, so a schedule and ``relative_step=False``
get the same ``ρ``. None of the Adafactor arguments is validated by Keras (a string fails
in the first update); here a hyperparameter that is not a number, or a ``relative_step``
that is not a bool, is refused at construction with ``TypeError``. Keras keeps the
factored ``r`` and ``c`` at shapes ``P[:-1]`` and ``P[:-2] + P[-1:]``, size-0 placeholders
for the other variables and a full-size ``velocity`` ``v`` for every variable; here the
statistics are the canonical factored slots (``row_var``, ``col_var``: the same elements
with the size-1 axis kept; ``variance`` for ``ndim < 2``) and the factored ``v``, which
Keras overwrites at every step, is not stored.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adafactor import Adafactor as CanonicalAdafactor
from ...base import register_dialect
from ._base import KerasOptimizer, check_flag, check_number

__all__ = ["Adafactor"]


@register_dialect
class Adafactor(KerasOptimizer):
    """Adafactor (Shazeer & Stern 2018), as ``keras.optimizers.Adafactor``.

    Raises:
        ValueError: ``learning_rate`` not a float or a schedule; the base optimizer's
            checks and unmodelled arguments (see :mod:`._base`).
        TypeError: a hyperparameter that is not a number, ``relative_step`` not a bool.
    """

    qualname = "keras.optimizers.Adafactor"
    cls_name = "Adafactor"
    hyperparameters = ("beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold", "relative_step")

    def __init__(self, learning_rate: Any = 0.001, beta_2_decay: float = -0.8, epsilon_1: float = 1e-30,
                 epsilon_2: float = 1e-3, clip_threshold: float = 1.0, relative_step: bool = True,
                 weight_decay: Any = None, clipnorm: Any = None, clipvalue: Any = None,
                 global_clipnorm: Any = None, use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: Any = None, loss_scale_factor: Any = None,
                 gradient_accumulation_steps: Any = None, name: Any = None, *, params: Any = None,
                 unassigned: str = "error", exclude_from_weight_decay: Any = None, **kwargs: Any):
        self._init_keras(locals(), kwargs)

    def _check(self, hp: dict[str, Any], where: str) -> None:
        for key in ("beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold"):
            check_number(key, hp[key], where)
        check_flag("relative_step", hp["relative_step"], where)

    def _algorithm(self, hp: dict[str, Any]) -> CanonicalAdafactor:
        return CanonicalAdafactor(
            beta2_decay=float(hp["beta_2_decay"]), eps1=float(hp["epsilon_1"]), eps2=float(hp["epsilon_2"]),
            clip_threshold=float(hp["clip_threshold"]), lr_rule="min_lr", scale_parameter=True,
            eps1_placement="add", weight_decay_form="keras", arithmetic="keras")
