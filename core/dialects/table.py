"""The dialect-difference tables, generated from the specs.

For every registered dialect class the class is built with its defaults and lowered to
its canonical spec. How to build a class with its defaults is passed in
(``build_default(qualname) -> dialect optimizer``): the representative hyperparameter sets
live in the conformance catalog, which builds on this layer, not under it;
:mod:`optbridge.conformance.dialect_table` passes them and writes
``docs/dialect-differences.md``.

Classes are grouped by canonical algorithm name; each algorithm's table has one row per
dialect class and one column per property whose value differs between them: the
algorithm's hyperparameters and flags (epsilon placement, Nesterov form, bias
correction / power form, weight-decay form, ...), the initial value of every state slot,
whether weight decay is coupled (``g + wd·p`` before the update) or applied by the
kernel, the MindSpore beta/gamma decay filter, and the host-scalar precision.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from .base import DialectOptimizer, dialect_registry

__all__ = ["dialect_properties", "dialect_table_markdown", "main"]

#: ``build_default(qualname)``: the registered dialect class ``qualname`` built with its defaults
DefaultBuilder = Callable[[str], DialectOptimizer]


def _format(value: Any) -> str:
    if hasattr(value, "name") and hasattr(value, "hyperparameters"):
        return f"{value.name}"
    return repr(value)


def dialect_properties(build_default: DefaultBuilder) -> dict[str, dict[str, dict[str, str]]]:
    """``{algorithm: {dialect qualname: {property: value}}}`` for every registered class.

    Args:
        build_default: builds the class named ``qualname`` with its defaults.
    """
    table: dict[str, dict[str, dict[str, str]]] = {}
    for qualname in sorted(dialect_registry):
        spec = build_default(qualname).to_canonical()
        algorithm = spec.algorithm
        props = {name: _format(value) for name, value in algorithm.hyperparameters().items()}
        for slot in algorithm.slots():
            props[f"slot {slot.name} init"] = repr(slot.init)
        props["weight decay applied"] = "kernel" if algorithm.weight_decay_applied_by == "rule" else "coupled g+wd·p"
        props["beta/gamma decay filter"] = repr(spec.decay_filter == "mindspore")
        props["host precision"] = spec.precision
        props["pre-processing"] = ", ".join(spec.preprocess) or "none"
        table.setdefault(algorithm.name, {})[qualname] = props
    return table


def dialect_table_markdown(build_default: DefaultBuilder, preamble: Sequence[str] = ()) -> str:
    """The Markdown page: ``preamble`` (lines), then one table per canonical algorithm,
    differing properties only.

    Args:
        build_default: builds the class named ``qualname`` with its defaults.
        preamble: the page's opening lines (title, how it was generated).
    """
    lines = list(preamble)
    for algorithm, rows in sorted(dialect_properties(build_default).items()):
        names = list(rows)
        keys: list[str] = []
        for props in rows.values():
            keys += [k for k in props if k not in keys]
        if len(names) > 1:
            keys = [k for k in keys if len({rows[n].get(k, "—") for n in names}) > 1]
        lines.append(f"## `{algorithm}`")
        lines.append("")
        if not keys:
            lines.append(f"{', '.join(f'`{n}`' for n in names)}: identical canonical form.")
            lines.append("")
            continue
        lines.append("| dialect class | " + " | ".join(keys) + " |")
        lines.append("|---" * (len(keys) + 1) + "|")
        for n in names:
            cells = [rows[n].get(k, "—").replace("|", "\\|") for k in keys]
            lines.append(f"| `{n}` | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None, build_default: DefaultBuilder, preamble: Sequence[str] = ()) -> int:
    """Write the page to the path given in ``argv`` (stdout without one)."""
    argv = sys.argv[1:] if argv is None else argv
    text = dialect_table_markdown(build_default, preamble)
    if argv:
        with open(argv[0], "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit("write the page with: python -m optbridge.conformance.dialect_table docs/dialect-differences.md "
                     "(it passes the conformance catalog's default constructions)")
