"""Host scalars as one packed vector per step: the scheme every traced backend shares.

The engine computes a step's host scalars on the host, in the origin framework's
precision (:meth:`optbridge.engine.Engine.plan`). A backend that runs its step as one
compiled program (a ``tf.function``, ``jax.jit``, ``torch.compile``, a CUDA graph) cannot
take them as Python numbers without retracing on every new value; it takes them as one
float64 vector instead. :class:`ScalarLayout` fixes where each number lives, from the
algorithms' declarations alone (``Algorithm.declared_scalars``), so the program is traced
once, before any step:

* per bucket, in the order of :meth:`Engine.plan`: a header of two pre-processing scalars
  — the coupled weight decay ``wd`` and the gradient scale ``1/loss_scale`` — then the
  algorithm's declared scalars in declaration order (a wrapping algorithm's nested ones
  in place, by path);
* flags are ``1.0`` / ``0.0``; a declared scalar a step does not produce (RAdam's
  ``rect`` before the variance is tractable) is NaN, read by the rule only under the flag
  that says it exists; a step that produces an undeclared name is refused;
* the values are the host's float64 numbers; a program casts each to its bucket's dtype
  (``round to nearest``, exactly the host-side cast of the NumPy reference), except the
  names the algorithm lists in ``float64_scalars``.

:meth:`ScalarLayout.pack` packs one :class:`~optbridge.engine.StepPlan`;
:meth:`ScalarLayout.table` packs the next ``n`` steps without changing the engine — the
device table a whole-step trace indexes by its step counter (MindSpore's own way for
per-step learning-rate lists), so no Python runs inside the step;
:meth:`BucketLayout.nest` turns a bucket's piece back into the mapping a rule reads.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .algorithms.base import FLAG, NUMBER, Algorithm
from .algorithms.weight_decay import without_rule_decay
from .engine import Engine, StepPlan
from .errors import BackendError, ScheduleExhaustedError

__all__ = ["HEADER", "ScalarField", "BucketLayout", "ScalarLayout", "declared_fields"]

#: the bucket header of every packed vector: coupled weight decay, gradient scale
HEADER = ("weight_decay", "grad_scale")


@dataclass(frozen=True)
class ScalarField:
    """One declared host scalar: its path in the (possibly nested) scalar mapping, its kind
    (``NUMBER`` or ``FLAG``) and whether it stays float64 whatever the bucket's dtype."""

    path: tuple[str, ...]
    kind: str
    wide: bool = False


def declared_fields(algorithm: Algorithm) -> tuple[ScalarField, ...]:
    """``algorithm``'s declared scalars (``declared_scalars``) as fields, in declaration order.

    Raises:
        BackendError: a declared kind is neither ``NUMBER`` nor ``FLAG``.
    """
    wide = algorithm.float64_scalars

    def walk(declared: Mapping[str, Any], prefix: tuple[str, ...]) -> list[ScalarField]:
        out: list[ScalarField] = []
        for name, kind in declared.items():
            if isinstance(kind, Mapping):
                out += walk(kind, prefix + (name,))
            elif kind in (NUMBER, FLAG):
                out.append(ScalarField(prefix + (name,), kind, not prefix and name in wide))
            else:
                raise BackendError(f"algorithm {algorithm.name!r} declares host scalar {name!r} of kind {kind!r}; "
                                   f"kinds are {NUMBER!r} and {FLAG!r}")
        return out

    return tuple(walk(algorithm.declared_scalars(), ()))


def _flatten(scalars: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, value in scalars.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, prefix + (key,)))
        else:
            out[prefix + (key,)] = value
    return out


@dataclass(frozen=True)
class BucketLayout:
    """One bucket's piece of the vector and what a program is traced with for it.

    Attributes:
        group: the group's position in ``engine.groups``.
        where: the group in messages (``"groups[1] (decay)"``).
        names: the bucket's parameter names.
        algorithm: the algorithm the bucket runs (the group's; without its rule-side decay
            where the bucket is decayed at no step, as :meth:`Engine.plan` runs it).
        offset: where the piece starts; ``width`` entries: :data:`HEADER`, then ``fields``.
        fields: the declared host scalars.
        negate: negate the gradients first (torch's ``maximize``).
        decay: coupled weight decay ``g + wd·p`` may apply (read ``wd`` from the header).
        centralize: centralize the gradients.
        scale: multiply the gradients by the header's gradient scale.
    """

    group: int
    where: str
    names: tuple[str, ...]
    algorithm: Algorithm
    offset: int
    fields: tuple[ScalarField, ...]
    negate: bool
    decay: bool
    centralize: bool
    scale: bool

    @property
    def width(self) -> int:
        return len(HEADER) + len(self.fields)

    def nest(self, values: Sequence[Any] | np.ndarray, flag: Callable[[Any], Any] = lambda v: v) -> dict[str, Any]:
        """The scalar mapping a rule reads, from the values of ``fields`` (in order; the
        piece without its header): nested by path, each flag passed through ``flag``
        (e.g. ``v != 0`` for a traced flag)."""
        out: dict[str, Any] = {}
        for field, value in zip(self.fields, values):
            level = out
            for key in field.path[:-1]:
                level = level.setdefault(key, {})
            level[field.path[-1]] = flag(value) if field.kind == FLAG else value
        return out


class ScalarLayout:
    """Where every host scalar of a step lives in the packed vector of ``engine``.

    Built from the engine's groups and buckets and the algorithms' declarations; valid
    for the engine's life (its groups are fixed once built).
    """

    def __init__(self, engine: Engine):
        spec = engine.spec
        coupled = "weight_decay" in spec.preprocess
        scale = "loss_scale" in spec.preprocess and spec.loss_scale != 1.0
        buckets: list[BucketLayout] = []
        offset = 0
        for position, group in enumerate(engine.groups):
            alg = group.algorithm
            fields = declared_fields(alg)
            rule_decay = alg.weight_decay_applied_by == "rule"
            for bucket in group.buckets:
                never = engine.decays_never(group, bucket)
                layout = BucketLayout(
                    group=position, where=f"groups[{group.index}] ({group.label})", names=bucket.names,
                    algorithm=without_rule_decay(alg) if rule_decay and never else alg,
                    offset=offset, fields=fields, negate=bool(alg.maximize),
                    decay=coupled and not rule_decay and not never, centralize=bucket.centralize, scale=scale,
                )
                buckets.append(layout)
                offset += layout.width
        self.buckets: tuple[BucketLayout, ...] = tuple(buckets)
        self.width = offset

    def pack(self, plan: StepPlan, out: np.ndarray | None = None) -> np.ndarray:
        """The float64 vector of ``plan`` (written into ``out`` when given).

        Raises:
            BackendError: a bucket's algorithm produced a host scalar it does not declare,
                or coupled decay where the layout planned none (nothing is changed).
        """
        vec = np.empty(self.width, np.float64) if out is None else out
        for layout, step in zip(self.buckets, plan.buckets, strict=True):
            if not layout.decay and step.weight_decay != 0.0:
                raise BackendError(f"{layout.where}: coupled weight decay {step.weight_decay} on a bucket "
                                   f"planned without it")
            flat = _flatten(step.scalars)
            unknown = set(flat) - {f.path for f in layout.fields}
            if unknown:
                raise BackendError(
                    f"{layout.where}: algorithm {layout.algorithm.name!r} produced host scalar(s) "
                    f"{sorted('.'.join(p) for p in unknown)} it does not declare (Algorithm.declared_scalars)"
                )
            start = layout.offset
            vec[start] = step.weight_decay
            vec[start + 1] = 1.0 if step.grad_scale is None else step.grad_scale
            vec[start + len(HEADER):start + layout.width] = [float(flat.get(f.path, np.nan)) for f in layout.fields]
        return vec

    def table(self, engine: Engine, steps: int, *, advance: bool = False) -> np.ndarray:
        """The packed vectors of the engine's next ``steps`` steps, one row each, computed
        by planning and committing them on the engine. The engine is then restored
        exactly as it was, or, with ``advance=True``, left after the last row's step.
        Stops early where a schedule ends (a per-step list): the table then has fewer rows."""
        rows, count = self.padded_table(engine, steps, advance=advance)
        return rows[:count]

    def padded_table(self, engine: Engine, steps: int, *, advance: bool = False) -> tuple[np.ndarray, int]:
        """:meth:`table` as a device table of fixed shape: ``steps`` rows, NaN past the rows the
        engine's schedules give, and the number of rows they give."""
        rows = np.full((steps, self.width), np.nan)
        before = None if advance else engine.snapshot()
        count = 0
        try:
            for count in range(steps):
                try:
                    plan = engine.plan()
                except ScheduleExhaustedError:
                    return rows, count
                self.pack(plan, rows[count])
                engine.commit(plan)
        finally:
            if before is not None:
                engine.restore(before, quiet=True)
        return rows, steps
