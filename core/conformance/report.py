"""Conformance tables: one row per backend and dtype, then the failures with reproducers.

Columns (DESIGN.md section 7): cases run, passed / failed / expected failures / skipped
/ errors, the largest (per-tensor, normwise) relative deviation from the NumPy float64
run, the largest deviation from the NumPy run of the same dtype in ulps at the tensor's
magnitude, and the share of elements bitwise equal to that run (the aim on CPU is all of
them). See :mod:`optbridge.conformance.compare` for the definitions.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .compare import Metrics
from .runner import CaseResult

__all__ = ["Row", "summarize", "format_table", "format_failures", "format_report", "any_failed",
           "compact_json"]

_COLUMNS = ("backend", "dtype", "cases", "passed", "failed", "xfailed", "skipped", "errors",
            "max rel dev", "max ulps", "bitwise equal")
_LEGEND = ("max rel dev: vs NumPy float64, max|x-ref|/max|ref| per tensor; max ulps, bitwise equal: vs NumPy "
           "in the same dtype (ulps at each tensor's magnitude)")


@dataclass
class Row:
    """Totals of one backend in one dtype."""

    backend: str
    dtype: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("passed", "failed", "xfailed", "skipped", "error"), 0))
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def cases(self) -> int:
        return sum(self.counts.values())


def summarize(results: Iterable[CaseResult]) -> list[Row]:
    """One :class:`Row` per ``(backend, dtype)``, in order of first appearance."""
    rows: dict[tuple[str, str], Row] = {}
    for r in results:
        row = rows.setdefault((r.backend, r.dtype), Row(r.backend, r.dtype))
        row.counts[r.status] += 1
        if r.metrics is not None:
            row.metrics.merge(r.metrics)
    return list(rows.values())


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if value == float("inf"):
        return "inf"
    return f"{value:.3g}" if value < 1e4 else f"{value:.3e}"


def _cells(row: Row) -> list[str]:
    m = row.metrics
    compared = m.elements > 0
    # A row with nothing compared because its runs errored says so where the numbers would be.
    none = "ERROR" if row.counts["error"] else "-"
    return [
        row.backend,
        row.dtype,
        str(row.cases),
        str(row.counts["passed"]),
        str(row.counts["failed"]),
        str(row.counts["xfailed"]),
        str(row.counts["skipped"]),
        str(row.counts["error"]),
        _number(m.max_rel_dev) if compared else none,
        _number(m.max_ulps) if compared else none,
        f"{100 * m.bitwise_share:.2f}%" if compared else none,
    ]


def format_table(results: Iterable[CaseResult]) -> str:
    """The summary table (text, fixed-width columns, with a one-line legend).

    A row whose runs all errored shows ``ERROR`` in its deviation columns; when any run
    failed or errored, a last line ``NOT CONFORMING: ...`` counts them.
    """
    results = list(results)
    body = [_cells(row) for row in summarize(results)]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(_COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(_COLUMNS), line(["-" * w for w in widths])]
    out += [line(cells) for cells in body]
    out.append(_LEGEND)
    verdict = _verdict(results)
    if verdict:
        out.append(verdict)
    return "\n".join(out)


def _verdict(results: Sequence[CaseResult]) -> str:
    """``""`` when every run is acceptable, else a line counting failures and errors."""
    failed = sum(r.status == "failed" for r in results)
    errors = sum(r.status == "error" for r in results)
    if not failed and not errors:
        return ""
    parts = [f"{errors} run{'s' * (errors != 1)} ERRORED"] if errors else []
    parts += [f"{failed} run{'s' * (failed != 1)} FAILED"] if failed else []
    return f"NOT CONFORMING: {' and '.join(parts)} of {len(results)} (see Failures below)"


def compact_json(value: Any, indent: str = "") -> str:
    """JSON for a terminal: nested tables indented, a list of numbers or strings on one line.

    A mapping or list whose items are all scalars is written on one line (``[0.1, 0.1,
    0.01]``, ``{"layout": "tiny", "steps": 5}``) if it fits in 100 characters (a list of
    scalars always does, however long); anything else gets one item per line, indented by
    two spaces per level. The text parses back to ``value`` with :func:`json.loads`.
    """
    def scalar(v: Any) -> bool:
        return not isinstance(v, (Mapping, list, tuple))

    if scalar(value):
        return json.dumps(value, default=str)
    inner = indent + "  "
    if isinstance(value, Mapping):
        items = [f"{json.dumps(str(k))}: {compact_json(v, inner)}" for k, v in value.items()]
        flat = "{" + ", ".join(items) + "}"
        if not items or (all(scalar(v) for v in value.values()) and len(flat) <= 100):
            return flat
        return "{\n" + ",\n".join(inner + i for i in items) + "\n" + indent + "}"
    items = [compact_json(v, inner) for v in value]
    if not items or all(scalar(v) for v in value):
        return "[" + ", ".join(items) + "]"
    return "[\n" + ",\n".join(inner + i for i in items) + "\n" + indent + "]"


def _run_lines(r: CaseResult) -> list[str]:
    lines = [f"{r.status.upper()}: {r.case.id} on {r.backend} ({r.dtype})"]
    if r.reason:
        lines.append(f"  {r.reason}")
    if r.failure is not None and r.failure.message != r.reason:
        lines.append(f"  {r.failure.message}")
    repro = {k: v for k, v in r.reproducer().items() if k not in ("case", "config")}
    # The message is the line above; the rest of the first failure only where it is known.
    first = {k: v for k, v in (repro.pop("first_failure") or {}).items() if k != "message" and v not in (None, "")}
    if first:
        repro = {"first_failure": first, **repro}
    lines.append("  reproducer: " + compact_json(repro, "  "))
    return lines


def format_failures(results: Iterable[CaseResult], *, include_xfailed: bool = False) -> str:
    """One block per case that failed or errored (or failed as expected, if asked).

    The block lists each such run (status, backend, dtype, reason, first failure and its
    reproducer: versions and command), then the case's config once, as the
    ``config.json`` the commands read, in :func:`compact_json` form.
    """
    wanted = ("failed", "error", "xfailed") if include_xfailed else ("failed", "error")
    by_case: dict[int, list[CaseResult]] = {}
    for r in results:
        if r.status in wanted:
            by_case.setdefault(id(r.case), []).append(r)
    blocks = []
    for runs in by_case.values():
        lines = [line for r in runs for line in _run_lines(r)]
        lines.append(f"  config.json of {runs[0].case.id}:")
        lines.append("    " + compact_json(runs[0].case.to_config(), "    "))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def format_report(results: Sequence[CaseResult]) -> str:
    """Table, then the failures section and the skip reasons, if any."""
    parts = [format_table(results)]
    failures = format_failures(results)
    if failures:
        parts.append("Failures:\n\n" + failures)
    skipped = sorted({f"  {r.backend} ({r.dtype}): {r.reason}" for r in results if r.status == "skipped"})
    if skipped:
        parts.append("Skipped:\n" + "\n".join(skipped))
    return "\n\n".join(parts)


def any_failed(results: Iterable[CaseResult]) -> bool:
    """Whether any result is a failure or an error (strict XPASS included)."""
    return any(not r.ok for r in results)
