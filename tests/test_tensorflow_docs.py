"""The ``py`` blocks of docs/backends-tensorflow.md run (in order, one namespace) with TensorFlow.

The page fences its examples as ``py`` rather than ``python`` so that the numpy-only test
environments (``tests/test_docs.py`` runs every ``python`` block) do not need TensorFlow.
"""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")

PAGE = Path(__file__).resolve().parents[1] / "docs" / "backends-tensorflow.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\n(?:\nprints\n\n```text\n(.*?)^```\n)?", re.M | re.S)


def test_page_examples_run():
    blocks = [(m.group(2), m.group(3)) for m in BLOCK.finditer(PAGE.read_text(encoding="utf-8"))
              if m.group(1) == "py"]
    assert len(blocks) >= 3
    namespace: dict = {"__name__": "docs_backends_tensorflow"}
    for index, (source, expected) in enumerate(blocks, start=1):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(source, f"backends-tensorflow.md:py-block{index}", "exec"), namespace)
        if expected is not None:
            assert output.getvalue() == expected, f"block {index} printed something else"
