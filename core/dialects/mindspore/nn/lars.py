"""``mindspore.nn.LARS`` (MindSpore 2.10): LARS wrapping another MindSpore-dialect optimizer.

Lowered to canonical ``lars`` holding the wrapped optimizer's canonical algorithm; the
wrapped optimizer's groups, learning rates, weight decays, decay filter, ``order_params``
and loss scale drive it, as in MindSpore. Per parameter that ``lars_filter`` selects
(``θ`` = ``coefficient``, ``δ`` the weight decay, ``α`` the learning rate):

.. math::
    λ = \\frac{θ·‖ω‖}{‖g‖ + δ·‖ω‖ + ε},\\quad λ = \\min(λ/α, 1)\\ \\text{if use\\_clip},\\quad
    g' = λ·(g + δ·ω)

then the wrapped optimizer updates with ``g'``. This is the formula of the ``LARSUpdate``
operator that ``nn.LARS`` calls (MindSpore's ``LARSUpdate`` docs and its Ascend kernel,
with ``ε`` "added to the denominator"); the 2.10 class docstring prints the paper's
whole algorithm (momentum and a polynomial lr decay built in), which is what
``nn.LARS(nn.Momentum(...))`` computes for a constant learning rate.

Behaviour, from ``mindspore/nn/optim/lars.py`` (2.10), that the docs do not state:

* The gradient is divided by the wrapped optimizer's ``loss_scale`` first; weight decay
  moves from the wrapped optimizer into ``g'``: the wrapped optimizer runs with decay
  off, so parameters that ``lars_filter`` leaves out get no weight decay at all.
* When the wrapped optimizer has a dynamic weight decay and no dynamic learning rate,
  both ``LARS`` and the wrapped optimizer advance the shared ``global_step``, so it grows
  by 2 per step and the weight-decay schedule is read at steps 0, 2, 4, ... (measured).
  This class reproduces that (optbridge's own step counter still counts steps).
* ``use_clip`` refuses a wrapped optimizer with per-group *and* dynamic learning rates.

Platforms: ``LARSUpdate`` has no CPU kernel in MindSpore 2.10 ("Unsupported op
[LARSUpdate] on CPU"), so the numbers follow the documented formula above.

optbridge differences: ``lars_filter`` is a selector of the parameters LARS applies to
(configs are data), or ``None`` for MindSpore's default ``lambda x: 'LayerNorm' not in
x.name and 'bias' not in x.name``. A wrapped optimizer whose groups enable
``grad_centralization`` is refused: MindSpore centralizes the LARS-scaled gradient
inside the wrapped optimizer, an order the engine's pre-processing does not have. In
configs the wrapped optimizer is stored under ``base_optimizer`` (the config's own
``optimizer`` key names the class).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ....algorithms.lars import LARS as CanonicalLARS
from ....errors import SpecTypeError, SpecValueError
from ....groups import validate_selector
from ....schedules.values import Constant, Value
from ....spec import OptimizerSpec
from ...base import DialectOptimizer, register_dialect
from ._base import MindSporeOptimizer, check_bool_type, check_float_type

__all__ = ["LARS"]


@dataclass(frozen=True)
class DoubleSteppedValue:
    """A weight decay read at twice the optimizer step (MindSpore's LARS double step count)."""

    value: Value
    is_static = False

    def at(self, step: int) -> float:
        return self.value.at(2 * step)


@register_dialect
class LARS(DialectOptimizer):
    """LARS, as ``mindspore.nn.LARS``.

    Args:
        optimizer: the wrapped MindSpore-dialect optimizer (``nn.Momentum(...)``, ...).
        epsilon: float, added to the trust ratio's denominator.
        coefficient: float, the trust coefficient ``θ``.
        use_clip: bool, clip the trust ratio to ``min(λ/lr, 1)``.
        lars_filter: ``None`` (MindSpore's default filter) or a selector of the
            parameters LARS applies to.

    Raises:
        TypeError: ``optimizer`` not a MindSpore-dialect optimizer (MindSpore 2.10 raises
            ``AttributeError`` from its argument recorder before its own type check);
            ``epsilon``/``coefficient`` not a float; ``use_clip`` not a bool; a callable
            or malformed ``lars_filter``.
        ValueError: ``use_clip`` with a wrapped optimizer that has per-group and dynamic
            learning rates; a wrapped optimizer with ``grad_centralization`` groups.
    """

    qualname = "mindspore.nn.LARS"
    cls_name = "LARS"
    group_keys = ()
    nested_optimizers = {"optimizer": "base_optimizer"}

    def __init__(self, optimizer: Any, epsilon: float = 1e-05, coefficient: float = 0.001, use_clip: bool = False,
                 lars_filter: Any | None = None):
        if not isinstance(optimizer, MindSporeOptimizer):
            raise SpecTypeError(
                f"For 'LARS', the type of 'optimizer' should be 'Optimizer', but got type "
                f"'{type(optimizer).__name__}'. optbridge: pass a MindSpore-dialect optimizer."
            )
        check_float_type("epsilon", epsilon, self.cls_name)
        check_float_type("coefficient", coefficient, self.cls_name)
        check_bool_type("use_clip", use_clip, self.cls_name)
        if use_clip and optimizer._is_group_lr and optimizer._dynamic_lr:
            raise SpecValueError(
                "For 'LARS', if the argument 'use_clip' is set to True, then the dynamic learning rate and group "
                "learning rate cannot both be true."
            )
        if any(g.grad_centralization for g in optimizer._group_specs):
            raise SpecValueError(
                "For 'LARS', optbridge does not support a wrapped optimizer with 'grad_centralization': MindSpore "
                "centralizes the LARS-scaled gradient inside the wrapped optimizer, an order optbridge's "
                "pre-processing does not reproduce."
            )
        if lars_filter is not None:
            if callable(lars_filter):
                raise SpecTypeError(
                    "For 'LARS', optbridge takes 'lars_filter' as a parameter selector (a name, glob, list or "
                    "selector dict) or None for MindSpore's default filter, not a function: configs are data."
                )
            validate_selector(lars_filter, "lars_filter")
        self._inner = optimizer
        self._record(dict(optimizer=optimizer, epsilon=epsilon, coefficient=coefficient, use_clip=use_clip,
                          lars_filter=lars_filter))

    def to_canonical(self) -> OptimizerSpec:
        a = self._arguments
        inner = self._inner.to_canonical()
        lars_filter = a["lars_filter"]
        algorithm = CanonicalLARS(inner=inner.algorithm, coefficient=a["coefficient"], epsilon=a["epsilon"],
                                  use_clip=a["use_clip"],
                                  lars_filter=tuple(lars_filter) if isinstance(lars_filter, list) else lars_filter,
                                  loss_scale=inner.loss_scale)
        weight_decay, groups = inner.weight_decay, inner.groups
        if self._inner._dynamic_weight_decay and not self._inner._dynamic_lr:
            weight_decay = _double_stepped(weight_decay)
            if groups is not None:
                groups = tuple(replace(g, weight_decay=_double_stepped(g.weight_decay)) for g in groups)
        return replace(inner, algorithm=algorithm, weight_decay=weight_decay, groups=groups,
                       preprocess=("loss_scale",), origin=self.qualname)


def _double_stepped(value: Value | None) -> Any:
    if value is None or isinstance(value, Constant):
        return value
    return DoubleSteppedValue(value)
