"""``mindspore.nn.AdaFactor`` (MindSpore 2.10, experimental), lowered to canonical ``adafactor``.

MindSpore's Adafactor is the fairseq/T5 form (``nn/optim/adafactor.py``): ε₁ added to
``g²``, ``β₂ₜ = 1 − t^{−decay_rate}``, an optional first moment (``beta1``, default 0.9),
a relative step ``ρₜ = min(1e-2, 1/√t)`` (``min(1e-6·t, 1/√t)`` with ``warmup_init``)
unless ``relative_step=False`` (then ρ is the learning rate), ``α = ρ·max(ε₂, RMS(p))``
with ``scale_parameter``, the update clipped to RMS ``clip_threshold``, and weight decay
``p ← p − (u + p·wd·α)``. Canonical flags: ``eps1_placement="add"``,
``weight_decay_form="mindspore"``, ``arithmetic="mindspore"``, ``lr_rule`` from
``relative_step``/``warmup_init``.

Behaviour, from MindSpore's source and its CPU build (not in its docs):

* ``construct`` runs no gradient pre-processing: ``loss_scale`` is validated and then
  ignored, there is no gradient centralization, and weight decay is the kernel's
  decoupled form applied to **every** parameter (no ``beta``/``gamma`` filter); a group's
  own ``weight_decay`` is never read. This class lowers exactly so.
* When ``learning_rate`` is not a number (a list or a schedule, only allowed with
  ``relative_step=False``) MindSpore turns ``scale_parameter`` off.
* A group ``lr`` is accepted by MindSpore's constructor and fails at the first step
  (``For 'MultitypeFuncGraph', cannot find fn match given args``); this class refuses it
  at construction with a ``ValueError`` saying so.
* On CPU MindSpore runs its ``FusedAdaFactor`` kernel (the docs list only Ascend): the
  documented formula, with ``1e-30`` floors on the column statistics, the row-mean
  normaliser and the denominator, and sequential float32 sums — the op order of the
  canonical ``mindspore`` arithmetic.
* ``compression`` keeps 1-D second moments in float16 on Ascend; the CPU kernel ignores
  it, and so does this class (float32 numbers).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from ....algorithms.adafactor import Adafactor as CanonicalAdafactor
from ....errors import SpecTypeError, SpecValueError
from ....schedules.base import Schedule
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_bool_type, check_float_type, check_non_negative_float
from ._validator import INC_LEFT, INC_NEITHER, check_float_range, check_value_types

__all__ = ["AdaFactor"]


@register_dialect
class AdaFactor(MindSporeOptimizer):
    """Adafactor, as ``mindspore.nn.AdaFactor``.

    Raises:
        ValueError: ``learning_rate`` with ``relative_step``; ``warmup_init`` without it;
            neither a learning rate nor ``relative_step``; ``eps`` not of length 2; an
            ``eps`` entry, ``clip_threshold`` or ``beta1`` < 0; ``decay_rate`` outside
            (0, 1); ``weight_decay`` outside [0, 1); a group ``lr``; base range errors.
        TypeError: ``eps`` not a list/tuple; an entry, ``clip_threshold``, ``decay_rate``
            not float; ``beta1`` not int/float; a flag not bool; a schedule as weight
            decay; base-class type errors.
    """

    qualname = "mindspore.nn.AdaFactor"
    cls_name = "AdaFactor"
    preprocess = ()

    def __init__(self, params: Any, learning_rate: Any = None, eps: Any = (1e-30, 1e-3), clip_threshold: float = 1.0,
                 decay_rate: float = 0.8, beta1: Any = 0.9, weight_decay: Any = 0.0, scale_parameter: bool = True,
                 relative_step: bool = True, warmup_init: bool = False, compression: bool = False,
                 loss_scale: float = 1.0, *, unassigned: str = "error"):
        if learning_rate is not None and relative_step:
            raise SpecValueError(f"('Cannot combine manual lr and relative_step options', {learning_rate!r})")
        if warmup_init and not relative_step:
            raise SpecValueError("warmup_init requires relative_step=True")
        if learning_rate is None and not relative_step:
            raise SpecValueError("Cannot learning_rate is None and relative_step=False")
        lr = 0.0 if learning_rate is None else learning_rate
        beta = 0.0 if beta1 is None else beta1
        self._init_base(params, lr, weight_decay, loss_scale, unassigned)
        if self._is_group_lr:
            raise SpecValueError(
                "For 'AdaFactor', a group 'lr' is not supported: MindSpore 2.10 accepts it here and fails at the "
                "first step (\"For 'MultitypeFuncGraph', cannot find fn match given args\")."
            )
        check_value_types("eps", eps, (list, tuple), self.cls_name)
        if len(eps) != 2:
            raise SpecValueError("eps must have 2 value: (eps1, eps2).")
        for index, value in enumerate(eps):
            check_float_type(f"eps{index}", value, self.cls_name)
            check_non_negative_float(f"eps{index}", value, self.cls_name)
        check_float_type("clip_threshold", clip_threshold, self.cls_name)
        check_non_negative_float("clip_threshold", clip_threshold, self.cls_name)
        check_float_type("decay_rate", decay_rate, self.cls_name)
        check_float_range(decay_rate, 0, 1, INC_NEITHER, "decay_rate", self.cls_name)
        if isinstance(weight_decay, Schedule):
            raise SpecTypeError("For 'AdaFactor', dynamic weight decay is not supported: 'weight_decay' must be a "
                                "float in [0, 1).")
        check_float_range(weight_decay, 0, 1, INC_LEFT, "weight_decay", self.cls_name)
        check_bool_type("scale_parameter", scale_parameter, self.cls_name)
        check_bool_type("relative_step", relative_step, self.cls_name)
        check_bool_type("compression", compression, self.cls_name)
        check_value_types("beta1", beta, (int, float), self.cls_name)
        check_non_negative_float("beta1", float(beta), self.cls_name)
        self._record(dict(params=params, learning_rate=learning_rate, eps=tuple(eps), clip_threshold=clip_threshold,
                          decay_rate=decay_rate, beta1=beta1, weight_decay=weight_decay,
                          scale_parameter=scale_parameter, relative_step=relative_step, warmup_init=warmup_init,
                          compression=compression, loss_scale=loss_scale, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        numeric_lr = a["learning_rate"] is None or isinstance(a["learning_rate"], (int, float))
        if a["relative_step"]:
            lr_rule = "relative_warmup" if a["warmup_init"] else "relative"
        else:
            lr_rule = "lr"
        algorithm = CanonicalAdafactor(
            beta1=float(a["beta1"] or 0.0), beta2_decay=-a["decay_rate"], eps1=a["eps"][0], eps2=a["eps"][1],
            clip_threshold=a["clip_threshold"], lr_rule=lr_rule, scale_parameter=a["scale_parameter"] and numeric_lr,
            eps1_placement="add", weight_decay_form="mindspore", arithmetic="mindspore",
        )
        spec = self._lower(algorithm, decay_filter=None, loss_scale=1.0)
        if spec.groups is not None:
            spec = replace(spec, groups=tuple(replace(g, weight_decay=None) for g in spec.groups))
        return spec
