"""The conformance catalog: per dialect family, what the case database varies and which
bad inputs each class must refuse.

Adding a dialect class means adding its :class:`~.base.DialectCases` entry and its
``construct`` records to its family's module; :mod:`optbridge.conformance.cases` and
:mod:`optbridge.conformance.error_inputs` pick them up from here, and meta-tests fail
for a registered class that has none.
"""
from __future__ import annotations

from . import keras, mindspore, torch
from .base import DialectCases, ErrorInput

__all__ = ["DIALECT_CASES", "CONSTRUCT_ERRORS", "FAMILIES"]

#: The catalog modules, one per dialect family.
FAMILIES = (mindspore, torch, keras)

#: ``{dialect qualname: DialectCases}`` over every family.
DIALECT_CASES: dict[str, DialectCases] = {q: e for family in FAMILIES for q, e in family.DIALECT_CASES.items()}

#: Every family's ``construct`` records.
CONSTRUCT_ERRORS: tuple[ErrorInput, ...] = tuple(r for family in FAMILIES for r in family.CONSTRUCT_ERRORS)
