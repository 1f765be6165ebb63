"""The conformance suite for pytest, shipped in the wheel (DESIGN.md section 7).

Two ways to run the suite on a backend:

* the shipped test module, from any directory::

      pytest --pyargs optbridge.conformance --optbridge-backend jax

  (``--optbridge-backend`` repeatable, default: every installed backend;
  ``--optbridge-dtype float32`` to limit dtypes; ``--optbridge-xfails FILE`` for a JSON
  ``{case id: reason}`` of expected failures besides the backend's own
  ``Backend.expected_failures``);

* a backend's own test file::

      from optbridge.conformance.pytest_plugin import parametrize_with_cases

      @parametrize_with_cases(backend="jax")
      def test_trajectory(conformance_case):
          conformance_case.check()

Test ids read ``test_trajectory[jax-mindspore.Momentum-nesterov-groups_guide-lr_schedule-wd_const-float32]``
(backend, case id, dtype), so ``-k "jax and Momentum and float32"`` works. A failing
case fails with the case's reproducer: the config as JSON with its ``conform`` table, the
step, parameter and slot at fault, the deviation and its limit, and the versions of the
backend's framework, NumPy, optbridge and Python; the session ends with the conformance
table of every case run. Expected failures are strict: a listed
case that passes fails as ``XPASS(strict)``, and an entry naming no case fails
``test_expected_failures_name_cases``.

The command-line options and the collection of the shipped module come from
:mod:`optbridge.pytest_hooks`, registered through the ``pytest11`` entry point
``optbridge``; this module holds what a test file imports.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .cases import CaseInfo
    from .runner import CaseResult

__all__ = ["ConformanceCase", "conformance_cases", "parametrize_with_cases", "check_expected_failures",
           "read_xfails_file"]

_DTYPES = ("float32", "float64")

#: Every result :meth:`ConformanceCase.check` produced in this process, for the table
#: :mod:`optbridge.pytest_hooks` prints at the end of the session.
RESULTS: list[CaseResult] = []


@dataclass(frozen=True)
class ConformanceCase:
    """One ``(backend, case, dtype)`` of the suite, as a pytest parameter.

    Attributes:
        backend: backend name.
        case: the :class:`~optbridge.conformance.cases.CaseInfo`.
        dtype: ``"float32"`` or ``"float64"``.
        xfail: an expected-failure reason given by the caller (``None``: the case's and
            the backend's own lists apply).
    """

    backend: str
    case: CaseInfo
    dtype: str
    xfail: str | None = None

    @property
    def id(self) -> str:
        """``backend-case id-dtype``: the pytest id."""
        return f"{self.backend}-{self.case.id}-{self.dtype}"

    def run(self) -> CaseResult:
        """Run the case (no pytest outcome)."""
        from .runner import run_case

        return run_case(self.case, self.backend, self.dtype, xfail=self.xfail)

    def check(self) -> CaseResult:
        """Run the case and turn its status into the pytest outcome.

        ``passed`` returns the result; ``skipped`` skips and ``xfailed`` xfails with the
        reason; ``failed`` and ``error`` (a strict XPASS included) fail with the
        reproducer (:meth:`CaseResult.describe`).
        """
        result = self.run()
        RESULTS.append(result)
        if result.status == "skipped":
            pytest.skip(result.reason)
        if result.status == "xfailed":
            pytest.xfail(result.reason)
        if result.status != "passed":
            pytest.fail(result.describe(), pytrace=False)
        return result


def read_xfails_file(path: str | Path) -> dict[str, str]:
    """``{case id: reason}`` from a JSON file: either that mapping or ``{"xfails": mapping, ...}``.

    Raises:
        ValueError: the file is not such a JSON object of strings.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, Mapping) and "xfails" in data:
        data = data["xfails"]
    if not isinstance(data, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{path}: expected a JSON object {{case id: reason}} (or {{\"xfails\": {{...}}}})")
    return dict(data)


def conformance_cases(
    backends: Iterable[str] | None = None,
    *,
    xfails: Mapping[str, str] | None = None,
    cases: Iterable[CaseInfo] | None = None,
    dtypes: Sequence[str] = _DTYPES,
) -> list[ConformanceCase]:
    """Every ``(backend, case, dtype)`` as :class:`ConformanceCase`, in the suite's fixed order.

    Args:
        backends: backend names; ``None``: every installed backend.
        xfails: expected failures ``{case id or "case id:dtype": reason}`` besides the
            backend's own ``Backend.expected_failures`` (these take precedence).
        cases: cases; ``None``: the shipped database.
        dtypes: dtypes to run.

    Raises:
        BackendError: a named backend is not installed (the message lists the installed
            ones and the broken plugins).
    """
    from .runner import case_matrix, expected_failure

    extra = dict(xfails or {})
    names = None if backends is None else list(backends)
    return [ConformanceCase(b.name, c, d, expected_failure(extra, c.id, d))
            for b, c, d in case_matrix(names, cases, dtypes)]


def parametrize_with_cases(
    backend: str | Sequence[str],
    *,
    xfails: Mapping[str, str] | None = None,
    cases: Iterable[CaseInfo] | None = None,
    dtypes: Sequence[str] = _DTYPES,
    argname: str = "conformance_case",
) -> pytest.MarkDecorator:
    """A ``pytest.mark.parametrize`` over the suite for a backend's own test file.

    The test receives a :class:`ConformanceCase` (argument ``argname``) and calls its
    :meth:`~ConformanceCase.check`. Ids read ``jax-mindspore.Momentum-...-float32``.

    Args:
        backend: a backend name, or several.
        xfails, cases, dtypes: as :func:`conformance_cases`.
        argname: the test function's argument name.
    """
    names = [backend] if isinstance(backend, str) else list(backend)
    params = conformance_cases(names, xfails=xfails, cases=cases, dtypes=dtypes)
    return pytest.mark.parametrize(argname, params, ids=[p.id for p in params])


def check_expected_failures(backend: str, xfails: Mapping[str, str] | None = None) -> None:
    """Fail when the backend's expected failures (or ``xfails``) name no case of the database.

    Strictness for the list itself: an entry for a renamed or removed case would
    otherwise never be used.
    """
    from .. import plugin
    from .runner import stale_expected_failures

    listed = dict(plugin.get_backend(backend).expected_failures)
    listed.update(xfails or {})
    stale = stale_expected_failures(listed)
    if stale:
        pytest.fail(f"expected failures of {backend!r} name no case of the database: {stale}", pytrace=False)
