"""The conformance suite, shipped for every backend (DESIGN.md section 7).

::

    from optbridge.conformance import CASES, run_suite, format_table
    results = run_suite(backends=["numpy"])        # every case, float32 and float64
    print(format_table(results))

A third-party backend runs the same suite from its own tests, with its expected
failures as data::

    @pytest.mark.parametrize("backend,case,dtype", case_matrix(["mybackend"]))
    def test_conformance(backend, case, dtype):
        result = run_case(case, backend, dtype, xfail=MY_XFAILS.get(case.id))
        assert result.ok, result.describe()
"""
from __future__ import annotations

from .cases import CASES, DTYPES, GUIDE_EXAMPLE, CaseInfo, case_from_config, read_config_file, uncovered_dialects
from .compare import Metrics, TensorCheck
from .error_inputs import ERROR_INPUTS, ErrorInput, ErrorInputMismatch, check_error_input
from .layouts import LAYOUTS, get_layout
from .report import format_failures, format_report, format_table
from .runner import CaseResult, Failure, case_matrix, run_case, run_suite
from .tolerances import DEFAULT, TOLERANCES, Tolerance, tolerance_for

__all__ = [
    "CaseInfo",
    "CASES",
    "DTYPES",
    "GUIDE_EXAMPLE",
    "case_from_config",
    "read_config_file",
    "uncovered_dialects",
    "CaseResult",
    "Failure",
    "Metrics",
    "TensorCheck",
    "run_case",
    "run_suite",
    "case_matrix",
    "format_table",
    "format_failures",
    "format_report",
    "Tolerance",
    "DEFAULT",
    "TOLERANCES",
    "tolerance_for",
    "ErrorInput",
    "ERROR_INPUTS",
    "ErrorInputMismatch",
    "check_error_input",
    "LAYOUTS",
    "get_layout",
]
