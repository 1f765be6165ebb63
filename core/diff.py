"""``optbridge diff A B``: where two optimizer configs differ, in words and in numbers.

Three answers, each from data the library already has:

* **Axes** (:func:`axis_differences`): both configs are lowered to their canonical specs and
  their dialect-table properties (:func:`optbridge.dialects.table.canonical_properties`:
  the algorithm's flags and hyperparameters, initial slot values, weight-decay coupling, the
  MindSpore beta/gamma filter, host precision, pre-processing, plus the loss scale) are
  compared; each difference is named as a dialect axis in words
  (:data:`optbridge.dialects.table.AXIS_WORDS`). What groups and schedules make of the
  values is compared per parameter on a layout (:func:`parameter_differences`: the lr,
  the weight decay each parameter is given, centralization, per-group hyperparameters,
  step by step, as the engine computes them).
* **Numbers** (:func:`run_deviation`): both run on the NumPy reference backend from the
  same initial parameters and the same deterministic gradient stream
  (:mod:`optbridge.conformance.streams`). A step's deviation is the largest normwise
  relative deviation over the tensors (:func:`optbridge.conformance.compare.relative_deviation`,
  B against A). Float32 noise at that step is what rounding alone does to either config:
  twice the larger of A's and B's own float32-vs-float64 deviation plus 4 float32 ulp
  (the conformance pass rule, DESIGN.md section 7); the configs *part* at the first step
  whose deviation exceeds it.
* **Translation** (:func:`express`): A rewritten in B's dialect. B's class, then every other
  class of B's dialect that lowers to A's algorithm, is given A's hyperparameters (under the
  dialect's argument names), learning rate, weight decay and groups (MindSpore's
  beta/gamma filter becomes a group of the layout's beta/gamma names without decay), then
  each boolean argument is flipped where that removes a difference. A candidate whose
  axes and per-parameter settings all equal A's is run against A on the stream in float32
  and float64 and accepted only when every parameter is bit-identical at every step;
  otherwise the axes the closest candidate cannot match are named.
"""
from __future__ import annotations

import inspect
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import from_dict
from .conformance import compare, streams
from .dialects.base import DialectOptimizer, dialect_registry, to_data
from .dialects.table import axis_words, canonical_properties
from .engine import Engine
from .groups import ParamInfo
from .schedules.values import Constant, PerStep
from .spec import OptimizerSpec

__all__ = ["Axis", "ParameterDifference", "StepDeviation", "Expression", "DiffReport", "DECAY_AXES", "NOISE_ULPS",
           "axis_differences", "parameter_differences", "any_decay", "run_deviation", "express", "check_runs",
           "load_optimizer", "diff", "format_report", "plot_deviation"]

#: float32 ulps (at a tensor's magnitude) added to the noise allowance, as the conformance rule does.
NOISE_ULPS = 4
_ULP32 = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Axis:
    """One canonical property on which A and B differ.

    Attributes:
        key: the dialect-table property (``eps_placement``, ``host precision``, ...).
        words: the axis in words (``ε inside vs outside the bias correction``).
        a, b: each side's value; ``a_means``/``b_means`` what it means (``""`` where the
            value speaks for itself).
    """

    key: str
    words: str
    a: str
    b: str
    a_means: str = ""
    b_means: str = ""

    def describe(self) -> str:
        a = f"{self.a} ({self.a_means})" if self.a_means else self.a
        b = f"{self.b} ({self.b_means})" if self.b_means else self.b
        return f"{self.words} [{self.key}]: A {a}; B {b}"


@dataclass(frozen=True)
class ParameterDifference:
    """A per-parameter setting (``lr``, ``weight decay``, ...) that differs on some parameters."""

    setting: str
    names: tuple[str, ...]
    first_step: int
    a: Any
    b: Any

    def describe(self, total: int) -> str:
        shown = ", ".join(self.names[:4]) + (f", ... ({len(self.names)} of {total})" if len(self.names) > 4 else "")
        where = "every parameter" if len(self.names) == total and total > 1 else shown
        a, b = _short(self.a), _short(self.b)
        if a == b:  # differing past 6 digits: a host-precision rounding, shown in full
            a, b = repr(self.a), repr(self.b)
        return f"{self.setting} on {where}, from step {self.first_step}: A {a}; B {b}"


@dataclass(frozen=True)
class StepDeviation:
    """Step ``step`` (0-based, after the update) of the comparison run."""

    step: int
    deviation: float
    noise: float
    worst: str

    @property
    def parted(self) -> bool:
        return not self.deviation <= self.noise


@dataclass
class Expression:
    """A in B's dialect: the config found (verified bit for bit), or what cannot be expressed."""

    dialect: str
    config: dict[str, Any] | None = None
    missing: list[Axis] = field(default_factory=list)
    missing_settings: list[ParameterDifference] = field(default_factory=list)
    verified: str = ""
    candidate: str = ""


@dataclass
class DiffReport:
    """Everything ``optbridge diff`` prints."""

    name_a: str
    name_b: str
    qualname_a: str
    qualname_b: str
    algorithm_a: str
    algorithm_b: str
    layout: Sequence[tuple[str, tuple[int, ...]]]
    layout_name: str
    steps: int
    dtype: str
    seed: int
    axes: list[Axis]
    settings: list[ParameterDifference]
    deviations: list[StepDeviation]
    expression: Expression | None

    @property
    def first_parting(self) -> StepDeviation | None:
        return next((d for d in self.deviations if d.parted), None)

    @property
    def equal(self) -> bool:
        return not self.axes and not self.settings and all(d.deviation == 0.0 for d in self.deviations)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return str(value)


def _plain(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value


#: Properties that change no number when no parameter is given weight decay.
DECAY_AXES = ("weight_decay_form", "weight decay applied", "beta/gamma decay filter")


def _properties(spec: OptimizerSpec, decayed: bool) -> dict[str, str]:
    props = {"algorithm": " + ".join(alg.name for alg in spec.group_algorithms()), **canonical_properties(spec)}
    props["loss scale"] = repr(spec.loss_scale)
    if not decayed:
        for key in DECAY_AXES:
            props.pop(key, None)
    # a pre-processing step that has nothing to do changes no number: centralization without
    # a group asking for it, loss-scale division by 1, coupled decay of 0
    centralizing = any(g.grad_centralization for g in spec.groups or ())
    steps = [s for s in spec.preprocess if (s != "centralization" or centralizing)
             and (s != "loss_scale" or spec.loss_scale != 1.0) and (s != "weight_decay" or decayed)]
    props["pre-processing"] = ", ".join(steps) or "none"
    props["gradient pipeline"] = ", ".join(t.describe() for t in spec.transforms) or "none"
    return props


def axis_differences(a: OptimizerSpec, b: OptimizerSpec, decayed: bool = True) -> list[Axis]:
    """The canonical properties on which ``a`` and ``b`` differ, as named dialect axes.

    Pre-processing steps that do nothing for a spec (loss-scale division by 1) are left
    out, and with ``decayed=False`` (neither gives any parameter weight decay) so are the
    weight-decay axes (:data:`DECAY_AXES`)."""
    pa, pb = _properties(a, decayed), _properties(b, decayed)
    axes = []
    for key in list(pa) + [k for k in pb if k not in pa]:
        va, vb = pa.get(key, "—"), pb.get(key, "—")
        if va == vb:
            continue
        if key == "algorithm":
            axes.append(Axis(key, "canonical algorithm", va, vb))
            continue
        words, meanings = axis_words(a.algorithm.name, key)
        axes.append(Axis(key, words, _plain(va), _plain(vb), meanings.get(_plain(va), ""),
                         meanings.get(_plain(vb), "")))
    return axes


def _settings(spec: OptimizerSpec, infos: Sequence[ParamInfo], steps: int) -> dict[str, dict[str, list[Any]]]:
    """``{parameter: {setting: [value at step 0, 1, ...]}}`` as the engine computes them."""
    engine = Engine(spec, infos)
    out: dict[str, dict[str, list[Any]]] = {}
    base = spec.algorithm.hyperparameters()
    for group in engine.groups:
        for bucket in group.buckets:
            for name in bucket.names:
                rows: dict[str, list[Any]] = {"lr": [], "weight decay": [], "gradient centralization": [],
                                              "group hyperparameters": []}
                for step in range(steps):
                    rows["lr"].append(engine.lr_at(group, step))
                    rows["weight decay"].append(engine.weight_decay_at(group, step) if bucket.decay else 0.0)
                    rows["gradient centralization"].append(bucket.centralize)
                    own = engine.algorithm_at(group, step).hyperparameters()
                    rows["group hyperparameters"].append(
                        ", ".join(f"{k}={v!r}" for k, v in own.items() if v != base.get(k)) or "none")
                out[name] = rows
    return out


def _both_settings(a: OptimizerSpec, b: OptimizerSpec, layout: streams.Layout,
                   steps: int) -> tuple[dict[str, dict[str, list[Any]]], dict[str, dict[str, list[Any]]]]:
    infos = [ParamInfo(n, tuple(s)) for n, s in layout]
    return _settings(a, infos, steps), _settings(b, infos, steps)


def any_decay(a: OptimizerSpec, b: OptimizerSpec, layout: streams.Layout, steps: int) -> bool:
    """Whether ``a`` or ``b`` gives any parameter of ``layout`` weight decay in ``steps`` steps."""
    return any(any(rows["weight decay"]) for side in _both_settings(a, b, layout, steps) for rows in side.values())


def parameter_differences(a: OptimizerSpec, b: OptimizerSpec, layout: streams.Layout,
                          steps: int) -> list[ParameterDifference]:
    """Per-parameter settings (lr, weight decay given, centralization, group hyperparameters)
    that differ between ``a`` and ``b`` on ``layout`` during ``steps`` steps.

    Raises:
        GroupError (a ValueError): a spec's groups do not resolve on the layout.
        ScheduleExhaustedError: a per-step list is shorter than ``steps``.
    """
    sa, sb = _both_settings(a, b, layout, steps)
    found: dict[tuple[str, int, str, str], list[str]] = {}
    values: dict[tuple[str, int, str, str], tuple[Any, Any]] = {}
    for name, _ in layout:
        ra, rb = sa[name], sb[name]
        for key, xa in ra.items():
            xb = rb[key]
            step = next((i for i in range(steps) if xa[i] != xb[i]), None)
            if step is not None:
                where = (key, step, repr(xa[step]), repr(xb[step]))
                found.setdefault(where, []).append(name)
                values[where] = (xa[step], xb[step])
    return [ParameterDifference(where[0], tuple(names), where[1], *values[where]) for where, names in found.items()]


def _deviation(x: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray]) -> tuple[float, str]:
    worst, where = 0.0, ""
    for name in ref:
        d = compare.relative_deviation(x[name], ref[name])
        if not d <= worst:
            worst, where = d, name
    return worst, where


def run_deviation(a: OptimizerSpec | DialectOptimizer, b: OptimizerSpec | DialectOptimizer, layout: streams.Layout,
                  steps: int, dtype: str = "float32", seed: int = 0) -> list[StepDeviation]:
    """Per-step deviation of B from A in ``dtype`` and the float32 noise at that step (see the
    module docstring), both on the NumPy backend."""
    runs = {(side, dt): streams.reference_trajectory(spec, layout, steps, seed, dt)
            for side, spec in (("a", a), ("b", b)) for dt in ("float32", "float64")}
    out = []
    for step in range(steps):
        dev, worst = _deviation(runs["b", dtype][step], runs["a", dtype][step])
        own = max(_deviation(runs[side, "float32"][step], runs[side, "float64"][step])[0] for side in "ab")
        out.append(StepDeviation(step, dev, 2 * own + NOISE_ULPS * _ULP32, worst))
    return out


# -- A in B's dialect ----------------------------------------------------------------------
#: Argument names a canonical hyperparameter goes by in the dialects (besides its own).
ALIASES: dict[str, tuple[str, ...]] = {
    "beta1": ("beta_1",), "beta2": ("beta_2",), "eps": ("epsilon",), "nesterov": ("use_nesterov",),
    "amsgrad": ("use_amsgrad",), "alpha": ("rho", "decay"), "initial_accumulator_value": ("accum",),
}
#: Tuple arguments: ``{argument: (hyperparameter, hyperparameter)}`` (torch's ``betas``, ...).
PAIRS: dict[str, tuple[str, str]] = {"betas": ("beta1", "beta2"), "etas": ("etaminus", "etaplus"),
                                     "step_sizes": ("step_size_min", "step_size_max")}


def _argument_for(hyperparameter: str, names: Sequence[str]) -> str | None:
    return next((n for n in (hyperparameter,) + ALIASES.get(hyperparameter, ()) if n in names), None)


def _value_argument(value: Any) -> Any:
    if isinstance(value, Constant):
        return value.value
    if isinstance(value, PerStep):
        return list(value.values)
    return None


def _groups(a: OptimizerSpec, cls: type[DialectOptimizer], layout: streams.Layout) -> list[dict[str, Any]] | None:
    lr_key = "lr" if "lr" in cls.group_keys else "learning_rate"
    names = cls.argument_names()
    if a.groups is not None:
        out = []
        for g in a.groups:
            entry: dict[str, Any] = {"params": g.params}
            if g.lr is not None:
                entry[lr_key] = _value_argument(g.lr)
            if g.weight_decay is not None:
                entry["weight_decay"] = _value_argument(g.weight_decay)
            # a key B's groups do not take is left out: the difference it makes is then listed
            if g.grad_centralization and "grad_centralization" in cls.group_keys:
                entry["grad_centralization"] = True
            for key, value in g.overrides.items():
                arg = _argument_for(key, names) or key
                if arg in cls.group_keys:
                    entry[arg] = value
            out.append(entry)
        return out
    if a.decay_filter == "mindspore":
        skipped = [n for n, _ in layout if "beta" in n or "gamma" in n]
        if skipped and len(skipped) < len(layout):
            return [{"params": skipped, "weight_decay": 0.0}, {"params": "*"}]
    return None


def _candidate_arguments(a: OptimizerSpec, cls: type[DialectOptimizer], start: Mapping[str, Any],
                         layout: streams.Layout) -> dict[str, Any]:
    names = cls.argument_names()
    args = dict(start)
    hyper = a.algorithm.hyperparameters()
    for key, value in hyper.items():
        arg = _argument_for(key, names)
        if arg is not None:
            args[arg] = value
    for arg, (first, second) in PAIRS.items():
        if arg in names and first in hyper and second in hyper:
            args[arg] = (hyper[first], hyper[second])
    lr_arg = next((n for n in ("lr", "learning_rate") if n in names), None)
    lr = _value_argument(a.lr)
    if lr_arg is not None and lr is not None:
        args[lr_arg] = lr
    wd = _value_argument(a.weight_decay)
    if "weight_decay" in names and wd is not None:
        args["weight_decay"] = wd
    if "loss_scale" in names:
        args["loss_scale"] = a.loss_scale
    groups = _groups(a, cls, layout)
    args["params"] = groups
    return args


def _mismatch(a: OptimizerSpec, candidate: DialectOptimizer, layout: streams.Layout,
              steps: int) -> tuple[list[Axis], list[ParameterDifference]] | None:
    try:
        spec = candidate.to_canonical()
        # the per-parameter weight decay carries the beta/gamma filter's whole effect
        axes = [x for x in axis_differences(a, spec, any_decay(a, spec, layout, steps))
                if x.key != "beta/gamma decay filter"]
        return axes, parameter_differences(a, spec, layout, steps)
    except (TypeError, ValueError, KeyError):
        return None


def _construct(cls: type[DialectOptimizer], args: Mapping[str, Any],
               refused: list[str] | None = None) -> DialectOptimizer | None:
    """``cls(**args)``, or ``None`` when the class refuses them (the reason appended to ``refused``)."""
    try:
        return cls(**args)
    except (TypeError, ValueError, KeyError) as exc:
        if refused is not None:
            refused.append(f"{cls.qualname}: {exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}")
        return None


def _compact(optimizer: DialectOptimizer) -> dict[str, Any]:
    """``optimizer``'s config without the arguments that equal the class's defaults."""
    defaults = {n: p.default for n, p in inspect.signature(type(optimizer).__init__).parameters.items()
                if p.default is not p.empty}
    data = optimizer.to_dict()
    return {k: v for k, v in data.items()
            if k in ("format_version", "optimizer") or k not in defaults or to_data(defaults[k]) != v}


def express(a: DialectOptimizer, b: DialectOptimizer, layout: streams.Layout, steps: int,
            seed: int = 0) -> Expression:
    """A rewritten in B's dialect, verified bit for bit on the stream, or the axes B's
    dialect cannot match (see the module docstring)."""
    dialect = b.qualname.rsplit(".", 1)[0]
    spec_a = a.to_canonical()
    classes = [type(b)] + [cls for q, cls in sorted(dialect_registry.items())
                           if q.rsplit(".", 1)[0] == dialect and cls is not type(b)]
    best: tuple[int, DialectOptimizer, list[Axis], list[ParameterDifference]] | None = None
    refused: list[str] = []
    for cls in classes:
        start = b.arguments if cls is type(b) else {}
        args = _candidate_arguments(spec_a, cls, start, layout)
        candidate = _construct(cls, args, refused if cls is type(b) else None)
        if candidate is None:
            continue
        found = _mismatch(spec_a, candidate, layout, steps)
        if found is None or any(x.key == "algorithm" for x in found[0]):
            continue
        score = len(found[0]) + len(found[1])
        for flag in [k for k, v in args.items() if isinstance(v, bool)] + \
                [k for k in cls.argument_names() if k not in args]:
            if score == 0:
                break
            flipped = _construct(cls, {**args, flag: not args.get(flag, False)})
            again = None if flipped is None else _mismatch(spec_a, flipped, layout, steps)
            if flipped is not None and again is not None and len(again[0]) + len(again[1]) < score:
                args = {**args, flag: not args.get(flag, False)}
                candidate, found, score = flipped, again, len(again[0]) + len(again[1])
        if best is None or score < best[0]:
            best = (score, candidate, found[0], found[1])
        if score == 0:
            break
    if best is None:
        if refused:
            return Expression(dialect, candidate=b.qualname, missing=[Axis(
                "arguments", "A's values as arguments", "", "", "", f"refused: {refused[0]}")])
        return Expression(dialect, missing=[Axis("algorithm", "canonical algorithm", spec_a.algorithm.name,
                                                 f"no {dialect} class lowers to it")])
    score, candidate, axes, settings = best
    if score:
        return Expression(dialect, missing=axes, missing_settings=settings, candidate=candidate.qualname)
    config = _compact(candidate)
    # what is verified is the printed config itself, read back as a config file would be
    candidate = from_dict(json.loads(json.dumps(config)))
    for dtype in ("float32", "float64"):
        ours, theirs = (streams.reference_trajectory(x, layout, steps, seed, dtype) for x in (candidate, a))
        for step, (x, y) in enumerate(zip(ours, theirs)):
            differing = [n for n in y if not np.array_equal(x[n], y[n])]
            if differing:
                return Expression(dialect, candidate=candidate.qualname, missing=[Axis(
                    "numbers", "the numbers", "", "", f"{dtype} step {step}: {differing[0]} differs")])
    return Expression(dialect, config=config, candidate=candidate.qualname,
                      verified=f"bit-identical to A at every step of {steps}, float32 and float64")


# -- the whole report ----------------------------------------------------------------------
def load_optimizer(path: str | Path) -> DialectOptimizer:
    """The dialect optimizer of a config file (its ``conform`` table ignored).

    Raises:
        ConfigError, SpecTypeError, SpecValueError, OSError: as :func:`optbridge.load`.
    """
    from .conformance.cases import read_config_file

    data = read_config_file(str(path))
    return from_dict({k: v for k, v in data.items() if k != "conform"})


def check_runs(optimizer: DialectOptimizer, layout: streams.Layout, steps: int) -> None:
    """Raise what running ``optimizer`` for ``steps`` steps on ``layout`` would raise before any
    number is computed: groups that do not resolve on the layout, a per-step list shorter than
    ``steps``.

    Raises:
        GroupError (a ValueError), ScheduleExhaustedError: as the engine does.
    """
    _settings(optimizer.to_canonical(), [ParamInfo(n, tuple(s)) for n, s in layout], steps)


def diff(a: DialectOptimizer, b: DialectOptimizer, layout: streams.Layout, steps: int, dtype: str = "float32",
         seed: int = 0, *, names: tuple[str, str] = ("A", "B"), layout_name: str = "") -> DiffReport:
    """Compare two dialect optimizers: axes, per-parameter settings, per-step deviation and,
    when they differ, A in B's dialect."""
    spec_a, spec_b = a.to_canonical(), b.to_canonical()
    axes = axis_differences(spec_a, spec_b, any_decay(spec_a, spec_b, layout, steps))
    settings = parameter_differences(spec_a, spec_b, layout, steps)
    deviations = run_deviation(a, b, layout, steps, dtype, seed)
    report = DiffReport(names[0], names[1], a.qualname, b.qualname, spec_a.algorithm.name, spec_b.algorithm.name,
                        layout, layout_name, steps, dtype, seed, axes, settings, deviations, None)
    if not report.equal:
        report.expression = express(a, b, layout, steps, seed)
    return report


def _shown_steps(deviations: Sequence[StepDeviation]) -> list[StepDeviation]:
    if len(deviations) <= 25:
        return list(deviations)
    stride = max(1, len(deviations) // 10)
    parting = next((d.step for d in deviations if d.parted), -1)
    keep = {d.step for d in deviations if d.step < 5 or d.step % stride == stride - 1 or d.step == parting}
    keep.add(len(deviations) - 1)
    return [d for d in deviations if d.step in keep]


def format_report(report: DiffReport) -> str:
    """The text ``optbridge diff`` prints."""
    lines = [f"A: {report.name_a} ({report.qualname_a}, canonical {report.algorithm_a})",
             f"B: {report.name_b} ({report.qualname_b}, canonical {report.algorithm_b})"]
    lines.append("")
    if report.axes:
        lines.append(f"{len(report.axes)} differing axes:")
        lines += [f"  {axis.describe()}" for axis in report.axes]
    else:
        lines.append("axes: none (the same canonical algorithm, flags and hyperparameters)")
    layout = report.layout_name or f"{len(report.layout)} tensors"
    total = len(report.layout)
    if report.settings:
        lines.append(f"per-parameter settings that differ on layout {layout}:")
        lines += [f"  {s.describe(total)}" for s in report.settings]
    else:
        lines.append(f"per-parameter settings: the same on layout {layout} (lr, weight decay, groups)")
    lines.append("")
    lines.append(f"run: NumPy backend, layout {layout}, {report.steps} steps, {report.dtype}, seed {report.seed}; "
                 "deviation = max over tensors of max|B − A| / max|A|")
    lines.append("  step  deviation  float32 noise  worst tensor")
    for d in _shown_steps(report.deviations):
        mark = "  parted" if d.parted else ""
        lines.append(f"  {d.step:4d}  {d.deviation:9.3e}  {d.noise:13.3e}  {d.worst or '-'}{mark}")
    first = report.first_parting
    if first is not None:
        lines.append(f"first step beyond float32 noise: {first.step} (deviation {first.deviation:.3e} > "
                     f"{first.noise:.3e}, {first.worst})")
    else:
        equal = all(d.deviation == 0.0 for d in report.deviations)
        lines.append("they never part beyond float32 noise" + (" (bit-identical)" if equal else ""))
    expression = report.expression
    if expression is not None:
        lines.append("")
        if expression.config is not None:
            lines.append(f"A in {expression.dialect} ({expression.verified}):")
            lines += ["  " + line for line in json.dumps(expression.config, indent=2, ensure_ascii=False).splitlines()]
            if any(isinstance(g, Mapping) and isinstance(g.get("params"), list)
                   for g in expression.config.get("params") or ()):
                lines.append(f"  (its groups name the parameters of layout {layout})")
        else:
            tried = f" (closest: {expression.candidate})" if expression.candidate else ""
            lines.append(f"A cannot be written in {expression.dialect}{tried}; no argument sets:")
            lines += [f"  {axis.describe()}" for axis in expression.missing]
            lines += [f"  {s.describe(total)}" for s in expression.missing_settings]
    return "\n".join(lines)


def plot_deviation(report: DiffReport, path: str | Path) -> Path:
    """Draw the per-step deviation and the float32 noise (log scale) to a PNG at ``path``.

    Raises:
        OptbridgeError: matplotlib is not installed (``pip install 'optbridge[plot]'``).
    """
    from .plot import pyplot

    plt = pyplot("optbridge diff --png")
    steps = [d.step for d in report.deviations]
    floor = np.finfo(np.float64).tiny
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.semilogy(steps, [max(d.deviation, floor) if math.isfinite(d.deviation) else np.nan
                        for d in report.deviations], label="deviation of B from A", linewidth=1.4)
    ax.semilogy(steps, [d.noise for d in report.deviations], label="float32 noise", linestyle="--", linewidth=1.2)
    first = report.first_parting
    if first is not None:
        ax.axvline(first.step, color="grey", linewidth=0.8)
        ax.annotate(f"parted at step {first.step}", (first.step, first.noise), fontsize="small")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("max |B − A| / max |A|")
    ax.set_title(f"{report.name_a} vs {report.name_b} ({report.dtype})")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path
