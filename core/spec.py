"""The canonical optimizer spec: what every dialect lowers to and every backend runs.

Plain, immutable data (DESIGN.md section 3). A dialect class (``nn.Momentum``,
``optim.SGD``, ...) validates its framework's arguments and returns one of these from
``to_canonical()``; :func:`optbridge.build` binds it to named tensors.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .algorithms.base import Algorithm
from .schedules.values import Constant, Value
from .transforms.base import GradientTransform, check_transforms

__all__ = ["GroupSpec", "OptimizerSpec", "PREPROCESS_STEPS"]

#: Gradient pre-processing steps, in MindSpore ``Optimizer.construct`` order.
PREPROCESS_STEPS = ("weight_decay", "centralization", "loss_scale")


@dataclass(frozen=True)
class GroupSpec:
    """One parameter group.

    Attributes:
        params: a selector (see :mod:`optbridge.groups`).
        lr: the group's learning rate, or ``None`` for the optimizer default.
        weight_decay: the group's weight decay, or ``None`` for the default.
        grad_centralization: whether gradients of eligible tensors are centralized.
        overrides: algorithm hyperparameters overridden for this group (torch style); each
            must be a hyperparameter of the group's algorithm.
        source_index: index of this group in the user's list (for error messages).
        algorithm: the group's own algorithm (Keras ``MultiOptimizer``: a different update
            rule per group, in one optimizer with one step counter and one state dict), or
            ``None`` for the spec's :attr:`OptimizerSpec.algorithm`; ``overrides`` apply to it.
        decay_exclude: the group's own weight-decay exclusion patterns (as
            :attr:`OptimizerSpec.decay_exclude`), or ``None`` for the spec's.
        optional: a group whose selector matches no parameter is left out (an optimizer
            of a Keras ``OptimizerMap`` that no variable maps to is never built) instead of
            being an error.
    """

    params: Any
    lr: Value | None = None
    weight_decay: Value | None = None
    grad_centralization: bool = False
    overrides: Mapping[str, Any] = field(default_factory=dict)
    source_index: int = 0
    algorithm: Algorithm | None = None
    decay_exclude: tuple[str, ...] | None = None
    optional: bool = False

    def algorithm_of(self, spec: OptimizerSpec) -> Algorithm:
        """The algorithm this group runs in ``spec``: its own, else the spec's (before
        :attr:`overrides`)."""
        return self.algorithm if self.algorithm is not None else spec.algorithm


@dataclass(frozen=True)
class OptimizerSpec:
    """A canonical optimizer: algorithm, defaults, groups and dialect-level switches.

    Attributes:
        algorithm: the canonical algorithm with its default hyperparameters.
        lr: default learning rate.
        weight_decay: default weight decay.
        groups: parameter groups, or ``None`` for one group holding every parameter.
        order_params: a selector fixing the update order (MindSpore ``order_params``).
        loss_scale: gradients are divided by it (multiplied by its reciprocal, as
            MindSpore does); weight decay is multiplied by it first so it stays invariant.
        decay_filter: ``"mindspore"`` skips names containing ``beta``/``gamma`` (the
            MindSpore dialect sets it only for ungrouped parameters); ``None`` decays
            every parameter.
        unassigned: ``"error"`` or ``"frozen"``: what happens to parameters no group takes.
        precision: host scalar arithmetic, ``"float32"`` (MindSpore) or ``"float64"``.
        preprocess: which of :data:`PREPROCESS_STEPS` the dialect runs before the update.
        static_lr_offset: MindSpore quirk: when some group lr is dynamic, static group
            lrs pass through ``lr + 1 − 1`` in float32 (``_ConvertToCell``).
        origin: the dialect class this was lowered from, for messages.
        decay_exclude: regular expressions; a parameter whose name one of them matches
            (``re.search``) is not decayed (Keras ``exclude_from_weight_decay(var_names=...)``).
        transforms: the gradient pipeline (:mod:`optbridge.transforms`): run in this order
            over every gradient of a step, before each group's :attr:`preprocess` and rule.
    """

    algorithm: Algorithm
    lr: Value = Constant(1e-3)
    weight_decay: Value = Constant(0.0)
    groups: tuple[GroupSpec, ...] | None = None
    order_params: Any = None
    loss_scale: float = 1.0
    decay_filter: str | None = None
    unassigned: str = "error"
    precision: str = "float64"
    preprocess: tuple[str, ...] = PREPROCESS_STEPS
    static_lr_offset: bool = False
    origin: str = ""
    decay_exclude: tuple[str, ...] = ()
    transforms: tuple[GradientTransform, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "transforms", check_transforms(self.transforms, "OptimizerSpec.transforms"))

    def with_transforms(self, *transforms: GradientTransform | Mapping[str, Any]) -> OptimizerSpec:
        """This spec with ``transforms`` appended to its gradient pipeline (transforms or
        their config dicts)::

            spec = optim.AdamW(None, lr=1e-3).to_canonical().with_transforms(
                transforms.ClipByGlobalNorm(1.0, form="torch"))
        """
        added = check_transforms(list(transforms), "with_transforms")
        return dataclasses.replace(self, transforms=self.transforms + added)

    def group_algorithms(self) -> tuple[Algorithm, ...]:
        """The distinct algorithms the groups run (before overrides), the spec's first."""
        found = [self.algorithm]
        for g in self.groups or ():
            if g.algorithm is not None and g.algorithm not in found:
                found.append(g.algorithm)
        return tuple(found)
