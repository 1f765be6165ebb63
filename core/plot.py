"""Learning rate and weight decay per group over the steps: the data and a PNG (``optbridge plot``).

:func:`schedule_curves` evaluates a spec's values the way the engine does — without
building an optimizer or resolving parameters, so a config file is enough: group ``g``'s
lr at step ``s`` is what ``opt.get_lr()[g]`` returns before step ``s`` (rounded to the
spec's host precision; MindSpore's ``lr + 1 − 1`` quirk for static lrs is not drawn).
Epoch-interval schedules (torch's schedulers, advanced by ``opt.end_epoch()``) need a
notion of epoch: ``steps_per_epoch`` steps make one, and ``end_epoch()`` is called after
every ``steps_per_epoch``-th step. A ``ReduceLROnPlateau`` reacts to a metric the plot does
not have: it is held at its value (the curve's ``note`` says so). A per-step list is
drawn as steps (each entry holds for one step) and, where it runs out, its curve ends
(``Curve.past_end`` counts the steps past it; ``optbridge plot`` warns).

:func:`plot_schedules` draws the curves with matplotlib (extra ``plot``; the Agg backend,
no display needed): one line per group, labelled by its selector, lr on top and weight
decay below when any group's weight decay changes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .algorithms.base import scalar_type
from .errors import OptbridgeError, ScheduleExhaustedError
from .groups import describe_selector
from .schedules.stateful import ScheduleContext, StatefulSchedule
from .schedules.tracks import ValueTrack
from .schedules.values import PerStep, Scheduled, Value
from .spec import OptimizerSpec

__all__ = ["Curve", "schedule_curves", "plot_schedules", "pyplot", "DEFAULT_STEPS"]

#: Steps drawn when neither the caller nor a per-step list says how many.
DEFAULT_STEPS = 100


@dataclass
class Curve:
    """One group's ``lr`` or ``weight_decay`` over the steps (``nan`` after a list ends).

    ``list_length`` is the number of entries when the value is a per-step list (drawn as
    steps: entry ``s`` holds from step ``s`` to ``s + 1``), else ``None``; ``where`` names
    the group, as the engine's errors do.
    """

    label: str
    key: str
    values: list[float] = field(default_factory=list)
    note: str = ""
    list_length: int | None = None
    where: str = ""

    @property
    def past_end(self) -> int:
        """How many of the evaluated steps lie past the end of this curve's per-step list."""
        if self.list_length is None:
            return 0
        return max(0, len(self.values) - self.list_length)

    @property
    def varies(self) -> bool:
        finite = [v for v in self.values if not math.isnan(v)]
        return len(set(finite)) > 1


class _Source:
    """A value of one group, evaluated step by step like the engine does."""

    def __init__(self, value: Value, key: str, where: str, hyperparameters: dict[str, Any]):
        self.value = value
        self.track: ValueTrack | None = None
        self.note = ""
        self.exhausted = False
        if isinstance(value, Scheduled) and isinstance(value.schedule, StatefulSchedule):
            self.track = ValueTrack(value.schedule, ScheduleContext(key, hyperparameters, where))
            if self.track.needs_metric:
                self.note = f"{type(value.schedule).__name__.removesuffix('Declaration')} needs metrics: held constant"

    def at(self, step: int) -> float:
        if self.exhausted:
            return math.nan
        if self.track is not None:
            return self.track.at(step)
        try:
            return self.value.at(step)
        except ScheduleExhaustedError:
            self.exhausted = True
            return math.nan

    def end_epoch(self) -> None:
        if self.track is not None and self.track.interval == "epoch" and not self.track.needs_metric:
            self.track.end_epoch(None)


def default_steps(spec: OptimizerSpec) -> int:
    """The longest per-step list of the spec, else :data:`DEFAULT_STEPS`."""
    values: list[Value | None] = [spec.lr, spec.weight_decay]
    for g in spec.groups or ():
        values += [g.lr, g.weight_decay]
    lengths = [len(v.values) for v in values if v is not None and hasattr(v, "values")]
    return max(lengths) if lengths else DEFAULT_STEPS


def schedule_curves(spec: OptimizerSpec, steps: int, steps_per_epoch: int = 1) -> list[Curve]:
    """``lr`` and ``weight_decay`` curves, one pair per group (in group order).

    Args:
        spec: a canonical spec (``dialect_optimizer.to_canonical()``).
        steps: optimizer steps to evaluate (>= 1).
        steps_per_epoch: steps per epoch, for epoch-interval schedules (>= 1).

    Raises:
        ValueError: ``steps`` or ``steps_per_epoch`` < 1.
    """
    for name, count in (("steps", steps), ("steps_per_epoch", steps_per_epoch)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"'{name}' must be an int >= 1. Received: {count!r}")
    rnd = scalar_type(spec.precision)
    groups = spec.groups
    entries: list[tuple[str, Any, Value, Value]] = []
    if groups is None:
        entries.append(("all parameters", spec.algorithm, spec.lr, spec.weight_decay))
    else:
        for g in groups:
            own = g.algorithm_of(spec)
            algorithm = own.replace(**dict(g.overrides)) if g.overrides else own
            entries.append((describe_selector(g.params), algorithm, g.lr if g.lr is not None else spec.lr,
                            g.weight_decay if g.weight_decay is not None else spec.weight_decay))
    curves: list[Curve] = []
    sources: list[tuple[_Source, Curve]] = []
    for pos, (label, algorithm, lr, wd) in enumerate(entries):
        where = f"groups[{pos}] ({label})"
        for key, value in (("lr", lr), ("weight_decay", wd)):
            source = _Source(value, key, where, algorithm.hyperparameters())
            curve = Curve(label=label, key=key, note=source.note, where=where,
                          list_length=len(value.values) if isinstance(value, PerStep) else None)
            curves.append(curve)
            sources.append((source, curve))
    for step in range(steps):
        for source, curve in sources:
            v = source.at(step)
            curve.values.append(v if math.isnan(v) else float(rnd(v)))
        if (step + 1) % steps_per_epoch == 0:
            for source, _ in sources:
                source.end_epoch()
    return curves


def pyplot(command: str) -> Any:
    """``matplotlib.pyplot`` on the file-only ``Agg`` backend, for ``command``'s PNG.

    Raises:
        OptbridgeError: matplotlib is not installed (``pip install 'optbridge[plot]'``).
    """
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - exercised in the numpy-only env
        raise OptbridgeError(f"{command} needs matplotlib: pip install 'optbridge[plot]'") from exc
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def plot_schedules(spec: OptimizerSpec, path: str | Path, steps: int, steps_per_epoch: int = 1,
                   title: str = "") -> Path:
    """Draw :func:`schedule_curves` to a PNG at ``path`` and return the path.

    Raises:
        OptbridgeError: matplotlib is not installed (``pip install 'optbridge[plot]'``).
    """
    plt = pyplot("optbridge plot")
    curves = schedule_curves(spec, steps, steps_per_epoch)
    lr = [c for c in curves if c.key == "lr"]
    wd = [c for c in curves if c.key == "weight_decay"]
    show_wd = any(c.varies for c in wd)
    rows = 2 if show_wd else 1
    fig, axes = plt.subplots(rows, 1, figsize=(8, 3.2 * rows + 0.6), sharex=True, squeeze=False)
    x = list(range(steps))
    for ax, group, name in zip(axes[:, 0], (lr, wd), ("learning rate", "weight decay")):
        for curve in group:
            label = curve.label + (f" ({curve.note})" if curve.note else "")
            if curve.list_length is not None:
                # A list holds each entry for one whole step: draw the last step's width too.
                ax.plot(x + [steps], curve.values + curve.values[-1:], label=label, linewidth=1.4,
                        drawstyle="steps-post")
            else:
                ax.plot(x, curve.values, label=label, linewidth=1.4)
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="best")
    axes[-1, 0].set_xlabel("optimizer step" + (f" ({steps_per_epoch} per epoch)" if steps_per_epoch > 1 else ""))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path
