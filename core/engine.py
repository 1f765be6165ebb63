"""The engine: binds a canonical spec to named parameters and drives the steps.

The engine is framework-free. It resolves groups, owns the global step, computes every
per-step host scalar (learning rate, weight decay, the algorithm's own scalars) in the
spec's precision, and hands each backend a :class:`StepPlan`: for every *bucket* (the
parameters of one group that share pre-processing flags) the scalars of this step.
A backend runs the plan with its kernels; only then is :meth:`Engine.commit` called, so
a step that fails leaves parameters, state and counters as they were.

Per-step order (MindSpore ``Optimizer.construct``): the learning rate and weight decay
of step ``global_step`` are read, the gradients are pre-processed (negation where the
algorithm has torch's ``maximize``, weight decay ``g + wd·p``, gradient centralization,
multiplication by ``1/loss_scale``), the
algorithm's update runs, and ``global_step`` increases by one.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import state
from .algorithms.base import Algorithm, HostStep, SlotLayout, scalar_type
from .algorithms.weight_decay import without_rule_decay
from .errors import (
    GroupError,
    ScheduleExhaustedError,
    SpecTypeError,
    SpecValueError,
    StateDictError,
    StaticLearningRateError,
)
from .groups import ParamInfo, Resolution, ResolvedGroup, describe_selector, resolve_groups, restrict
from .patterns import compile_name_pattern
from .schedules.stateful import ScheduleContext, StatefulSchedule
from .schedules.tracks import ValueTrack, check_metric
from .schedules.values import Constant, PerStep, Scheduled, Value
from .spec import GroupSpec, OptimizerSpec
from .transforms.loss_scale import loss_scale_of, scales_loss

__all__ = ["Bucket", "BucketStep", "StepPlan", "GroupRuntime", "Engine", "OptimizerAPI", "describe_dynamic"]


def describe_dynamic(value: Value) -> str | None:
    """A list or schedule value in words (``"a per-step list of 10 values"``, ``"the
    schedule 'WarmUpLR'"``), or ``None`` for a static value."""
    if value.is_static:
        return None
    if isinstance(value, PerStep):
        return f"a per-step list of {len(value.values)} values"
    schedule = getattr(value, "schedule", value)
    return f"the schedule {getattr(schedule, 'name', None) or type(schedule).__name__!r}"


@dataclass(frozen=True)
class Bucket:
    """Parameters of one group that share pre-processing flags."""

    group: int
    names: tuple[str, ...]
    decay: bool
    centralize: bool
    partition: str = ""


@dataclass(frozen=True)
class BucketStep:
    """Everything a backend needs to update one bucket in one step.

    Attributes:
        bucket: the parameters.
        algorithm: the group's algorithm (per-group overrides applied).
        scalars: host scalars for the kernel (always ``lr`` and ``weight_decay``).
        weight_decay: coupled decay to add to the gradient first (0.0: skip).
        centralize: whether to centralize the gradients.
        grad_scale: factor the gradients are multiplied by (``None``: skip).
        negate: negate the gradients before anything else (torch's ``maximize``).
        step: the group's own 1-based step count, the ``t`` of its rule's bias corrections
            (the global step + 1, less the group's ``first_step``).

    Pre-processing order on every backend: negate, weight decay ``g + wd·p``,
    centralization, ``g·grad_scale``; then the kernel.
    """

    bucket: Bucket
    algorithm: Algorithm
    scalars: Mapping[str, Any]
    weight_decay: float
    centralize: bool
    grad_scale: float | None
    negate: bool = False
    step: int = 1


@dataclass(frozen=True)
class StepPlan:
    """The buckets of one step and the host state to keep if the step succeeds."""

    buckets: tuple[BucketStep, ...]
    next_host_states: tuple[dict, ...]


@dataclass
class GroupRuntime:
    """A resolved group and its mutable host-side state.

    Schedule-related state (all part of the neutral state dict):

    * ``tracks`` — ``{"lr" | "weight_decay": ValueTrack}`` for values given by a
      :class:`~optbridge.schedules.stateful.StatefulSchedule` (torch lr_scheduler
      declarations);
    * ``scheduler_values`` — torch's scheduler bookkeeping that torch keeps in
      ``param_groups`` (``initial_lr``, ``max_lr``, ``min_lr``, ``max_momentum``,
      ``base_momentum``), written by bound ``optim.lr_scheduler`` objects;
    * ``hyperparameter_overrides`` — algorithm hyperparameters changed at run time
      (:meth:`Engine.set_hyperparameters`, e.g. momentum cycled by ``CyclicLR``);
      ``algorithm`` is ``base_algorithm`` with them applied.
    """

    index: int
    label: str
    names: tuple[str, ...]
    algorithm: Algorithm
    lr: Value
    weight_decay: Value
    buckets: tuple[Bucket, ...]
    host_state: dict = field(default_factory=dict)
    lr_override: float | None = None
    tracks: dict = field(default_factory=dict)
    scheduler_values: dict = field(default_factory=dict)
    hyperparameter_overrides: dict = field(default_factory=dict)
    base_algorithm: Algorithm | None = None
    #: the global step at which the group joined (:meth:`Engine.add_group`); its rule sees
    #: its own step count, ``global_step - first_step``, as torch counts a parameter's steps
    first_step: int = 0


def _check_like(default: Any, value: Any, where: str, minimum: float | None = None) -> None:
    """``value`` has the kind of ``default``: a finite number (not a bool) where a number
    stands, a bool where a bool, a string where a string.

    Raises:
        SpecTypeError: another kind. SpecValueError: NaN, an infinity, or below ``minimum``.
    """
    if isinstance(default, bool):
        if not isinstance(value, (bool, np.bool_)):
            raise SpecTypeError(f"{where} must be a bool. Received: {value!r:.80}")
    elif isinstance(default, (int, float)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise SpecTypeError(f"{where} must be a number. Received: {value!r:.80}")
        if not math.isfinite(value) or (minimum is not None and value < minimum):
            bound = "" if minimum is None else f" >= {minimum:g}"
            raise SpecValueError(f"{where} must be a finite number{bound}. Received: {value!r}")
    elif isinstance(default, str) and not isinstance(value, str):
        raise SpecTypeError(f"{where} must be a string. Received: {value!r:.80}")


def centralization_eligible(shape: Sequence[int]) -> bool:
    """MindSpore centralizes tensors with ndim >= 2 whose ``shape[1]`` is a multiple of 16."""
    return len(shape) >= 2 and shape[1] % 16 == 0


def _mindspore_decay_filter(name: str) -> bool:
    return "beta" not in name and "gamma" not in name


class Engine:
    """Framework-free driver of one optimizer instance. See the module docstring."""

    def __init__(self, spec: OptimizerSpec, params: Sequence[ParamInfo], *,
                 resolve_over: Sequence[ParamInfo] | None = None):
        """``resolve_over``: the whole model's parameters when ``params`` is one process's
        partition of them (``ZeroRedundancyOptimizer``): the groups resolve over the whole
        model and keep ``params`` (:func:`~optbridge.groups.restrict`), so every process
        has the same groups, some of them empty here. ``None``: resolve over ``params``."""
        self.spec = spec
        self.params = {p.name: p for p in params}
        groups = spec.groups
        selectors = None if groups is None else [g.params for g in groups]
        labels = None if groups is None else [g.source_index for g in groups]
        if resolve_over is not None:
            missing = [p.name for p in params if p.name not in {q.name for q in resolve_over}]
            if missing:
                raise GroupError(f"parameters {missing[:5]!r} are not among the parameters the groups resolve over")
        self.resolution: Resolution = resolve_groups(
            selectors, params if resolve_over is None else resolve_over, order_params=spec.order_params,
            unassigned=spec.unassigned, labels=labels,
            optional=None if groups is None else [g.optional for g in groups],
        )
        specs: list[GroupSpec | None] = [None] if groups is None else list(groups)
        if groups is not None and any(g.optional for g in groups):
            # an optional group that matched nothing is left out (its spec with it)
            kept = [(g, rg) for g, rg in zip(groups, self.resolution.groups) if rg.names or not g.optional]
            specs = [g for g, _ in kept]
            self.resolution = dataclasses.replace(self.resolution, groups=tuple(rg for _, rg in kept))
        if resolve_over is not None:
            self.resolution = restrict(self.resolution, [p.name for p in params])
        self.groups: list[GroupRuntime] = [
            self._make_group(pos, specs[pos], rg, self.params)
            for pos, rg in enumerate(self.resolution.groups)
        ]
        self.global_step = 0
        #: the host numbers of the spec's gradient transforms (a loss scale, a counter), one
        #: dict per transform (:meth:`optbridge.transforms.GradientTransform.initial_state`)
        self.transform_states: tuple[dict[str, float], ...] = tuple(t.initial_state() for t in spec.transforms)
        self._check_transform_slots()
        self._scalar = scalar_type(spec.precision)
        self._watchers: list[Callable[[], None]] = []

    def _check_transform_slots(self) -> None:
        owned = {slot: t for t in self.spec.transforms for slot in t.slot_fills()}
        for g in self.groups:
            for s in g.algorithm.slots():
                if s.name in owned:
                    raise SpecValueError(f"groups[{g.index}]: algorithm {g.algorithm.name!r} keeps a slot named "
                                         f"{s.name!r}, as transform {owned[s.name].name!r} does")

    def schedule_step(self, step: int) -> int:
        """The position at which schedules are read for the update after ``step`` updates:
        ``step`` itself, unless a transform counts calls between updates (Keras gradient
        accumulation: its schedules read the call count)."""
        for transform in self.spec.transforms:
            mapping = getattr(transform, "schedule_step", None)
            if mapping is not None:
                step = mapping(step)
        return step

    def last_step_within(self, length: int) -> int | None:
        """The last update whose schedules read a position below ``length`` (a per-step
        list's last used entry: ``length − 1`` unless :meth:`schedule_step` maps updates to
        calls), or ``None`` if none does."""
        step = length - 1
        while step >= 0 and self.schedule_step(step) >= length:
            step -= 1
        return step if step >= 0 else None

    def loss_scale(self) -> float:
        """The number the loss is multiplied by before differentiation: the product of the
        current scales of the spec's loss-scaling transforms (1.0 without one)."""
        return float(loss_scale_of(self.spec.transforms, self.transform_states))

    def commit_transforms(self, states: Sequence[Mapping[str, float]]) -> None:
        """Keep the transforms' host numbers a step left (:class:`optbridge.transforms.PipelineCall`)."""
        self.transform_states = tuple(dict(s) for s in states)

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every change of the values later steps use that is not
        a step: :meth:`set_lr`, :meth:`end_epoch`, :meth:`set_hyperparameters`,
        :meth:`add_group` and :meth:`apply_state` (``load_state_dict``, :meth:`restore`). A backend that keeps
        the host scalars of future steps (a device table, :class:`optbridge.scalars.ScalarLayout`)
        recomputes them there."""
        self._watchers.append(callback)

    def _changed(self) -> None:
        for callback in self._watchers:
            callback()

    def _make_group(self, pos: int, gspec: GroupSpec | None, rg: ResolvedGroup,
                    params: Mapping[str, ParamInfo]) -> GroupRuntime:
        """The runtime of the group at position ``pos`` (its spec ``gspec``, resolved as ``rg``)."""
        spec = self.spec
        algorithm = spec.algorithm if gspec is None else gspec.algorithm_of(spec)
        if gspec is not None and gspec.overrides:
            algorithm = self._with_overrides(algorithm, gspec.overrides, f"groups[{rg.index}] ({rg.label})")
        lr = gspec.lr if gspec is not None and gspec.lr is not None else spec.lr
        wd = gspec.weight_decay if gspec is not None and gspec.weight_decay is not None else spec.weight_decay
        gc = bool(gspec.grad_centralization) if gspec is not None else False
        decay_exclude = spec.decay_exclude if gspec is None or gspec.decay_exclude is None else gspec.decay_exclude
        for pattern in decay_exclude:
            try:
                compile_name_pattern(pattern)
            except (re.error, ValueError) as exc:
                raise GroupError(f"groups[{rg.index}] ({rg.label}): decay_exclude pattern {pattern!r}: {exc}") from None
        group = GroupRuntime(
            index=rg.index,
            label=rg.label,
            names=rg.names,
            algorithm=algorithm,
            lr=lr,
            weight_decay=wd,
            buckets=self._buckets(pos, rg.names, gc, algorithm, params, decay_exclude),
            host_state=algorithm.init_host_state(),
        )
        group.base_algorithm = group.algorithm
        self._attach_tracks(group)
        return group

    @staticmethod
    def _with_overrides(algorithm: Algorithm, overrides: Mapping[str, Any], where: str) -> Algorithm:
        """``algorithm`` with a group's ``overrides``, each a hyperparameter of it and of the
        kind of its value.

        Raises:
            SpecValueError: a key that is not a hyperparameter of ``algorithm`` (naming the
                group, the key and the algorithm's hyperparameters). SpecTypeError: a value
                of another kind.
        """
        known = algorithm.hyperparameters()
        for key, value in overrides.items():
            if key not in known:
                raise SpecValueError(f"{where}: {key!r} is not a hyperparameter of {algorithm.name!r}: "
                                     f"{sorted(known)}")
            _check_like(known[key], value, f"{where}: {key!r}")
        return algorithm.replace(**dict(overrides))

    def _attach_tracks(self, group: GroupRuntime) -> None:
        """A :class:`ValueTrack` for each value given by a stateful schedule."""
        for key in ("lr", "weight_decay"):
            value = getattr(group, key)
            if isinstance(value, Scheduled) and isinstance(value.schedule, StatefulSchedule):
                where = f"groups[{group.index}] ({group.label})"
                context = ScheduleContext(key=key, hyperparameters=group.algorithm.hyperparameters(), where=where)
                track = ValueTrack(value.schedule, context)
                scheduled = track.runtime.hyperparameters()
                if scheduled and group.algorithm.replace(**scheduled).slots() != group.algorithm.slots():
                    raise SpecValueError(
                        f"{where}: '{key}' schedules {sorted(scheduled)}, which would change the state slots of "
                        f"{group.algorithm.name!r}; build the optimizer with values that keep them (e.g. a nonzero "
                        f"momentum)"
                    )
                group.tracks[key] = track

    # -- construction helpers -------------------------------------------------------
    def _buckets(self, pos: int, names: Sequence[str], gc: bool, algorithm: Algorithm,
                 params: Mapping[str, ParamInfo], decay_exclude: Sequence[str]) -> tuple[Bucket, ...]:
        use_filter = self.spec.decay_filter == "mindspore"
        # Each pattern on its own (joined, "a|(?i)b" would not compile); matched in linear time.
        exclude = [compile_name_pattern(p) for p in decay_exclude]
        centralize_on = gc and "centralization" in self.spec.preprocess
        partition = algorithm.partition(list(params.values()))
        keyed: dict[tuple[bool, bool, str], list[str]] = {}
        for n in names:
            decay = _mindspore_decay_filter(n) if use_filter else True
            if any(pattern.search(n) for pattern in exclude):
                decay = False
            centralize = centralize_on and centralization_eligible(params[n].shape)
            keyed.setdefault((decay, centralize, partition.get(n, "")), []).append(n)
        return tuple(Bucket(pos, tuple(v), d, c, part) for (d, c, part), v in keyed.items())

    @property
    def param_names(self) -> tuple[str, ...]:
        """The optimizer's parameter order (``order_params``, else group concatenation)."""
        return self.resolution.order

    # -- per-step values ----------------------------------------------------------------
    def _round(self, x: float) -> float:
        return float(self._scalar(x))

    def lr_at(self, group: GroupRuntime, step: int) -> float:
        """The learning rate ``group`` uses at 0-based step ``step``."""
        if group.lr_override is not None:
            lr, static = group.lr_override, True
        else:
            lr, static = self._value_at(group, group.lr, "lr", self.schedule_step(step)), group.lr.is_static
        lr = self._round(lr)
        if static and self.spec.static_lr_offset:
            one = np.float32(1.0)
            lr = float((np.float32(lr) + one) - one)
        return lr

    @staticmethod
    def _value_at(group: GroupRuntime, value: Value, key: str, step: int) -> float:
        track = group.tracks.get(key)
        if track is not None:
            return track.at(step)
        try:
            return value.at(step)
        except ScheduleExhaustedError as exc:
            raise ScheduleExhaustedError(f"groups[{group.index}] ({group.label}): '{key}': {exc}") from None

    def weight_decay_at(self, group: GroupRuntime, step: int) -> float:
        """Effective weight decay (multiplied by the loss scale) at step ``step``."""
        wd = group.weight_decay
        scale = self.spec.loss_scale
        value = self._value_at(group, wd, "weight_decay", self.schedule_step(step))
        if wd.is_static:
            return self._round(value * scale)
        t = self._scalar
        return float(t(value) * t(scale))

    def plan(self) -> StepPlan:
        """Scalars for the next step. Raises before anything changes if a value is missing."""
        step = self.global_step
        spec = self.spec
        grad_scale = None
        if "loss_scale" in spec.preprocess and spec.loss_scale != 1.0:
            grad_scale = self._round(1.0 / spec.loss_scale)
        coupled_on = "weight_decay" in spec.preprocess
        buckets: list[BucketStep] = []
        next_states: list[dict] = []
        for group in self.groups:
            lr = self.lr_at(group, step)
            wd = self.weight_decay_at(group, step)
            group_alg = self.algorithm_at(group, step)
            own_step = step + 1 - group.first_step
            rule_decay = group_alg.weight_decay_applied_by == "rule"
            for bucket in group.buckets:
                decay = wd if bucket.decay else 0.0
                # no decay on this bucket at any step: the rule runs without its decay pass, as
                # Keras applies none to an excluded variable (identical for every finite p); the
                # scalars stay the group algorithm's, so every bucket of a group sees the same keys
                alg = without_rule_decay(group_alg) if rule_decay and self.decays_never(group, bucket) else group_alg
                scalars, next_state = group_alg.host_scalars(
                    group.host_state, HostStep(lr=lr, weight_decay=decay if rule_decay else 0.0,
                                               step=own_step, partition=bucket.partition),
                    spec.precision,
                )
                buckets.append(
                    BucketStep(
                        bucket=bucket,
                        algorithm=alg,
                        scalars=scalars,
                        weight_decay=decay if (coupled_on and not rule_decay) else 0.0,
                        centralize=bucket.centralize,
                        grad_scale=grad_scale,
                        negate=bool(alg.maximize),
                        step=own_step,
                    )
                )
            if not group.buckets:
                # a group with none of its parameters here (one process's partition, resolve_over):
                # its host state advances as on the processes that hold them
                _, next_state = group_alg.host_scalars(
                    group.host_state, HostStep(lr=lr, weight_decay=wd if rule_decay else 0.0, step=own_step),
                    spec.precision,
                )
            next_states.append(next_state)
        return StepPlan(tuple(buckets), tuple(next_states))

    @staticmethod
    def decays_never(group: GroupRuntime, bucket: Bucket) -> bool:
        """Whether ``bucket`` of ``group`` is given weight decay at no step: it is excluded
        from decay, or the group's decay is a static 0 no schedule changes."""
        if not bucket.decay:
            return True
        wd = group.weight_decay
        return wd.is_static and "weight_decay" not in group.tracks and wd.at(0) == 0.0

    @staticmethod
    def algorithm_at(group: GroupRuntime, step: int) -> Algorithm:
        """The algorithm ``group`` runs at step ``step``: its own, with the momentum or beta1
        a declared ``CyclicLR``/``OneCycleLR`` sets for that step (what :meth:`plan` uses)."""
        alg = group.algorithm
        for track in group.tracks.values():
            scheduled = track.hyperparameters(step)
            if scheduled:
                alg = alg.replace(**scheduled)
        return alg

    def scheduled_hyperparameters(self, group: GroupRuntime) -> frozenset[str]:
        """Names of the hyperparameters of ``group`` its declared schedules set every step."""
        return frozenset(k for track in group.tracks.values() for k in track.runtime.hyperparameters())

    def weight_decay_value(self, group: GroupRuntime, step: int) -> float:
        """The weight decay ``group`` is given for step ``step`` (before the loss-scale product
        and the rounding of :meth:`weight_decay_at`)."""
        return self._value_at(group, group.weight_decay, "weight_decay", step)

    def commit(self, plan: StepPlan) -> None:
        """Record a step that ran: keep the new host state and advance the global step."""
        for group, host_state in zip(self.groups, plan.next_host_states):
            group.host_state = host_state
        self.global_step += 1

    def catch_up(self, step: int) -> None:
        """Plan and commit every step from :attr:`global_step` up to ``step`` (exclusive)
        without running it: the host state of a backend whose steps ran elsewhere (a
        device-side step counter) or of a replay from the start."""
        while self.global_step < step:
            self.commit(self.plan())

    # -- learning-rate access -----------------------------------------------------------
    def get_lr(self) -> list[float]:
        """The learning rate each group uses at the next step."""
        return [self.lr_at(g, self.global_step) for g in self.groups]

    def set_lr(self, value: float, group: int | None = None) -> None:
        """Assign a static learning rate to one group (by position) or to all groups.

        Like MindSpore's ``ops.assign(optimizer.learning_rate, ...)``, only a static
        learning rate can be reassigned; a dynamic one (list or schedule) raises
        :class:`StaticLearningRateError` and nothing is changed.
        """
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise SpecValueError(f"set_lr: the learning rate must be a finite number >= 0. Received: {value!r}")
        if group is None:
            targets = list(self.groups)
        else:
            if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group < len(self.groups):
                raise SpecValueError(
                    f"set_lr: 'group' must be an int in [0, {len(self.groups) - 1}] or None. Received: {group!r}"
                )
            targets = [self.groups[group]]
        for g in targets:
            kind = self.dynamic_lr(g.index)
            if kind is not None:
                raise StaticLearningRateError(
                    f"groups[{g.index}] ({g.label}): 'lr' is dynamic ({type(g.lr).__name__}: the spec gives it "
                    f"{kind}); only a static learning rate can be reassigned with set_lr. Nothing was changed"
                )
        for g in targets:
            g.lr_override = float(value)
        self._changed()

    def end_epoch(self, metric: Any = None) -> None:
        """Advance every epoch-interval schedule once (torch ``scheduler.step(metric)``).

        ``metric`` (a number or ``None``) is handed to schedules that react to one
        (``ReduceLROnPlateau``); a group with such a schedule and no metric raises. All
        groups advance or, if any schedule raises, none does.
        """
        value = check_metric(metric)
        tracks = [t for g in self.groups for t in g.tracks.values() if t.interval == "epoch"]
        for track in tracks:
            if track.needs_metric and value is None:
                track.end_epoch(None)  # raises the explanatory error; nothing has changed yet
        with self.transaction():
            for track in tracks:
                track.end_epoch(value)
        self._changed()

    # -- groups added at run time ------------------------------------------------------
    def add_group(self, group: GroupSpec, params: Sequence[ParamInfo]) -> GroupRuntime:
        """Add a group of new parameters (torch's ``add_param_group``) and return its runtime.

        ``group.params`` is replaced by the names of ``params``; its ``lr``,
        ``weight_decay`` and ``overrides`` apply as in the spec. The new group's host state
        starts fresh and its own step count at 1 (``first_step`` is the global step now:
        a bias correction starts over, as ``torch.optim`` counts each parameter's steps);
        the global step (which schedules follow), and every existing group, continue
        unchanged.
        Validated in full before anything changes: the parameters must be new and named
        once, ``overrides`` must be hyperparameters of the group's algorithm (``group.algorithm``,
        else the spec's), each of the kind of
        its default (a finite number where a number stands), a static ``lr`` or
        ``weight_decay`` a finite number >= 0. The existing groups keep the parameters they
        resolved to (an earlier ``'*'`` group does not claim the new ones, as in torch); the
        new parameters come last in :attr:`param_names`.

        Raises:
            SpecValueError / SpecTypeError: a parameter already in a group, a bad key or value.
        """
        names = [p.name for p in params]
        if not names:
            raise SpecValueError("add_group: the group has no parameters")
        for n in names:
            if n in self.params:
                raise SpecValueError(f"add_group: parameter {n!r} is already in a group")
        if len(set(names)) != len(names):
            raise SpecValueError(f"add_group: a parameter name appears twice in {names!r:.200}")
        pos = len(self.groups)
        where = f"groups[{pos}] (the added group)"
        self._with_overrides(group.algorithm_of(self.spec), group.overrides, where)
        for key in ("lr", "weight_decay"):
            value = getattr(group, key)
            if isinstance(value, Constant):
                _check_like(0.0, value.value, f"{where}: {key!r}", minimum=0.0)
        existing = self.spec.groups if self.spec.groups is not None else (GroupSpec(params=list(self.param_names)),)
        added = dataclasses.replace(group, params=names, source_index=len(existing))
        order = None if self.spec.order_params is None else list(self.param_names) + names
        all_params = {**self.params, **{p.name: p for p in params}}
        resolved = ResolvedGroup(index=len(existing), label=describe_selector(names), names=tuple(names))
        resolution = Resolution(groups=self.resolution.groups + (resolved,),
                                order=self.resolution.order + tuple(names), frozen=self.resolution.frozen)
        runtime = self._make_group(pos, added, resolved, all_params)
        runtime.first_step = self.global_step
        self.spec = dataclasses.replace(self.spec, groups=tuple(existing) + (added,), order_params=order)
        self.params, self.resolution = all_params, resolution
        self.groups.append(runtime)
        self._changed()
        return runtime

    # -- state as a value ---------------------------------------------------------------
    def snapshot(self) -> state.EngineState:
        """The engine's mutable state as a value: counters, host state, learning-rate
        overrides, schedule runtimes (copied), scheduler bookkeeping, run-time
        hyperparameters, and the group structure (spec, parameters, the group runtimes) so
        that a group added since is dropped again. :meth:`restore` puts it back; the
        engine's later changes never reach it."""
        return state.EngineState(
            global_step=self.global_step,
            groups=tuple(
                state.GroupState(
                    host_state=dict(g.host_state),
                    lr_override=g.lr_override,
                    schedules={key: state.ScheduleState(t.advances, copy.deepcopy(t.runtime))
                               for key, t in g.tracks.items()},
                    scheduler_values=copy.deepcopy(dict(g.scheduler_values)),
                    hyperparameters=dict(g.hyperparameter_overrides),
                    algorithm=g.algorithm,
                    first_step=g.first_step,
                )
                for g in self.groups
            ),
            slots={},
            transforms=tuple(dict(t) for t in self.transform_states),
            # the engine replaces ``params`` (add_group), never changes it in place: no copy needed
            layout=state.EngineLayout(spec=self.spec, params=self.params, resolution=self.resolution,
                                      groups=tuple(self.groups)),
        )

    def restore(self, snapshot: state.EngineState, *, quiet: bool = False) -> None:
        """Put a :meth:`snapshot` (or a checked state, :meth:`parse_state_dict`) back.

        A snapshot's layout comes back first: groups added since it was taken are dropped.
        ``quiet=True`` does not tell the :meth:`watch` callbacks: for a snapshot taken
        moments before, whose values are the ones they last saw (a rolled-back
        transaction, a look ahead such as :meth:`optbridge.scalars.ScalarLayout.table`).
        """
        layout = snapshot.layout
        if layout is not None:
            self.spec, self.params, self.resolution = layout.spec, dict(layout.params), layout.resolution
            self.groups[:] = layout.groups
        self._swap_in(snapshot)
        if not quiet:
            self._changed()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run a multi-part change all or nothing: on an exception the engine is restored to
        its state at entry and the exception propagates.

        ::

            with engine.transaction():
                engine.set_hyperparameters(0, momentum=0.8)
                engine.set_lr(0.1, group=1)
        """
        before = self.snapshot()
        try:
            yield
        except BaseException:
            self.restore(before, quiet=True)
            raise

    # -- run-time changes made by bound schedulers ---------------------------------------
    def static_lr(self, group: int) -> float:
        """The static learning rate of the group at position ``group`` (exact, unrounded).

        Raises:
            StaticLearningRateError: the group's lr is a list or a schedule.
        """
        g = self.groups[group]
        if g.lr_override is not None:
            return g.lr_override
        if isinstance(g.lr, Constant):
            return g.lr.value
        raise StaticLearningRateError(
            f"groups[{g.index}] ({g.label}): 'lr' is dynamic ({type(g.lr).__name__}: the spec gives it "
            f"{self.dynamic_lr(group)}); a scheduler bound to the optimizer needs a static learning rate. Give the "
            f"group a static lr in the spec, or declare the scheduler in the spec (Scheduler.declare(...) as the "
            f"group's lr) instead of binding it"
        )

    def dynamic_lr(self, group: int) -> str | None:
        """What owns the learning rate of the group at position ``group``, in words, or ``None``.

        ``None`` when the lr is static (a number in the spec, or reassigned with
        :meth:`set_lr`): code outside the spec (a framework's scheduler) may then change it.
        Otherwise the spec owns it, and the text names how: ``"a per-step list of 10
        values"`` or ``"the schedule 'WarmUpLR'"``.
        """
        g = self.groups[group]
        return None if g.lr_override is not None else describe_dynamic(g.lr)

    def set_hyperparameters(self, group: int, **values: float) -> None:
        """Change algorithm hyperparameters of one group from the next step on.

        Used by bound schedulers that cycle ``momentum`` or ``beta1``. Each name must be a
        hyperparameter of the group's algorithm, each value a finite number, and the change must
        not change the algorithm's state slots (SGD keeps no momentum buffer when built
        with ``momentum=0``). Validated in full before anything changes.
        """
        g = self.groups[group]
        where = f"groups[{g.index}] ({g.label})"
        known = g.algorithm.hyperparameters()
        for name, value in values.items():
            if name not in known:
                raise SpecValueError(
                    f"{where}: {name!r} is not a hyperparameter of {g.algorithm.name!r}: {sorted(known)}"
                )
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise SpecTypeError(f"{where}: {name!r} must be a number. Received: {value!r}")
            if not math.isfinite(value):
                raise SpecValueError(f"{where}: {name!r} must be a finite number. Received: {value!r}")
        changed = g.algorithm.replace(**{k: float(v) for k, v in values.items()})
        if changed.slots() != g.algorithm.slots():
            raise SpecValueError(
                f"{where}: setting {values} changes the state slots of {g.algorithm.name!r} (from "
                f"{[s.name for s in g.algorithm.slots()]} to {[s.name for s in changed.slots()]}); build the optimizer "
                f"with values that keep them (e.g. a nonzero momentum)"
            )
        g.algorithm = changed
        g.hyperparameter_overrides.update({k: float(v) for k, v in values.items()})
        self._changed()

    # -- neutral state (format and checks live in optbridge.state) ----------------------
    def state_dict(self, slots: Mapping[str, Mapping[str, np.ndarray]]) -> dict:
        """The neutral state: counters, host state, lr overrides and per-parameter slots."""
        return state.build_state_dict(self, slots)

    def expected_slots(self) -> dict[str, dict[str, float]]:
        """``{param name: {slot name: initial fill}}`` for every trained parameter: the
        slots it has (see :meth:`slot_layouts`)."""
        return {n: {k: layout.init for k, layout in slots.items()} for n, slots in self.slot_layouts().items()}

    def slot_layouts(self) -> dict[str, dict[str, SlotLayout]]:
        """``{param name: {slot name: SlotLayout}}``: each trained parameter's slots with
        their fill and shape (``Slot.layout`` of the parameter's shape), without the
        slots its shape gives none (Adafactor's ``row_var`` of a vector)."""
        out: dict[str, dict[str, SlotLayout]] = {}
        for g in self.groups:
            for n in g.names:
                shape = self.params[n].shape
                layouts = {s.name: s.layout(shape) for s in g.algorithm.slots()}
                out[n] = {k: v for k, v in layouts.items() if v is not None}
                for t in self.spec.transforms:
                    for slot, fill in t.slot_fills().items():
                        out[n][slot] = SlotLayout(fill, tuple(shape))
        return out

    def parse_state_dict(self, sd: Any, *, describe: Any = None, slots: bool = True) -> state.EngineState:
        """Check a neutral state against this optimizer; return it checked, change nothing.

        See :func:`optbridge.state.parse_state_dict` for the rules; ``describe`` tells a
        backend's arrays apart (default :func:`optbridge.state.describe_array`).

        Raises:
            StateDictError: naming the path at fault.
        """
        return state.parse_state_dict(self, sd, describe=describe or state.describe_array, slots=slots)

    def check_state_dict(self, sd: Mapping[str, Any]) -> None:
        """Validate a neutral state against this optimizer without changing anything."""
        state.parse_state_dict(self, sd)

    def apply_state(self, parsed: state.EngineState) -> None:
        """Swap a state checked by :meth:`parse_state_dict` (or a :meth:`snapshot`) in.

        Only copies of values checked and built beforehand: this cannot fail half-way, and
        the same state can be applied again.

        Raises:
            StateDictError: the state holds another number of groups (nothing changed).
        """
        self._swap_in(parsed)
        self._changed()

    def _swap_in(self, parsed: state.EngineState) -> None:
        if len(parsed.groups) != len(self.groups):
            raise StateDictError(f"the state holds {len(parsed.groups)} groups, this optimizer has {len(self.groups)}")
        for g, gs in zip(self.groups, parsed.groups):
            g.host_state = dict(gs.host_state)
            g.lr_override = gs.lr_override
            g.scheduler_values = copy.deepcopy(dict(gs.scheduler_values))
            g.hyperparameter_overrides = dict(gs.hyperparameters)
            g.algorithm = gs.algorithm
            g.first_step = gs.first_step
            for key, schedule in gs.schedules.items():
                g.tracks[key].runtime = copy.deepcopy(schedule.runtime)
                g.tracks[key].advances = schedule.advances
        self.global_step = parsed.global_step
        if len(parsed.transforms) == len(self.spec.transforms):
            self.transform_states = tuple(dict(t) for t in parsed.transforms)

    def load_host_state(self, sd: Mapping[str, Any]) -> None:
        """Check and apply the engine part of a neutral state (its ``state`` is ignored);
        all or nothing, with the rules of :meth:`parse_state_dict`."""
        self.apply_state(state.parse_state_dict(self, sd, slots=False))


class OptimizerAPI:
    """The user-facing methods every backend optimizer shares (DESIGN.md section 10).

    A backend class mixes this in (usually through :class:`optbridge.base_optimizer.BaseOptimizer`),
    sets :attr:`engine` and implements :meth:`export_slots` (NumPy copies of its state) and
    :meth:`import_slots`, which receives checked values (real floating-point arrays of each
    slot's shape, :meth:`Engine.slot_layouts`) and converts every one of them before it
    assigns any.
    """

    #: the engine that drives this optimizer (groups, step counter, host scalars, schedules)
    engine: Engine

    @property
    def global_step(self) -> int:
        """Optimizer steps taken."""
        return self.engine.global_step

    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter order for sequence gradients."""
        return self.engine.param_names

    def get_lr(self) -> list[float]:
        """The learning rate each group uses at the next step."""
        return self.engine.get_lr()

    def set_lr(self, value: float, group: int | None = None) -> None:
        """Reassign a static learning rate (all groups, or the group at position ``group``)."""
        self.engine.set_lr(value, group)

    def end_epoch(self, metric: float | None = None) -> None:
        """Advance epoch-interval schedules (torch ``scheduler.step()``; ``metric`` for
        ``ReduceLROnPlateau``). See :meth:`Engine.end_epoch`."""
        self.engine.end_epoch(metric)

    @property
    def loss_scale(self) -> float:
        """The current loss scale (:meth:`Engine.loss_scale`; 1.0 without a loss-scaling transform)."""
        return self.engine.loss_scale()

    def scale_loss(self, loss: Any) -> Any:
        """``loss · loss_scale`` (Keras ``LossScaleOptimizer.scale_loss``, torch
        ``GradScaler.scale``): differentiate this when the spec scales the loss; ``loss``
        itself without a loss-scaling transform."""
        return loss * self.loss_scale if scales_loss(self.engine.spec.transforms) else loss

    def state_dict(self) -> dict:
        """Neutral state (NumPy arrays, counters, host state) loadable by any backend."""
        return self.engine.state_dict(self.export_slots())

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a neutral state; all or nothing.

        The engine checks every value (:meth:`Engine.parse_state_dict`), the backend
        converts every slot array and only then assigns them (:meth:`import_slots`), then
        the engine swaps the checked host state in. A refusal raises
        :class:`~optbridge.errors.StateDictError` naming the path at fault and leaves
        parameters, slots, counters and learning rates as they were.
        """
        parsed = self.engine.parse_state_dict(state_dict, describe=self.describe_slot)
        self.import_slots(parsed.slots)
        self.engine.apply_state(parsed)

    #: ``describe(value) -> (shape, dtype kind, dtype name) | None`` for slot values in a
    #: loaded state (see :func:`optbridge.state.describe_array`); a backend whose tensors
    #: NumPy cannot read overrides it.
    describe_slot = staticmethod(state.describe_array)

    def export_slots(self) -> dict[str, dict[str, Any]]:
        """``{param name: {slot name: NumPy array}}`` of the optimizer state."""
        raise NotImplementedError

    def import_slots(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        """Write checked slot values (see :meth:`load_state_dict`): convert every one before
        assigning any."""
        raise NotImplementedError
