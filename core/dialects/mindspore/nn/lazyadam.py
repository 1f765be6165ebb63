"""``mindspore.nn.LazyAdam`` (MindSpore 2.10) for dense gradients, lowered to canonical ``adam``.

With dense gradients MindSpore's ``LazyAdam.construct`` runs the same ``P.Adam`` operator
as ``nn.Adam`` (``_run_opt_with_one_number``), so the numbers are ``nn.Adam``'s: canonical
``adam`` with ``eps_placement="hat"`` and ``power_form="accumulate"`` (DIALECTS.md D1),
``use_nesterov`` with TF ApplyAdam's numerator (D2). The lazy (row-sparse) update of
``FusedSparseLazyAdam`` applies only to sparse (``RowTensor``) gradients, which optbridge
does not take. There is no ``use_amsgrad``.

Source: ``mindspore/nn/optim/lazyadam.py`` of MindSpore 2.10. Validation (behaviour, in
MindSpore's order): the ``nn.Optimizer`` base checks, then ``beta1``/``beta2``/``eps``/
``weight_decay`` must be ``float`` -- the weight-decay message misspells it
``'weight_dacay'``, and an ``int`` weight decay such as ``0`` (accepted by every other
MindSpore optimizer) is a ``TypeError``, as is a ``LearningRateSchedule`` (no dynamic
weight decay) -- then the ranges: betas in (0, 1), ``eps`` > 0, ``weight_decay`` >= 0.
Group dicts may still give an ``int`` ``weight_decay`` (only the argument is checked).
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adam import Adam as CanonicalAdam
from ....errors import SpecTypeError
from ....schedules.base import Schedule
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import (
    MindSporeOptimizer,
    check_bool_type,
    check_float_type,
    check_non_negative_float,
    check_open_unit_interval,
    check_positive_float,
)

__all__ = ["LazyAdam"]


@register_dialect
class LazyAdam(MindSporeOptimizer):
    """Adam, as ``mindspore.nn.LazyAdam`` (dense gradients: the numbers of ``nn.Adam``).

    Raises:
        TypeError: ``beta1``/``beta2``/``eps``/``weight_decay`` not float (``'weight_dacay'``),
            a schedule as weight decay, a flag not bool; base-class type errors.
        ValueError: ``beta1``/``beta2`` outside (0, 1), ``eps`` <= 0; base range errors.
    """

    qualname = "mindspore.nn.LazyAdam"
    cls_name = "LazyAdam"

    def __init__(self, params: Any, learning_rate: Any = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, use_locking: bool = False, use_nesterov: bool = False, weight_decay: Any = 0.0,
                 loss_scale: float = 1.0, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        check_float_type("beta1", beta1, self.cls_name)
        check_float_type("beta2", beta2, self.cls_name)
        check_float_type("eps", eps, self.cls_name)
        if not isinstance(weight_decay, float):
            suffix = " (dynamic weight decay is not supported)" if isinstance(weight_decay, Schedule) else ""
            raise SpecTypeError(
                f"For 'LazyAdam', the type of 'weight_dacay' should be 'float', but got type "
                f"'{type(weight_decay).__name__}'.{suffix}"
            )
        check_open_unit_interval("beta1", beta1, self.cls_name)
        check_open_unit_interval("beta2", beta2, self.cls_name)
        check_positive_float("eps", eps, self.cls_name)
        check_non_negative_float("weight_decay", weight_decay, self.cls_name)
        check_bool_type("use_locking", use_locking, self.cls_name)
        check_bool_type("use_nesterov", use_nesterov, self.cls_name)
        self._record(dict(params=params, learning_rate=learning_rate, beta1=beta1, beta2=beta2, eps=eps,
                          use_locking=use_locking, use_nesterov=use_nesterov, weight_decay=weight_decay,
                          loss_scale=loss_scale, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalAdam(beta1=a["beta1"], beta2=a["beta2"], eps=a["eps"], amsgrad=False,
                                         nesterov=a["use_nesterov"], eps_placement="hat",
                                         power_form="accumulate"))
