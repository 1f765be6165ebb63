"""pytest hooks of optbridge: the options and collection of the shipped conformance suite.

Registered through the ``pytest11`` entry point ``optbridge`` (``pyproject.toml``), so
pytest loads it wherever optbridge is installed. It therefore stays light and cannot
break a test session that does not use it: importing it imports neither the case
database nor a framework. It adds

* ``--optbridge-backend NAME`` (repeatable; default every installed backend),
  ``--optbridge-dtype float32|float64`` and ``--optbridge-xfails FILE`` (a JSON
  ``{case id: reason}``), read by the shipped module
  ``optbridge/conformance/suite/test_optbridge_conformance.py`` that
  ``pytest --pyargs optbridge.conformance`` runs;
* collection of that module whatever the project's ``python_files`` setting, and the
  conformance table of the cases run at the end of the session;
* collection of optbridge's own package directories as plain directories (pytest >= 8),
  so that pytest imports neither them nor optbridge a second time under another name
  (which an editable install with a ``package-dir`` mapping would otherwise cause). The
  shipped module lives in ``suite/``, a directory without ``__init__.py``, for the same
  reason.

What a backend's own test file imports (``parametrize_with_cases``) is in
:mod:`optbridge.conformance.pytest_plugin`.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

__all__ = ["SUITE_MODULE", "pytest_addoption", "pytest_collect_file", "pytest_terminal_summary"]

_CONFORMANCE = Path(__file__).resolve().parent / "conformance"
#: The shipped test module ``pytest --pyargs optbridge.conformance`` collects.
SUITE_MODULE = _CONFORMANCE / "suite" / "test_optbridge_conformance.py"
_DTYPES = ("float32", "float64")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("optbridge", "optbridge conformance suite (pytest --pyargs optbridge.conformance)")
    group.addoption("--optbridge-backend", action="append", dest="optbridge_backends", metavar="NAME",
                    help="backend to run the shipped suite on (repeatable; default: every installed backend)")
    group.addoption("--optbridge-dtype", action="append", dest="optbridge_dtypes", choices=_DTYPES,
                    help="dtype to run (repeatable; default: float32 and float64)")
    group.addoption("--optbridge-xfails", dest="optbridge_xfails", metavar="FILE",
                    help="JSON {case id: reason} of expected failures besides the backend's own")


def _is_optbridge_package(path: Path) -> bool:
    """Whether ``path`` is ``optbridge/conformance`` or ``optbridge`` itself (a package directory)."""
    try:
        return path.resolve() in (_CONFORMANCE, _CONFORMANCE.parent) and (path / "__init__.py").is_file()
    except OSError:
        return False


if hasattr(pytest, "Dir"):  # pytest >= 8 has a plain directory collector

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if _is_optbridge_package(path):
            return pytest.Dir.from_parent(parent, path=path)
        return None


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The conformance table of the cases this session ran, if it ran any."""
    import sys

    helpers = sys.modules.get("optbridge.conformance.pytest_plugin")
    if helpers is None or not helpers.RESULTS:
        return
    from optbridge.conformance.report import format_table

    terminalreporter.write_sep("=", "optbridge conformance")
    terminalreporter.write_line(format_table(helpers.RESULTS))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """Collect the shipped module where ``python_files`` would not match its name."""
    if file_path.name != SUITE_MODULE.name or file_path.resolve() != SUITE_MODULE:
        return None
    patterns = parent.config.getini("python_files")
    if parent.session.isinitpath(file_path) or any(fnmatch.fnmatch(file_path.name, p) for p in patterns):
        return None
    return pytest.Module.from_parent(parent, path=file_path)
