"""The conformance suite on each path of the torch backend.

The registered ``"torch"`` backend (path ``auto``) runs every case in
``tests/test_conformance.py``. Here the other paths run too: the reference and flat
paths on every case in both dtypes, the compiled path (which compiles each case's bucket
layouts) on the first case of each optimizer in float32. The full compiled run is
``optbridge.conformance.run_suite([backend("compiled")])``.
"""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from optbridge.backends.torch import backend  # noqa: E402
from optbridge.conformance import run_case  # noqa: E402
from optbridge.conformance.cases import CASES  # noqa: E402

FIRST_PER_OPTIMIZER = list({c.config["optimizer"]: c for c in reversed(CASES)}.values())

MATRIX = (
    [("reference", False, c, d) for c in CASES for d in c.dtypes]
    + [("auto", True, c, d) for c in CASES for d in c.dtypes]
    + [("compiled", False, c, "float32") for c in FIRST_PER_OPTIMIZER if "float32" in c.dtypes]
)
BACKENDS = {(p, f): backend(p, f) for p, f in {(p, f) for p, f, _, _ in MATRIX}}


@pytest.mark.parametrize("path,flat,case,dtype", MATRIX,
                         ids=[f"{p}{'-flat' if f else ''}-{d}-{c.id}" for p, f, c, d in MATRIX])
def test_case_passes_on_path(path, flat, case, dtype):
    result = run_case(case, BACKENDS[(path, flat)], dtype)
    assert result.ok, result.describe()
