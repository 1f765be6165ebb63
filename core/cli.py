"""The ``optbridge`` command line (DESIGN.md section 8).

Subcommands:

* ``optbridge conform [CONFIG] [--backend NAME ...] [--layout NAME] [--steps N]
  [--dtype float32|float64 ...] [--seed N]`` — run one config on every installed backend
  (or those named) against the NumPy reference and print the conformance table; without
  CONFIG, the reference guide's grouped ``nn.Momentum`` on the ``guide`` layout, or its
  groups selected by rank on another ``--layout``
  (:func:`optbridge.conformance.cases.default_example`). A config may carry a ``conform``
  table ``{"layout", "steps", "seed"}``; options override it. Without either, 10 steps,
  or the length of the config's shortest per-step list when that is fewer.
  ``--cases`` runs the shipped case database instead (``-k TEXT`` keeps the case ids
  containing TEXT). Plugins that failed to load are listed under the header. Exit
  status 1 on any failure or error. ``--against torch|keras|mindspore`` also runs the
  config's optimizer as ``torch.optim`` / ``keras.optimizers`` / ``mindspore.nn`` itself
  on the same stream and prints its agreement with the NumPy reference below the table
  (where the framework is installed; a line says so where not;
  :mod:`optbridge.conformance.against`).
* ``optbridge diff A B [--layout NAME] [--steps N] [--dtype float32|float64] [--seed N]
  [--png PATH]`` — the dialect axes on which two configs differ (in words), the
  per-parameter settings that differ on the layout (default ``tiny``), the per-step
  deviation of B from A on one deterministic gradient stream (default 20 steps, float32)
  with the first step beyond float32 noise, and A written in B's dialect (verified bit for
  bit) or the axes B's dialect cannot express (:mod:`optbridge.diff`). Exit status 0 when
  equal, 1 when they differ, 2 on bad input.
* ``optbridge backends`` — installed backends (version, dtypes, kernels) and broken
  plugins with their errors.
* ``optbridge validate CONFIG [--layout NAME | --names FILE] [--steps N] [--strict]`` —
  load a config without building anything and print the canonical algorithm and groups;
  with parameter names (a built-in layout, or a file read by
  :func:`optbridge.portability.read_names`) also the parameters each group resolves to,
  and portability warnings on stderr (:func:`optbridge.portability.portability_warnings`:
  a selector or default weight-decay filter matching nothing, a per-step list shorter than
  ``--steps`` or the config's ``conform.steps``). Exit status 0: valid (warnings
  included, unless ``--strict``); 1: a bad config, groups that do not resolve on the
  names, or, with ``--strict``, any warning.
* ``optbridge plot CONFIG -o lr.png [--steps N] [--steps-per-epoch K]`` — draw each
  group's learning rate (and weight decay, when it changes) over N optimizer steps
  (default: the longest per-step list, else 100); epoch-interval schedules advance every
  K steps (default 1). A per-step list is drawn as steps; ``--steps`` past a list's end
  warns on stderr and ends its curve. Needs matplotlib (extra ``plot``).

``python -m optbridge`` runs the same :func:`main`. Unless ``TF_CPP_MIN_LOG_LEVEL`` is set,
every command sets it to 2 and filters TensorFlow's C++ INFO/WARNING lines from stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import plugin
from ._version import __version__
from .algorithms.base import algorithm_registry
from .config import from_dict, validate
from .conformance.against import FRAMEWORKS, format_against, run_against
from .conformance.cases import (
    CASES,
    DTYPES,
    MAX_CONFORM_STEPS,
    CaseInfo,
    case_from_config,
    default_example,
    parse_conform_table,
    read_config_file,
)
from .conformance.layouts import LAYOUTS
from .conformance.report import any_failed, format_report
from .conformance.runner import run_suite
from .engine import Engine
from .errors import OptbridgeError
from .groups import ParamInfo
from .portability import portability_warnings, read_names
from .schedules.values import Constant, PerStep, Scheduled, Value
from .spec import OptimizerSpec

__all__ = ["main", "build_parser"]

_BAD_CONFIG = (OptbridgeError, TypeError, ValueError, KeyError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``optbridge`` command."""
    parser = argparse.ArgumentParser(prog="optbridge", description="One optimizer config, the same numbers "
                                     "on every backend.")
    parser.add_argument("--version", action="version", version=f"optbridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    conform = sub.add_parser("conform", help="compare backends with the NumPy reference",
                             description="Run a config (default: the reference guide's grouped Momentum) "
                                         "on backends and compare with the NumPy reference.")
    conform.add_argument("config", nargs="?", metavar="CONFIG", help="config file (.json, .toml, .yaml)")
    conform.add_argument("--backend", action="append", metavar="NAME",
                         help="backend to run (repeatable; default: every installed backend)")
    conform.add_argument("--layout", choices=sorted(LAYOUTS), help="built-in parameter layout")
    conform.add_argument("--steps", type=int, metavar="N", help="optimizer steps")
    conform.add_argument("--dtype", action="append", choices=DTYPES, help="dtype (repeatable; default: both)")
    conform.add_argument("--seed", type=int, metavar="N", help="seed of the parameter and gradient streams")
    conform.add_argument("--cases", action="store_true", help="run the shipped case database instead of a config")
    conform.add_argument("-k", dest="filter", metavar="TEXT", help="with --cases: only case ids containing TEXT")
    conform.add_argument("--against", choices=sorted(FRAMEWORKS), metavar="FRAMEWORK",
                         help="also run the origin framework's own optimizer (torch, keras or mindspore) on the same "
                              "stream, where installed")
    conform.set_defaults(handler=_conform)

    compared = sub.add_parser("diff", help="where two configs differ: dialect axes, first diverging step",
                              description="Name every differing canonical flag or hyperparameter as a dialect "
                                          "axis, run both configs on one deterministic gradient stream, report "
                                          "the per-step deviation and the first step beyond float32 noise, and "
                                          "write A in B's dialect where it can be (verified by running it). "
                                          "Exit status 0: equal; 1: they differ; 2: bad input.")
    compared.add_argument("config_a", metavar="A", help="config file (.json, .toml, .yaml)")
    compared.add_argument("config_b", metavar="B", help="config file (.json, .toml, .yaml)")
    compared.add_argument("--layout", choices=sorted(LAYOUTS), default="tiny",
                          help="built-in parameter layout (default: tiny)")
    compared.add_argument("--steps", type=int, default=DEFAULT_DIFF_STEPS, metavar="N",
                          help=f"optimizer steps (default {DEFAULT_DIFF_STEPS})")
    compared.add_argument("--dtype", choices=DTYPES, default="float32", help="dtype of the run (default float32)")
    compared.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the parameter and gradient streams")
    compared.add_argument("--png", metavar="PNG", help="also draw the deviation over the steps to this PNG")
    compared.set_defaults(handler=_diff)

    backends = sub.add_parser("backends", help="installed backends and broken plugins")
    backends.set_defaults(handler=_backends)

    check = sub.add_parser("validate", help="check a config and print its canonical form",
                           description="Check a config, print its canonical form and, given parameter names, "
                                       "the groups they resolve to and portability warnings.")
    check.add_argument("config", metavar="CONFIG", help="config file (.json, .toml, .yaml)")
    names = check.add_mutually_exclusive_group()
    names.add_argument("--layout", choices=sorted(LAYOUTS), help="resolve the groups on a built-in layout")
    names.add_argument("--names", metavar="FILE",
                       help="resolve the groups on these names: 'NAME SHAPE [ROLE]' lines, or JSON {name: shape}")
    check.add_argument("--steps", type=int, metavar="N",
                       help="planned optimizer steps (default: the config's conform.steps): warn about shorter "
                            "per-step lists")
    check.add_argument("--strict", action="store_true", help="exit status 1 on any warning")
    check.set_defaults(handler=_validate)

    plot = sub.add_parser("plot", help="draw lr (and weight decay) per group over steps to a PNG",
                          description="Draw each group's learning rate, and its weight decay when it changes, "
                                      "over the optimizer steps (one line per group, labelled by its selector).")
    plot.add_argument("config", metavar="CONFIG", help="config file (.json, .toml, .yaml)")
    plot.add_argument("-o", "--output", required=True, metavar="PNG", help="the PNG file to write")
    plot.add_argument("--steps", type=int, metavar="N",
                      help="optimizer steps (default: the longest per-step list, else 100)")
    plot.add_argument("--steps-per-epoch", type=int, default=1, metavar="K",
                      help="optimizer steps per epoch: epoch-interval schedules (torch lr_scheduler "
                           "declarations) advance every K steps (default 1)")
    plot.set_defaults(handler=_plot)
    return parser


#: Environment set before a backend imports TensorFlow, unless the user set it: C++ INFO
#: and WARNING lines (oneDNN, CPU features, absl's pre-init notice) stay out of the output.
QUIET_FRAMEWORK_LOGS = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2: usage error).

    Output cut short by its reader (``optbridge conform | head -1``) ends the command
    quietly with status 1 instead of a ``BrokenPipeError`` traceback.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    quiet = [key for key in QUIET_FRAMEWORK_LOGS if key not in os.environ]
    for key in quiet:
        os.environ[key] = QUIET_FRAMEWORK_LOGS[key]
    try:
        with _framework_logs_filtered() if quiet else contextlib.nullcontext():
            status = args.handler(args)
            sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at devnull so that flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1
    return status


#: An INFO or WARNING line of TensorFlow's C++ runtime (absl format; some, such as
#: oneDNN's notice, are written before TF reads ``TF_CPP_MIN_LOG_LEVEL``) or absl's
#: pre-init notice: ``WARNING: All log messages before absl::InitializeLog() ...``,
#: ``I0000 00:00:1796420615.926197    7028 port.cc:153] ...``. Errors (``E...``) pass.
_FRAMEWORK_LOG_LINE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.\-]+:\d+\] )"
)


#: How long the stderr filter waits for its reader to drain once the command is done.
_READER_DRAIN_SECONDS = 2.0


@contextlib.contextmanager
def _framework_logs_filtered() -> Iterator[None]:
    """Send file descriptor 2 through a pipe whose reader thread passes every line on to
    the real stderr at once, but the frameworks' load-time log lines
    (:data:`_FRAMEWORK_LOG_LINE`, written by C++ where no Python setting reaches them)."""
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (an embedded interpreter): nothing to filter
        yield
        return
    read_end, write_end = os.pipe()

    def forward() -> None:
        pending = b""
        while True:
            chunk = os.read(read_end, 65536)
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()  # an unfinished line waits for the rest of it
            for line in lines:
                if not _FRAMEWORK_LOG_LINE.match(line.decode("utf-8", "replace")):
                    os.write(saved, line + b"\n")
            if not chunk:
                if pending:
                    os.write(saved, pending)
                return

    reader = threading.Thread(target=forward, name="optbridge-stderr-filter", daemon=True)
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)
    reader.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes this process's last write end of the pipe
        # A child still alive (torch inductor's compile workers) holds the pipe's write
        # end as its stderr: the reader then never sees EOF. Wait briefly, and otherwise
        # leave the daemon reader forwarding that child's lines until the process ends.
        reader.join(timeout=_READER_DRAIN_SECONDS)
        if not reader.is_alive():
            os.close(read_end)
            os.close(saved)


def _error(message: str) -> int:
    print(f"optbridge: error: {message}", file=sys.stderr)
    return 1


def _located(path: str, exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return text if text.startswith(str(path)) else f"{path}: {text}"


# -- conform ----------------------------------------------------------------------------
#: Steps ``conform`` runs a config for when neither ``--steps`` nor its ``conform`` table says.
DEFAULT_CONFORM_STEPS = 10


def _default_conform_steps(config: dict[str, Any]) -> tuple[int, str]:
    """:data:`DEFAULT_CONFORM_STEPS`, or the length of the config's shortest per-step list
    (an lr or weight-decay list, of the optimizer or of a group) when that is shorter, with
    a line saying so (``""`` otherwise): a list running out is an error, not a default."""
    spec = from_dict(config).to_canonical()
    values: list[tuple[str, Value | None]] = [("learning rate", spec.lr), ("weight_decay", spec.weight_decay)]
    for g in spec.groups or ():
        values += [(f"groups[{g.source_index}] lr", g.lr), (f"groups[{g.source_index}] weight_decay", g.weight_decay)]
    lists = [(len(v.values), where) for where, v in values if isinstance(v, PerStep)]
    if not lists or min(lists)[0] >= DEFAULT_CONFORM_STEPS:
        return DEFAULT_CONFORM_STEPS, ""
    length, where = min(lists)
    return length, (f"steps: {length}, the length of the per-step {where} list (default {DEFAULT_CONFORM_STEPS}; "
                    "--steps or the config's conform table sets it)")


def _conform(args: argparse.Namespace) -> int:
    dtypes = tuple(args.dtype) if args.dtype else DTYPES
    note = ""
    if args.cases:
        if args.config or args.layout or args.steps is not None or args.seed is not None or args.against:
            return _error("--cases runs the shipped database; it takes no CONFIG, --layout, --steps, --seed "
                          "or --against")
        cases = [c for c in CASES if args.filter is None or args.filter in c.id]
        if not cases:
            return _error(f"no case id contains {args.filter!r}")
        title = f"{len(cases)} shipped cases"
    else:
        if args.filter is not None:
            return _error("-k filters --cases")
        if args.against and not args.config:
            return _error("--against runs a CONFIG's optimizer in its origin framework; name the CONFIG")
        for name, minimum in (("steps", 1), ("seed", 0)):
            value = getattr(args, name)
            if value is not None and value < minimum:
                return _error(f"--{name} must be >= {minimum}. Received: {value}")
        if args.config:
            try:
                data = read_config_file(args.config)
                steps = args.steps
                if steps is None and not (isinstance(data.get("conform"), dict) and "steps" in data["conform"]):
                    steps, note = _default_conform_steps({k: v for k, v in data.items() if k != "conform"})
                case = case_from_config(data, name=Path(args.config).name,
                                        layout=args.layout, steps=steps, seed=args.seed, dtypes=dtypes)
            except _BAD_CONFIG as exc:
                return _error(_located(args.config, exc))
        else:
            overrides = {k: getattr(args, k) for k in ("steps", "seed") if getattr(args, k) is not None}
            case = dataclasses.replace(default_example(args.layout or "guide"), **overrides)
        cases = [case]
        layout = case.layout if isinstance(case.layout, str) else f"{len(case.layout)} tensors"
        title = f"{case.id} ({case.optimizer}) on layout {layout}, {case.steps} steps, seed {case.seed}"
    try:
        backends = None if not args.backend else [plugin.get_backend(name) for name in args.backend]
    except OptbridgeError as exc:
        return _error(str(exc))
    names = [b.name for b in backends] if backends is not None else sorted(plugin.backends())
    print(f"conform: {title}")
    if note:
        print(note)
    print(f"backends: {', '.join(names) or 'none'}; dtypes: {', '.join(dtypes)}")
    for failure in plugin.broken_plugins():
        print(f"broken plugin, not run: {failure.plugin} ({failure.stage}): {failure.error}")
    print()
    results = run_suite(backends, cases, dtypes)
    print(format_report(results))
    status = 1 if any_failed(results) else 0
    if args.against:
        return max(status, _against(args.against, cases[0], dtypes))
    return status


def _against(framework: str, case: CaseInfo, dtypes: Sequence[str]) -> int:
    """The native column of ``conform --against``: 1 when the framework disagrees or cannot run the config."""
    print()
    try:
        results = run_against(from_dict(case.config), framework, case.layout_shapes, case.steps, case.seed, dtypes)
    except ImportError as exc:
        print(str(exc))
        return 0
    except _BAD_CONFIG as exc:
        print(f"against {framework}: not comparable: {exc}")
        return 1
    print(format_against(framework, results))
    return 0 if all(r.passed for r in results) else 1


# -- diff --------------------------------------------------------------------------------
#: Steps ``diff`` runs both configs for unless ``--steps`` says.
DEFAULT_DIFF_STEPS = 20


def _diff(args: argparse.Namespace) -> int:
    from .diff import check_runs, diff, format_report, load_optimizer, plot_deviation

    def bad(message: str) -> int:
        print(f"optbridge: error: {message}", file=sys.stderr)
        return 2

    for name, value, minimum in (("steps", args.steps, 1), ("seed", args.seed, 0)):
        if value < minimum:
            return bad(f"--{name} must be >= {minimum}. Received: {value}")
    if args.steps > MAX_CONFORM_STEPS:
        return bad(f"--steps must be <= {MAX_CONFORM_STEPS}. Received: {args.steps}")
    layout = LAYOUTS[args.layout]
    optimizers = []
    for path in (args.config_a, args.config_b):
        try:
            optimizer = load_optimizer(path)
            check_runs(optimizer, layout, args.steps)
        except _BAD_CONFIG + (OSError, IndexError) as exc:
            return bad(_located(path, exc))
        optimizers.append(optimizer)
    report = diff(optimizers[0], optimizers[1], layout, args.steps, args.dtype, args.seed,
                  names=(args.config_a, args.config_b), layout_name=args.layout)
    print(format_report(report))
    if args.png:
        try:
            path = plot_deviation(report, args.png)
        except OptbridgeError as exc:
            return bad(str(exc))
        except OSError as exc:
            return bad(f"{args.png}: cannot write: {exc.strerror or exc}")
        print(f"deviation plot: {path}")
    return 0 if report.equal else 1


# -- backends ----------------------------------------------------------------------------
def _backends(args: argparse.Namespace) -> int:
    found = plugin.backends()
    print("Installed backends:")
    if not found:
        print("  none")
    for name in sorted(found):
        backend = found[name]
        print(f"  {name} {backend.version}".rstrip() + (f"  (plugin: {backend.plugin})" if backend.plugin else ""))
        print(f"    dtypes: {', '.join(backend.dtypes)}")
        if backend.ops is not None:
            print("    ops: every algorithm with a shared rule")
        label = "fast paths" if backend.ops is not None else "kernels"
        print(f"    {label}: {', '.join(sorted(backend.kernels)) or 'none'}")
        if backend.unsupported:
            declared = "; ".join(f"{k}: {v}" for k, v in sorted(backend.unsupported.items()))
            print(f"    unsupported: {declared}")
        missing = sorted(n for n in algorithm_registry if not backend.runs(n) and n not in backend.unsupported)
        if missing:
            print(f"    no kernel (undeclared): {', '.join(missing)}")
    broken = plugin.broken_plugins()
    print("Broken plugins:")
    if not broken:
        print("  none")
    for failure in broken:
        print(f"  {failure.plugin} ({failure.stage}): {failure.error}")
    return 0


# -- validate ----------------------------------------------------------------------------
def _value(value: Any) -> str:
    if isinstance(value, Constant):
        return repr(value.value)
    if isinstance(value, PerStep):
        values = value.values
        shown = ", ".join(f"{v:.6g}" for v in values[:3]) + (", ..." if len(values) > 3 else "")
        return f"per-step list of {len(values)} ({shown})"
    if isinstance(value, Scheduled):
        return repr(value.schedule)
    return repr(value)


def _describe(spec: OptimizerSpec) -> list[str]:
    hyper = ", ".join(f"{k}={v!r}" for k, v in spec.algorithm.hyperparameters().items())
    lines = [
        f"algorithm: {spec.algorithm.name} ({hyper})",
        f"lr: {_value(spec.lr)}",
        f"weight_decay: {_value(spec.weight_decay)}",
        f"loss_scale: {spec.loss_scale!r}; host precision: {spec.precision}; "
        f"preprocess: {', '.join(spec.preprocess) or 'none'}",
    ]
    if spec.groups is None:
        filtered = " (names containing 'beta' or 'gamma' are not decayed)" if spec.decay_filter == "mindspore" else ""
        lines.append(f"groups: one group of every parameter{filtered}")
    else:
        lines.append(f"groups: {len(spec.groups)}")
        for g in spec.groups:
            parts = [f"params={g.params!r}"]
            if g.algorithm is not None:
                own = ", ".join(f"{k}={v!r}" for k, v in g.algorithm.hyperparameters().items())
                parts.append(f"algorithm={g.algorithm.name} ({own})")
            parts.append(f"lr={_value(g.lr) if g.lr is not None else 'default'}")
            parts.append(f"weight_decay={_value(g.weight_decay) if g.weight_decay is not None else 'default'}")
            if g.grad_centralization:
                parts.append("grad_centralization=True")
            parts += [f"{k}={v!r}" for k, v in g.overrides.items()]
            lines.append(f"  [{g.source_index}] " + ", ".join(parts))
    if spec.order_params is not None:
        lines.append(f"order_params: {spec.order_params!r}")
    if spec.unassigned != "error":
        lines.append(f"unassigned parameters: {spec.unassigned}")
    return lines


def _validate(args: argparse.Namespace) -> int:
    if args.steps is not None and args.steps < 1:
        return _error(f"--steps must be >= 1. Received: {args.steps}")
    try:
        data = read_config_file(args.config)
        settings = parse_conform_table(data["conform"]) if "conform" in data else None
        cls = validate(data)
        spec = from_dict(data).to_canonical()
    except _BAD_CONFIG as exc:
        return _error(_located(args.config, exc))
    params: list[ParamInfo] | None = None
    source = ""
    try:
        if args.layout is not None:
            params, source = [ParamInfo(n, tuple(s)) for n, s in LAYOUTS[args.layout]], f"layout {args.layout!r}"
        elif args.names is not None:
            params, source = read_names(args.names), args.names
    except OSError as exc:
        return _error(f"cannot read {args.names}: {exc.strerror or exc}")
    except _BAD_CONFIG as exc:
        return _error(str(exc))
    steps = args.steps if args.steps is not None else settings.steps if settings is not None else None
    warnings = portability_warnings(spec, params, steps)
    resolution = None
    if params is not None:
        try:
            resolution = Engine(spec, params).resolution
        except _BAD_CONFIG as exc:
            for warning in warnings:
                print(f"optbridge: warning: {warning}", file=sys.stderr)
            return _error(f"{args.config} on {source}: {exc}")
    print(f"{args.config}: valid")
    print(f"optimizer: {cls.qualname}")
    for line in _describe(spec):
        print(line)
    if settings is not None:
        given = {k: v for k, v in dataclasses.asdict(settings).items() if v is not None}
        print("conform: " + ", ".join(f"{k}={v!r}" for k, v in given.items()))
    if resolution is not None:
        print(f"on {source} ({len(params or ())} parameters):")
        for group in resolution.groups:
            print(f"  [{group.index}] {len(group.names)}: " + ", ".join(group.names))
        if resolution.frozen:
            print("  frozen: " + ", ".join(resolution.frozen))
    for warning in warnings:
        print(f"optbridge: warning: {warning}", file=sys.stderr)
    return 1 if warnings and args.strict else 0


# -- plot --------------------------------------------------------------------------------
def _plot(args: argparse.Namespace) -> int:
    from .plot import default_steps, plot_schedules, schedule_curves

    for name, value in (("steps", args.steps), ("steps-per-epoch", args.steps_per_epoch)):
        if value is not None and value < 1:
            return _error(f"--{name} must be >= 1. Received: {value}")
    try:
        data = read_config_file(args.config)
        spec = from_dict(data).to_canonical()
    except _BAD_CONFIG as exc:
        return _error(_located(args.config, exc))
    steps = args.steps if args.steps is not None else default_steps(spec)
    try:
        curves = schedule_curves(spec, steps, args.steps_per_epoch)
        for curve in curves:
            if curve.past_end and curve.list_length is not None:
                print(f"optbridge: warning: {curve.where} {curve.key!r}: the per-step list has {curve.list_length} "
                      f"entries; steps {curve.list_length}..{steps - 1} run past its end (an optimizer raises "
                      "ScheduleExhaustedError there), so its curve ends at step "
                      f"{curve.list_length - 1}", file=sys.stderr)
        path = plot_schedules(spec, args.output, steps, args.steps_per_epoch, title=Path(args.config).name)
    except _BAD_CONFIG as exc:
        return _error(_located(args.config, exc))
    except OSError as exc:
        return _error(f"{args.output}: cannot write: {exc.strerror or exc}")
    print(f"{path}: {steps} steps, {args.steps_per_epoch} per epoch")
    for curve in curves:
        if curve.key == "lr" or curve.varies:
            finite = [v for v in curve.values if v == v]
            shown = f"{finite[0]:.6g} -> {finite[-1]:.6g}" if finite else "no value"
            note = f"  ({curve.note})" if curve.note else ""
            print(f"  {curve.label} {curve.key}: {shown}{note}")
    return 0
