"""``mindspore.nn.FTRL`` (MindSpore 2.10), lowered to canonical ``ftrl``.

MindSpore's documented update (``m`` the accumulator, ``u`` the linear term, ``p`` =
``lr_power``, ``α`` = ``learning_rate``, ``ω`` the parameter):

.. math::
    m_{t+1} = m_t + g^2,\\quad
    u_{t+1} = u_t + g − \\frac{m_{t+1}^{−p} − m_t^{−p}}{α}·ω_t,\\quad
    ω_{t+1} = \\begin{cases}\\frac{sign(u_{t+1})·l1 − u_{t+1}}{m_{t+1}^{−p}/α + 2·l2} & |u_{t+1}| > l1\\\\
    0 & \\text{otherwise}\\end{cases}

Documentation vs behaviour (MindSpore 2.10, ``mindspore/nn/optim/ftrl.py`` and kernels):

* The CPU ``ApplyFtrl`` kernel writes ``linear ? l1 : −l1`` for ``sign(u)·l1``, i.e. ``+l1``
  for every non-zero ``u``: where ``u < −l1`` it computes ``(l1 − u)/q`` instead of
  ``(−l1 − u)/q`` (measured; equal when ``l1 = 0``). The GPU kernel and the documentation
  use ``sign(u)``. This class follows the documented formula, like ``nn.Momentum`` follows
  its documented Nesterov form; the CPU numbers are canonical ``ftrl`` with
  ``l1_sign="positive"``.
* ``learning_rate`` must be a float > 0 (the docs say "zero or positive"; MindSpore
  refuses 0.0 and an int), and dynamic or per-group learning rates are refused.
* Without groups, weight decay applies to *every* parameter: ``FTRL`` sets all its decay
  flags, so the default ``beta``/``gamma`` filter of other optimizers does not apply.
  Weight decay, gradient centralization and ``loss_scale`` are the usual pre-processing;
  a schedule as weight decay is accepted.
* ``use_locking`` only chooses locking in the kernel; the numbers do not depend on it.
"""
from __future__ import annotations

import math
from typing import Any

from ....algorithms.ftrl import FTRL as CanonicalFTRL
from ....errors import SpecValueError
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_bool_type, check_float_type, check_positive_float

__all__ = ["FTRL", "check_number"]


def check_number(name: str, value: float, bound: float, rule: str, cls_name: str) -> None:
    """MindSpore ``validator.check_number(name, value, bound, GE/LE, cls)`` (NaN fails every rule)."""
    ok = value >= bound if rule == ">=" else value <= bound
    if not ok or math.isnan(value):
        raise SpecValueError(f"For '{cls_name}', the argument '{name}' must {rule} {bound}, but got {value}.")


@register_dialect
class FTRL(MindSporeOptimizer):
    """FTRL-Proximal, as ``mindspore.nn.FTRL``.

    Args:
        params: ``None``, a selector, or a list of group dicts (no ``lr`` key).
        initial_accum: float >= 0, the accumulators' start value.
        learning_rate: float > 0 (static only).
        lr_power: float <= 0.
        l1, l2: floats >= 0.
        use_locking: bool.
        loss_scale: float > 0.
        weight_decay: float/int >= 0, or a schedule.
        unassigned: optbridge extension: ``"error"`` or ``"frozen"``.

    Raises:
        TypeError: ``initial_accum``, ``learning_rate``, ``lr_power``, ``l1``, ``l2`` or
            ``loss_scale`` not a float; ``use_locking`` not a bool; base-class type errors.
        ValueError: a dynamic or per-group learning rate, ``learning_rate`` <= 0,
            ``lr_power`` > 0, ``initial_accum``/``l1``/``l2`` < 0; base-class range errors.
    """

    qualname = "mindspore.nn.FTRL"
    cls_name = "FTRL"

    def __init__(self, params: Any, initial_accum: float = 0.1, learning_rate: Any = 0.001, lr_power: float = -0.5,
                 l1: float = 0.0, l2: float = 0.0, use_locking: bool = False, loss_scale: float = 1.0,
                 weight_decay: Any = 0.0, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        if self._dynamic_lr or self._is_group_lr:
            raise SpecValueError(
                f"For 'FTRL', dynamic learning rate and group learning rate are currently not supported in FTRL, "
                f"they should all be false, but got dynamic learning rate {self._dynamic_lr} and group learning "
                f"rate {self._is_group_lr}."
            )
        check_float_type("initial_accum", initial_accum, self.cls_name)
        check_number("initial_accum", initial_accum, 0.0, ">=", self.cls_name)
        check_float_type("learning_rate", learning_rate, self.cls_name)
        check_positive_float("learning_rate", learning_rate, self.cls_name)
        check_float_type("lr_power", lr_power, self.cls_name)
        check_number("lr_power", lr_power, 0.0, "<=", self.cls_name)
        check_float_type("l1", l1, self.cls_name)
        check_number("l1", l1, 0.0, ">=", self.cls_name)
        check_float_type("l2", l2, self.cls_name)
        check_number("l2", l2, 0.0, ">=", self.cls_name)
        check_bool_type("use_locking", use_locking, self.cls_name)
        self._record(dict(params=params, initial_accum=initial_accum, learning_rate=learning_rate,
                          lr_power=lr_power, l1=l1, l2=l2, use_locking=use_locking, loss_scale=loss_scale,
                          weight_decay=weight_decay, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        algorithm = CanonicalFTRL(lr_power=a["lr_power"], l1=a["l1"], l2=a["l2"],
                                  initial_accumulator_value=a["initial_accum"], l1_sign="signed")
        return self._lower(algorithm, decay_filter=None)
