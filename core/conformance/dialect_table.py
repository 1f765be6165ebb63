"""The dialect-difference page, ``docs/dialect-differences.md``, of the catalog's classes.

Each registered dialect class is built with its defaults, the first hyperparameter set of
its conformance catalog entry (:func:`default_optimizer`), and the tables of
:mod:`optbridge.dialects.table` are drawn from the specs it lowers to.

Regenerate the page with ``python -m optbridge.conformance.dialect_table docs/dialect-differences.md``;
``tests/test_dialect_table.py`` fails when the committed page is stale.
"""
from __future__ import annotations

from ..dialects import table
from ..dialects.base import DialectOptimizer, dialect_registry
from .catalog import DIALECT_CASES

__all__ = ["default_optimizer", "dialect_properties", "dialect_table_markdown", "main"]

#: the page's opening lines
PREAMBLE: tuple[str, ...] = (
    "# How the dialects differ, per canonical algorithm",
    "",
    "Generated from the specs by `python -m optbridge.conformance.dialect_table "
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
    "from optbridge.conformance.dialect_table import dialect_properties",
    "",
    "adam = dialect_properties()[\"adam\"]",
    "assert adam[\"mindspore.nn.Adam\"][\"eps_placement\"] == \"'hat'\"      # epsilon-hat (DIALECTS.md D1)",
    "assert adam[\"torch.optim.Adam\"][\"eps_placement\"] == \"'paper'\"",
    "```",
    "",
)


def default_optimizer(qualname: str) -> DialectOptimizer:
    """The dialect class ``qualname`` built with its catalog entry's first (default)
    hyperparameter set, the entry's learning rate and no weight decay."""
    entry = DIALECT_CASES[qualname]
    arguments = {entry.lr_keyword: entry.lr, "weight_decay": 0.0}
    hyper = dict(entry.hyperparameters[0][1])
    if entry.construct is not None:
        return entry.construct(None, arguments, hyper)
    return dialect_registry[qualname](None, **arguments, **hyper)


def dialect_properties() -> dict[str, dict[str, dict[str, str]]]:
    """``{algorithm: {dialect qualname: {property: value}}}`` for every registered class
    (see :func:`optbridge.dialects.table.dialect_properties`)."""
    return table.dialect_properties(default_optimizer)


def dialect_table_markdown() -> str:
    """The page: one table per canonical algorithm, differing properties only."""
    return table.dialect_table_markdown(default_optimizer, PREAMBLE)


def main(argv: list[str] | None = None) -> int:
    """Write the page to the path given (stdout without one)."""
    return table.main(argv, default_optimizer, PREAMBLE)


if __name__ == "__main__":
    raise SystemExit(main())
