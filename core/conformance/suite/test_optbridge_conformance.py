"""optbridge's conformance suite for any installed backend, shipped in the wheel.

Run it with::

    pytest --pyargs optbridge.conformance --optbridge-backend NAME

Options (added by :mod:`optbridge.conformance.pytest_plugin`): ``--optbridge-backend``
(repeatable; default every installed backend), ``--optbridge-dtype``,
``--optbridge-xfails FILE``. Every case of the database runs in each dtype and is
compared with the NumPy reference (:func:`optbridge.conformance.run_case`); the ids read
``test_trajectory[jax-mindspore.Momentum-nesterov-groups_guide-lr_schedule-wd_const-float32]``.
"""
from __future__ import annotations

from optbridge.conformance.pytest_plugin import check_expected_failures, conformance_cases, read_xfails_file


def _options(config):
    backends = config.getoption("optbridge_backends", None)
    dtypes = tuple(config.getoption("optbridge_dtypes", None) or ("float32", "float64"))
    path = config.getoption("optbridge_xfails", None)
    return backends, dtypes, (read_xfails_file(path) if path else {})


def pytest_generate_tests(metafunc):
    backends, dtypes, xfails = _options(metafunc.config)
    if "conformance_case" in metafunc.fixturenames:
        params = conformance_cases(backends, xfails=xfails, dtypes=dtypes)
        metafunc.parametrize("conformance_case", params, ids=[p.id for p in params])
    if "backend_name" in metafunc.fixturenames:
        from optbridge import plugin

        names = list(backends) if backends else sorted(plugin.backends())
        metafunc.parametrize("backend_name", names)


def test_trajectory(conformance_case):
    """The backend's parameters after every step and its state after the last match the reference."""
    conformance_case.check()


def test_expected_failures_name_cases(backend_name, request):
    """Every expected failure listed for the backend names a case of the database."""
    _, _, xfails = _options(request.config)
    check_expected_failures(backend_name, xfails)
