"""Conformance tables: one row per backend and dtype, then the failures with reproducers.

Columns (DESIGN.md section 7): cases run, passed / failed / expected failures / skipped
/ errors, the largest (per-tensor, normwise) relative deviation from the NumPy float64
run, the largest deviation from the NumPy run of the same dtype in ulps at the tensor's
magnitude, and the share of elements bitwise equal to that run (the aim on CPU is all of
them). See :mod:`optbridge.conformance.compare` for the definitions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .compare import Metrics
from .runner import CaseResult

__all__ = ["Row", "summarize", "format_table", "format_failures", "format_report", "any_failed"]

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
    return [
        row.backend,
        row.dtype,
        str(row.cases),
        str(row.counts["passed"]),
        str(row.counts["failed"]),
        str(row.counts["xfailed"]),
        str(row.counts["skipped"]),
        str(row.counts["error"]),
        _number(m.max_rel_dev) if compared else "-",
        _number(m.max_ulps) if compared else "-",
        f"{100 * m.bitwise_share:.2f}%" if compared else "-",
    ]


def format_table(results: Iterable[CaseResult]) -> str:
    """The summary table (text, fixed-width columns, with a one-line legend)."""
    body = [_cells(row) for row in summarize(results)]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(_COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(_COLUMNS), line(["-" * w for w in widths])]
    out += [line(cells) for cells in body]
    out.append(_LEGEND)
    return "\n".join(out)


def format_failures(results: Iterable[CaseResult], *, include_xfailed: bool = False) -> str:
    """One block per failed or erroring case (and expected failure, if asked), with reproducer."""
    wanted = ("failed", "error", "xfailed") if include_xfailed else ("failed", "error")
    blocks = [r.describe() for r in results if r.status in wanted]
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
