"""``mindspore.nn.Adam`` and ``mindspore.nn.AdamWeightDecay`` (MindSpore 2.10).

``Adam`` lowers to canonical ``adam`` with ``eps_placement="hat"`` and
``power_form="accumulate"``: MindSpore's ``Adam`` operator computes

.. math::
    m = m + (g − m)(1 − β₁),\\quad v = v + (g² − v)(1 − β₂),\\quad
    p = p − lr·\\frac{\\sqrt{1 − β₂^t}}{1 − β₁^t}·\\frac{m}{\\sqrt{v} + ε}

with ``β₁ᵗ``/``β₂ᵗ`` kept as float32 products (DIALECTS.md D1). ``use_nesterov`` uses
``β₁m + (1−β₁)g`` as numerator (D2). ``use_amsgrad`` runs ``ApplyAdamWithAmsgradV2``
(``v̂ = max(v̂, v)``, D4), which has no Nesterov flag: MindSpore accepts
``use_amsgrad=True, use_nesterov=True`` and ignores ``use_nesterov`` — so does this class.
``use_lazy`` and ``use_offload`` select other operators that give the same numbers for
dense gradients; with ``use_offload`` MindSpore skips gradient centralization.

``AdamOffload`` (deprecated since MindSpore 2.0, still shipped in 2.10) is ``Adam`` with
``use_offload=True`` as a class of its own: no ``use_amsgrad``, no ``**kwargs``, and no
gradient centralization (its ``construct`` runs weight decay and loss-scale division
only). It lowers exactly as ``Adam(use_offload=True)`` does; MindSpore 2.10 gives the two
the same bits. Its CPU operator ``AdamNoUpdateParam`` returns the step
``−lr·m/(√v + ε)`` and adds it to the parameter, with the moments computed as fused
multiply-adds (``m = fma(m, β₁, (1 − β₁)·g)``, ``v = fma(v, β₂, ((1 − β₂)·g)·g)``,
measured bit for bit), where the canonical order rounds ``m + (g − m)(1 − β₁)`` step by
step: the float32 trajectories agree within ``1e-6 + 1e-5·|x|`` and are bit-identical in
about 94 % of elements (``tests/goldens/mindspore_optimizers.json``, ``adam_offload_*``).

``AdamWeightDecay`` lowers to canonical ``adam_weight_decay`` (D3): no bias correction,
decoupled decay inside the step, ε default 1e-6, and no gradient centralization or
loss-scale handling (MindSpore's ``construct`` calls neither).
"""
from __future__ import annotations

from typing import Any

from ....algorithms.adam import Adam as CanonicalAdam
from ....algorithms.adam_weight_decay import AdamWeightDecay as CanonicalAdamWeightDecay
from ....errors import SpecKeyError, SpecValueError
from ....spec import OptimizerSpec
from ...base import register_dialect
from ._base import MindSporeOptimizer, check_bool_type, check_float_type, check_open_unit_interval, check_positive_float

__all__ = ["Adam", "AdamOffload", "AdamWeightDecay"]


def _check_param_value(beta1: Any, beta2: Any, eps: Any, cls_name: str) -> None:
    """MindSpore ``nn.optim.adam._check_param_value``."""
    check_float_type("beta1", beta1, cls_name)
    check_float_type("beta2", beta2, cls_name)
    check_float_type("eps", eps, cls_name)
    check_open_unit_interval("beta1", beta1, cls_name)
    check_open_unit_interval("beta2", beta2, cls_name)
    check_positive_float("eps", eps, cls_name)


@register_dialect
class Adam(MindSporeOptimizer):
    """Adam, as ``mindspore.nn.Adam`` (dense gradients).

    Raises:
        KeyError: unknown ``**kwargs`` (only ``use_lazy`` and ``use_offload`` exist).
        TypeError: ``beta1``/``beta2``/``eps`` not float; a flag not bool; base errors.
        ValueError: ``beta1``/``beta2`` outside (0, 1), ``eps`` <= 0, ``use_lazy`` and
            ``use_offload`` both true, ``use_amsgrad`` with lazy/offload; base errors.
    """

    qualname = "mindspore.nn.Adam"
    cls_name = "Adam"
    _kwargs = ("use_lazy", "use_offload")

    def __init__(self, params: Any, learning_rate: Any = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, use_locking: bool = False, use_nesterov: bool = False, weight_decay: Any = 0.0,
                 loss_scale: float = 1.0, use_amsgrad: bool = False, *, unassigned: str = "error", **kwargs: Any):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        invalid = set(kwargs) - set(self._kwargs)
        if invalid:
            raise SpecKeyError(
                f"For 'Adam', invalid keys are passed as kwargs, supported keys are 'use_lazy' and'use_offload', "
                f"but got {kwargs.keys()}."
            )
        use_lazy = kwargs.get("use_lazy", False)
        use_offload = kwargs.get("use_offload", False)
        _check_param_value(beta1, beta2, eps, self.cls_name)
        for name, flag in (("use_locking", use_locking), ("use_nesterov", use_nesterov),
                           ("use_amsgrad", use_amsgrad), ("use_lazy", use_lazy), ("use_offload", use_offload)):
            check_bool_type(name, flag, self.cls_name)
        if use_lazy and use_offload:
            raise SpecValueError(
                f"For 'Adam', 'use_lazy' and 'use_offload' can not both be True.But got use_lazy={use_lazy}, "
                f"use_offload={use_offload}."
            )
        if use_amsgrad and (use_lazy or use_offload):
            raise SpecValueError(
                f"For lazy Adam and Adam with offload, there is no parameter named 'use_amsgrad'.but got "
                f"'use_amsgrad'={use_amsgrad}."
            )
        arguments = dict(params=params, learning_rate=learning_rate, beta1=beta1, beta2=beta2, eps=eps,
                         use_locking=use_locking, use_nesterov=use_nesterov, weight_decay=weight_decay,
                         loss_scale=loss_scale, use_amsgrad=use_amsgrad, unassigned=unassigned)
        arguments.update(kwargs)
        self._record(arguments)

    @classmethod
    def argument_names(cls) -> list[str]:
        return super().argument_names() + list(cls._kwargs)

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        algorithm = CanonicalAdam(beta1=a["beta1"], beta2=a["beta2"], eps=a["eps"], amsgrad=a["use_amsgrad"],
                                  nesterov=a["use_nesterov"] and not a["use_amsgrad"],
                                  eps_placement="hat", power_form="accumulate")
        if a.get("use_offload", False):
            return self._lower(algorithm, preprocess=("weight_decay", "loss_scale"))
        return self._lower(algorithm)


@register_dialect
class AdamOffload(MindSporeOptimizer):
    """Adam with the update computed on the host, as ``mindspore.nn.AdamOffload`` (deprecated since
    MindSpore 2.0 in favour of ``nn.Adam(use_offload=True)``, which gives the same numbers).

    Raises:
        TypeError: ``beta1``/``beta2``/``eps`` not float; ``use_locking``/``use_nesterov`` not
            bool; base-class type errors.
        ValueError: ``beta1``/``beta2`` outside (0, 1), ``eps`` <= 0; base range errors.
    """

    qualname = "mindspore.nn.AdamOffload"
    cls_name = "AdamOffload"
    preprocess = ("weight_decay", "loss_scale")

    def __init__(self, params: Any, learning_rate: Any = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, use_locking: bool = False, use_nesterov: bool = False, weight_decay: Any = 0.0,
                 loss_scale: float = 1.0, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, loss_scale, unassigned)
        _check_param_value(beta1, beta2, eps, self.cls_name)
        check_bool_type("use_locking", use_locking, self.cls_name)
        check_bool_type("use_nesterov", use_nesterov, self.cls_name)
        self._record(dict(params=params, learning_rate=learning_rate, beta1=beta1, beta2=beta2, eps=eps,
                          use_locking=use_locking, use_nesterov=use_nesterov, weight_decay=weight_decay,
                          loss_scale=loss_scale, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalAdam(beta1=a["beta1"], beta2=a["beta2"], eps=a["eps"], nesterov=a["use_nesterov"],
                                         eps_placement="hat", power_form="accumulate"))


@register_dialect
class AdamWeightDecay(MindSporeOptimizer):
    """Adam with decoupled weight decay, as ``mindspore.nn.AdamWeightDecay``.

    Raises:
        TypeError: ``beta1``/``beta2``/``eps`` not float; base-class type errors.
        ValueError: ``beta1``/``beta2`` outside (0, 1), ``eps`` <= 0; base range errors.
    """

    qualname = "mindspore.nn.AdamWeightDecay"
    cls_name = "AdamWeightDecay"
    preprocess = ()

    def __init__(self, params: Any, learning_rate: Any = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-6, weight_decay: Any = 0.0, *, unassigned: str = "error"):
        self._init_base(params, learning_rate, weight_decay, 1.0, unassigned)
        _check_param_value(beta1, beta2, eps, self.cls_name)
        self._record(dict(params=params, learning_rate=learning_rate, beta1=beta1, beta2=beta2, eps=eps,
                          weight_decay=weight_decay, unassigned=unassigned))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        return self._lower(CanonicalAdamWeightDecay(beta1=a["beta1"], beta2=a["beta2"], eps=a["eps"]))
