"""The dialect-difference table, generated from the specs (``docs/dialect-differences.md``).

For every registered dialect class the class is built with its defaults (the first
hyperparameter set of its conformance catalog entry) and lowered to its canonical spec.
Classes are grouped by canonical algorithm name; each algorithm's table has one row per
dialect class and one column per property whose value differs between them: the
algorithm's hyperparameters and flags (epsilon placement, Nesterov form, bias
correction / power form, weight-decay form, ...), the initial value of every state slot,
whether weight decay is coupled (``g + wd·p`` before the update) or applied by the
kernel, the MindSpore beta/gamma decay filter, and the host-scalar precision.

Regenerate the page with ``python -m optbridge.dialects.table docs/dialect-differences.md``;
``tests/test_dialect_table.py`` fails when the committed page is stale.
"""
from __future__ import annotations

import sys
from typing import Any

__all__ = ["dialect_properties", "dialect_table_markdown", "main"]


def _default_spec(qualname: str) -> Any:
    from ..conformance.catalog import DIALECT_CASES
    from .base import dialect_registry

    cls = dialect_registry[qualname]
    entry = DIALECT_CASES[qualname]
    arguments = {entry.lr_keyword: entry.lr, "weight_decay": 0.0}
    hyper = dict(entry.hyperparameters[0][1])
    if entry.construct is not None:
        return entry.construct(None, arguments, hyper)
    return cls(None, **arguments, **hyper)


def _format(value: Any) -> str:
    if hasattr(value, "name") and hasattr(value, "hyperparameters"):
        return f"{value.name}"
    return repr(value)


def dialect_properties() -> dict[str, dict[str, dict[str, str]]]:
    """``{algorithm: {dialect qualname: {property: value}}}`` for every registered class."""
    from .base import dialect_registry

    table: dict[str, dict[str, dict[str, str]]] = {}
    for qualname in sorted(dialect_registry):
        spec = _default_spec(qualname).to_canonical()
        algorithm = spec.algorithm
        props = {name: _format(value) for name, value in algorithm.hyperparameters().items()}
        for slot in algorithm.slots():
            props[f"slot {slot.name} init"] = repr(slot.init)
        props["weight decay applied"] = "kernel" if algorithm.weight_decay_mode == "kernel" else "coupled g+wd·p"
        props["beta/gamma decay filter"] = repr(spec.decay_filter == "mindspore")
        props["host precision"] = spec.precision
        props["pre-processing"] = ", ".join(spec.preprocess) or "none"
        table.setdefault(algorithm.name, {})[qualname] = props
    return table


def dialect_table_markdown() -> str:
    """The Markdown page: one table per canonical algorithm, differing properties only."""
    lines = [
        "# How the dialects differ, per canonical algorithm",
        "",
        "Generated from the specs by `python -m optbridge.dialects.table "
        "docs/dialect-differences.md`; do not edit by hand. Each dialect class is built with",
        "its defaults and lowered to its canonical spec; a column appears when the classes",
        "lowering to the same algorithm disagree on it. An algorithm reached by one class only",
        "lists that class's full canonical form. Properties: the algorithm's hyperparameters",
        "and flags (see each `optbridge.algorithms.<name>` docstring for the op order they",
        "select), initial slot values, weight-decay coupling, the MindSpore beta/gamma decay",
        "filter, host-scalar precision and the gradient pre-processing steps.",
        "",
        "The same data, programmatically:",
        "",
        "```python",
        "from optbridge.dialects.table import dialect_properties",
        "",
        "adam = dialect_properties()[\"adam\"]",
        "assert adam[\"mindspore.nn.Adam\"][\"eps_placement\"] == \"'hat'\"      # epsilon-hat (DIALECTS.md D1)",
        "assert adam[\"torch.optim.Adam\"][\"eps_placement\"] == \"'paper'\"",
        "```",
        "",
    ]
    for algorithm, rows in sorted(dialect_properties().items()):
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


def main(argv: list[str] | None = None) -> int:
    """Write the page to the path given (stdout without one)."""
    argv = sys.argv[1:] if argv is None else argv
    text = dialect_table_markdown()
    if argv:
        with open(argv[0], "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
