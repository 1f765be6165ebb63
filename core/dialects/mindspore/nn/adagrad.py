"""``mindspore.nn.Adagrad`` (MindSpore 2.10), lowered to canonical ``adagrad``.

MindSpore's documented update (``ApplyAdagrad``): ``h = h + g²`` (only with
``update_slots``), ``w = w − lr·g/√h``, with ``h`` starting at ``accum`` (default 0.1)
and **no ε** (DIALECTS.md D7): canonical flags ``initial_accumulator_value=accum``,
``eps_placement="none"``, ``update_slots``.

Documentation vs behaviour (measured, MindSpore 2.10 CPU build): with
``update_slots=False`` the CPU kernel still adds ``g²`` to the accumulator, i.e. it runs
exactly the ``update_slots=True`` numbers. This class follows the documented formula
(the accumulator stays at its value), as the GPU and Ascend kernels compute it; the
golden tests check the CPU build's behaviour and the documented formula separately.
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adagrad import Adagrad as CanonicalAdagrad
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_bool_type, check_float_type, check_non_negative_float

__all__ = ["Adagrad"]


@register_dialect
class Adagrad(MindSporeOptimizer):
    """Adagrad, as ``mindspore.nn.Adagrad``.

    Raises:
        TypeError: ``accum`` or ``loss_scale`` not float; ``update_slots`` not bool;
            base-class type errors.
        ValueError: ``accum`` < 0, ``loss_scale`` <= 0; base range errors.
    """

    qualname = "mindspore.nn.Adagrad"
    cls_name = "Adagrad"

    def __init__(self, params: Any, accum: float = 0.1, learning_rate: Any = 0.001, update_slots: bool = True,
                 loss_scale: float = 1.0, weight_decay: Any = 0.0, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        check_float_type("accum", accum, self.cls_name)
        check_bool_type("update_slots", update_slots, self.cls_name)
        check_non_negative_float("accum", accum, self.cls_name)
        self._record(dict(params=params, accum=accum, learning_rate=learning_rate, update_slots=update_slots,
                          loss_scale=loss_scale, weight_decay=weight_decay, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalAdagrad(
            lr_decay=0.0, eps=0.0, initial_accumulator_value=a["accum"], eps_placement="none",
            update_slots=a["update_slots"],
        ))
