"""Run conformance cases on a backend and compare with the NumPy reference (DESIGN.md section 7).

For one case, backend and dtype, :func:`run_case`

1. lowers the case's config (:func:`optbridge.from_dict`) to its canonical spec;
2. checks the backend can run it: a missing kernel fails the case unless the backend
   declares the algorithm in ``Backend.unsupported`` (then it is skipped with that
   reason); a dtype outside ``Backend.dtypes`` is skipped;
3. makes the backend's own parameters from the float64 initial parameters with
   ``Backend.make_params``, builds its optimizer, and builds the NumPy float64 reference
   (and, for float32, the NumPy float32 run);
4. per step, converts the deterministic float64 gradients to the dtype in NumPy (so every
   backend sees the same bits), hands them over with ``Backend.grads_from_numpy``, steps
   all runs, reads the parameters back with ``Backend.to_numpy`` and compares
   (:func:`optbridge.conformance.compare.check_tensor`);
5. after the last step compares ``state_dict()["state"]`` slot by slot, the step counter
   and the host state.

Expected failures are strict: a case listed for the backend that passes is an error
(``XPASS(strict)``). A failure carries a reproducer: the case as a config with its
``conform`` table, the first failing step, parameter and slot, the deviation and limit,
and the versions (backend, NumPy, optbridge, Python).
"""
from __future__ import annotations

import json
import platform
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from .. import plugin
from .._version import __version__
from ..config import from_dict
from ..plugin import Backend
from ..spec import OptimizerSpec
from . import streams
from .cases import CASES, DTYPES, CaseInfo
from .compare import Metrics, TensorCheck, check_tensor
from .hooks import hooks
from .tolerances import Tolerance, tolerance_for

__all__ = ["Failure", "CaseResult", "run_case", "run_suite", "case_matrix", "expected_failure",
           "stale_expected_failures", "STATUSES", "REFERENCE_BACKEND"]

REFERENCE_BACKEND = "numpy"
#: Outcomes of a case; ``passed``, ``xfailed`` and ``skipped`` are not failures.
STATUSES = ("passed", "failed", "xfailed", "skipped", "error")
_HOOKS = ("make_params", "to_numpy", "grads_from_numpy")


@dataclass(frozen=True)
class Failure:
    """The first thing that went wrong in a run.

    Attributes:
        message: one line saying what happened.
        step: 0-based step after which it was seen (``None``: before the first step).
        tensor: parameter name, if one is at fault.
        slot: state slot name, if a slot is at fault.
        deviation: the measured deviation (see ``measure``), if numeric.
        limit: the bound it exceeded.
        measure: what ``deviation`` measures.
    """

    message: str
    step: int | None = None
    tensor: str | None = None
    slot: str | None = None
    deviation: float | None = None
    limit: float | None = None
    measure: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "step": self.step,
            "parameter": self.tensor,
            "slot": self.slot,
            "deviation": self.deviation,
            "limit": self.limit,
            "measure": self.measure,
        }


@dataclass
class CaseResult:
    """Outcome of one case on one backend in one dtype.

    Attributes:
        case: the case.
        backend: backend name.
        dtype: ``"float32"`` or ``"float64"``.
        status: one of :data:`STATUSES`.
        reason: skip or xfail reason, or the error text.
        metrics: deviations and bitwise equality over every compared tensor (``None``
            when nothing was compared).
        failure: the first failure (also kept for ``xfailed``).
        versions: backend, NumPy, optbridge and Python versions.
        seconds: wall time of the run.
    """

    case: CaseInfo
    backend: str
    dtype: str
    status: str
    reason: str = ""
    metrics: Metrics | None = None
    failure: Failure | None = None
    versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether this outcome is acceptable (passed, expected failure, or skipped)."""
        return self.status in ("passed", "xfailed", "skipped")

    def reproducer(self) -> dict[str, Any]:
        """What it takes to reproduce this run, as JSON-compatible data."""
        return {
            "case": self.case.id,
            "backend": self.backend,
            "dtype": self.dtype,
            "config": self.case.to_config(),
            "first_failure": None if self.failure is None else self.failure.to_json(),
            "versions": dict(self.versions),
            "command": f"optbridge conform config.json --backend {self.backend} --dtype {self.dtype}",
        }

    def describe(self) -> str:
        """A multi-line report: status, reason, first failure and the reproducer JSON."""
        lines = [f"{self.status.upper()}: {self.case.id} on {self.backend} ({self.dtype})"]
        if self.reason:
            lines.append(f"  {self.reason}")
        if self.failure is not None and self.failure.message != self.reason:
            lines.append(f"  {self.failure.message}")
        if self.status in ("failed", "error", "xfailed"):
            lines.append("  reproducer:")
            text = json.dumps(self.reproducer(), indent=2, default=str)
            lines.extend("    " + line for line in text.splitlines())
        return "\n".join(lines)


def _versions(backend: Backend) -> dict[str, str]:
    return {
        "backend": f"{backend.name} {backend.version}".strip(),
        "numpy": np.__version__,
        "optbridge": __version__,
        "python": platform.python_version(),
    }


def _exception_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class _Run:
    """One optimizer run on one backend."""

    def __init__(self, backend: Backend, spec: OptimizerSpec, initial: Mapping[str, np.ndarray], dtype: str):
        self.backend = backend
        self.hooks = hooks(backend)
        self.params = self.hooks.make_params(initial, dtype)
        self.optimizer = backend.build(spec, self.params, backend.kernels)

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        returned = self.optimizer.step(self.hooks.grads_from_numpy(grads, self.params))
        if self.backend.functional:
            self.params = returned

    def read(self) -> dict[str, np.ndarray]:
        return self.hooks.to_numpy(self.params)

    def state(self) -> dict[str, Any]:
        return self.optimizer.state_dict()


class _CaseFailed(Exception):
    """Raised inside a run to stop it with a :class:`Failure`."""

    def __init__(self, failure: Failure, status: str = "failed"):
        super().__init__(failure.message)
        self.failure = failure
        self.status = status


def expected_failure(xfails: Mapping[str, str], case_id: str, dtype: str) -> str | None:
    """The reason ``xfails`` (``{case id or "case id:dtype": reason}``) gives for a case in ``dtype``."""
    return xfails.get(f"{case_id}:{dtype}", xfails.get(case_id))


def stale_expected_failures(xfails: Mapping[str, str], cases: Iterable[CaseInfo] | None = None) -> list[str]:
    """Keys of ``xfails`` that name no case of ``cases`` (default: the database) and no
    error input (:data:`~optbridge.conformance.error_inputs.ERROR_INPUTS`), sorted.

    A ``"<case id>:<dtype>"`` key must name a known case and dtype.
    """
    from .error_inputs import ERROR_INPUTS

    known = {c.id for c in (CASES if cases is None else cases)} | {r.id for r in ERROR_INPUTS}
    stale = []
    for key in xfails:
        case_id, _, dtype = key.rpartition(":")
        if key not in known and not (case_id in known and dtype in DTYPES):
            stale.append(key)
    return sorted(stale)


def _resolve(backend: str | Backend) -> Backend:
    return backend if isinstance(backend, Backend) else plugin.get_backend(backend)


def _precheck(case: CaseInfo, backend: Backend, dtype: str, spec: OptimizerSpec) -> tuple[str, str] | None:
    """``(status, reason)`` when the case cannot run at all, else ``None``."""
    if dtype not in case.dtypes:
        return "skipped", f"the case does not run in {dtype} (dtypes: {list(case.dtypes)})"
    if dtype not in backend.dtypes:
        return "skipped", f"backend {backend.name!r} does not support {dtype} (dtypes: {list(backend.dtypes)})"
    for algorithm in (alg.name for alg in spec.group_algorithms()):
        if algorithm in backend.unsupported:
            reason = backend.unsupported[algorithm]
            return "skipped", f"backend {backend.name!r} declares {algorithm!r} unsupported: {reason}"
        if not backend.runs(algorithm):
            return "failed", (f"backend {backend.name!r} has no kernel for algorithm {algorithm!r} (and no ops "
                              f"namespace with its shared rule) and does not declare it in Backend.unsupported")
    missing = [h for h in _HOOKS if getattr(backend, h) is None]
    if missing:
        return "failed", f"backend {backend.name!r} does not provide the conformance hooks {missing} (Backend fields)"
    return None


def _compare_params(run: _Run, ref64: dict[str, np.ndarray], ref_same: dict[str, np.ndarray], names: Sequence[str],
                    dtype: str, tolerance: Tolerance, step: int) -> Iterator[TensorCheck]:
    got = run.read()
    missing = [n for n in names if n not in got]
    if missing:
        raise _CaseFailed(Failure(f"to_numpy returned no values for {missing[:5]}", step=step, tensor=missing[0]))
    for name in names:
        yield check_tensor(got[name], ref64[name], ref_same[name], dtype, tolerance, step=step, tensor=name)


def _compare_state(run: _Run, ref64_sd: Mapping[str, Any], ref_same_sd: Mapping[str, Any], dtype: str,
                   tolerance: Tolerance, step: int, steps: int) -> Iterator[TensorCheck]:
    sd = run.state()
    # the reference's count: a step a transform held (accumulation) or skipped is no update
    if sd.get("global_step") != ref_same_sd["global_step"]:
        raise _CaseFailed(Failure(f"state_dict: global_step is {sd.get('global_step')!r} after {steps} steps, "
                                  f"NumPy's {ref_same_sd['global_step']!r}", step=step))
    if sd.get("transforms") != ref_same_sd.get("transforms"):
        raise _CaseFailed(Failure(f"state_dict: transform state {sd.get('transforms')!r:.200} != NumPy's "
                                  f"{ref_same_sd.get('transforms')!r:.200}", step=step))
    got_groups = [g.get("host_state") for g in sd.get("groups", [])]
    want_groups = [g["host_state"] for g in ref_same_sd["groups"]]
    if got_groups != want_groups:
        raise _CaseFailed(Failure(f"state_dict: host state {got_groups} != NumPy's {want_groups}", step=step))
    state, ref_state = sd.get("state", {}), ref64_sd["state"]
    if set(state) != set(ref_state):
        raise _CaseFailed(Failure(
            f"state_dict: parameters {sorted(state)} != NumPy's {sorted(ref_state)}", step=step))
    for name in ref_state:
        if set(state[name]) != set(ref_state[name]):
            raise _CaseFailed(Failure(
                f"state_dict: {name!r} has slots {sorted(state[name])}, NumPy has {sorted(ref_state[name])}",
                step=step, tensor=name))
        for slot in sorted(ref_state[name]):
            yield check_tensor(np.asarray(state[name][slot]), ref_state[name][slot],
                               ref_same_sd["state"][name][slot], dtype, tolerance, step=step, tensor=name, slot=slot)


def _failure_of(check: TensorCheck) -> Failure:
    if check.problem:
        message = f"step {check.step}: {check.where}: {check.problem}"
    else:
        message = (f"step {check.step}: {check.where}: deviation {check.deviation:.6g} exceeds {check.limit:.6g} "
                   f"({check.measure})")
    return Failure(message, step=check.step, tensor=check.tensor, slot=check.slot,
                   deviation=check.deviation, limit=check.limit, measure=check.measure)


def _collect(compare: Callable[[], Iterable[TensorCheck]], what: str, step: int) -> list[TensorCheck]:
    """Run a comparison; an exception from the backend while reading values fails the case."""
    try:
        return list(compare())
    except _CaseFailed:
        raise
    except Exception as exc:
        raise _CaseFailed(Failure(f"{what} raised {_exception_text(exc)}", step=step)) from exc


def _fold(checks: Iterable[TensorCheck], metrics: Metrics, first: Failure | None) -> Failure | None:
    """Add checks to the metrics; return the first failure so far."""
    for check in checks:
        metrics.add(check)
        if first is None and not check.passed:
            first = _failure_of(check)
    return first


def _execute(case: CaseInfo, backend: Backend, dtype: str, spec: OptimizerSpec,
             metrics: Metrics) -> Failure | None:
    """Run the case; return the first failing check, raise :class:`_CaseFailed` to stop early."""
    reference = plugin.get_backend(REFERENCE_BACKEND)
    tolerance = tolerance_for(case.id, backend.name, dtype)
    layout = case.layout_shapes
    names = [name for name, _ in layout]
    initial = streams.initial_params(layout, case.seed)
    try:
        ref64 = _Run(reference, spec, initial, "float64")
        ref_low = _Run(reference, spec, initial, dtype) if dtype != "float64" else None
    except Exception as exc:
        raise _CaseFailed(Failure(f"the NumPy reference could not be built: {_exception_text(exc)}"), "error") from exc
    try:
        run = _Run(backend, spec, initial, dtype)
    except Exception as exc:
        raise _CaseFailed(Failure(f"building the optimizer raised {_exception_text(exc)}")) from exc
    first: Failure | None = None
    for step in range(case.steps):
        grads64 = streams.gradients(layout, step, case.seed)
        grads = streams.as_dtype(grads64, dtype)
        try:
            ref64.step(grads64)
            if ref_low is not None:
                ref_low.step(grads)
        except Exception as exc:
            raise _CaseFailed(Failure(f"the NumPy reference raised at step {step}: {_exception_text(exc)}",
                                      step=step), "error") from exc
        try:
            run.step(grads)
        except Exception as exc:
            raise _CaseFailed(Failure(f"step {step} raised {_exception_text(exc)}", step=step)) from exc
        values64 = ref64.read()
        values_same = ref_low.read() if ref_low is not None else values64
        checks = _collect(partial(_compare_params, run, values64, values_same, names, dtype, tolerance, step),
                          f"reading the parameters after step {step}", step)
        first = _fold(checks, metrics, first)
    sd64 = ref64.state()
    sd_same = ref_low.state() if ref_low is not None else sd64
    last = case.steps - 1
    checks = _collect(lambda: _compare_state(run, sd64, sd_same, dtype, tolerance, last, case.steps),
                      "state_dict()", last)
    return _fold(checks, metrics, first)


def run_case(case: CaseInfo, backend: str | Backend, dtype: str, *, xfail: str | None = None) -> CaseResult:
    """Run one case on one backend in one dtype and judge it by the pass rule.

    Args:
        case: the case.
        backend: an installed backend's name, or a :class:`~optbridge.plugin.Backend`
            (a backend under development, not registered yet).
        dtype: ``"float32"`` or ``"float64"``.
        xfail: an expected-failure reason supplied by the caller; without one, the
            case's own ``case.xfails`` entry applies, then the backend's
            ``Backend.expected_failures`` (a third-party backend's list, as data).

    Returns:
        A :class:`CaseResult`; ``status`` is ``"error"`` for a strict XPASS or when the
        NumPy reference itself cannot run the case.

    Raises:
        BackendError: ``backend`` names no installed backend.
    """
    chosen = _resolve(backend)
    started = time.perf_counter()
    versions = _versions(chosen)
    expected = xfail if xfail is not None else case.xfail_reason(chosen.name, dtype)
    if expected is None:
        expected = expected_failure(chosen.expected_failures, case.id, dtype)

    def result(status: str, reason: str = "", metrics: Metrics | None = None,
               failure: Failure | None = None) -> CaseResult:
        return CaseResult(case, chosen.name, dtype, status, reason, metrics, failure, versions,
                          time.perf_counter() - started)

    try:
        spec = from_dict(case.config).to_canonical()
    except Exception as exc:
        return result("error", f"the case's config does not load: {_exception_text(exc)}")
    blocked = _precheck(case, chosen, dtype, spec)
    metrics = Metrics()
    if blocked is not None:
        status, reason = blocked
        failure = Failure(reason) if status == "failed" else None
    else:
        try:
            failure = _execute(case, chosen, dtype, spec, metrics)
            status = "failed" if failure is not None else "passed"
        except _CaseFailed as stop:
            failure, status = stop.failure, stop.status
        reason = failure.message if failure is not None else ""
    compared = metrics if metrics.elements else None
    if status == "error" or status == "skipped":
        return result(status, reason, compared, failure)
    if expected is not None:
        if status == "failed":
            return result("xfailed", f"expected failure: {expected}", compared, failure)
        return result("error", f"XPASS(strict): the case is listed as an expected failure on {chosen.name!r} "
                               f"({expected}) but passed; remove the entry", compared, None)
    return result(status, reason, compared, failure)


def case_matrix(
    backends: Iterable[str | Backend] | None = None,
    cases: Iterable[CaseInfo] | None = None,
    dtypes: Sequence[str] = DTYPES,
) -> list[tuple[Backend, CaseInfo, str]]:
    """Every ``(backend, case, dtype)`` to run, in a fixed order (for pytest parametrization).

    Args:
        backends: backends or names; ``None``: every installed backend.
        cases: cases; ``None``: :data:`~optbridge.conformance.cases.CASES`.
        dtypes: dtypes to run (intersected with each case's own).
    """
    chosen = list(plugin.backends().values()) if backends is None else [_resolve(b) for b in backends]
    selected = CASES if cases is None else tuple(cases)
    return [(b, c, d) for b in chosen for c in selected for d in dtypes if d in c.dtypes]


def run_suite(
    backends: Iterable[str | Backend] | None = None,
    cases: Iterable[CaseInfo] | None = None,
    dtypes: Sequence[str] = DTYPES,
    *,
    xfails: Mapping[str, str] | None = None,
) -> list[CaseResult]:
    """Run cases on backends in dtypes.

    Args:
        backends: backends or names; ``None``: every installed backend.
        cases: cases; ``None``: the whole database.
        dtypes: dtypes to run (intersected with each case's own).
        xfails: ``{case id: reason}`` expected failures supplied by the caller (a
            ``"<case id>:<dtype>"`` key limits one to a dtype), strict like
            ``CaseInfo.xfails``; they take precedence over ``Backend.expected_failures``.
    """
    extra = dict(xfails or {})
    return [run_case(c, b, d, xfail=expected_failure(extra, c.id, d))
            for b, c, d in case_matrix(backends, cases, dtypes)]
