"""The dialect-difference page is generated from the specs (of the conformance catalog's default
constructions) and kept current."""
from __future__ import annotations

from pathlib import Path

from optbridge.algorithms.base import algorithm_registry
from optbridge.dialects.base import dialect_registry
from optbridge.conformance.dialect_table import dialect_properties, dialect_table_markdown

PAGE = Path(__file__).resolve().parents[1] / "docs" / "dialect-differences.md"


def test_committed_page_is_the_generated_one():
    assert PAGE.read_text(encoding="utf-8") == dialect_table_markdown(), (
        "regenerate: python -m optbridge.conformance.dialect_table docs/dialect-differences.md"
    )


#: dialect classes that compose several algorithms (a different one per group), so no one
#: algorithm's table has their row
COMPOSITIONS = {"keras.optimizers.MultiOptimizer", "keras.optimizers.LossScaleOptimizer"}


def test_every_dialect_class_appears_under_its_canonical_algorithm():
    table = dialect_properties()
    assert {q for rows in table.values() for q in rows} == set(dialect_registry) - COMPOSITIONS
    assert set(table) <= set(algorithm_registry)


def test_known_differences_are_columns():
    table = dialect_properties()
    adam = table["adam"]
    assert adam["mindspore.nn.Adam"]["eps_placement"] != adam["torch.optim.Adam"]["eps_placement"]
    adagrad = table["adagrad"]
    assert adagrad["mindspore.nn.Adagrad"]["slot sum init"] == "0.1"
    assert adagrad["torch.optim.Adagrad"]["slot sum init"] == "0.0"
    page = dialect_table_markdown()
    assert "## `adam`" in page and "eps_placement" in page.split("## `adam`")[1].split("## ")[0]
