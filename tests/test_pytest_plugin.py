"""The conformance suite shipped as a pytest plugin, run from outside like a stranger would.

Each test starts a fresh ``pytest`` in a subprocess, from an empty directory, with a
throw-away backend installed the way ``pip install`` leaves a plugin (modules plus a
``dist-info`` with ``entry_points.txt`` on ``PYTHONPATH``). The backend ``skewed`` is the
NumPy backend with a deliberately wrong ``sgd`` kernel (learning rate × 1.01), so the
suite must catch it; its expected failures are data, and strict.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

MOMENTUM = "mindspore.Momentum-default-groups_none-lr_const-wd_off"
NESTEROV = "mindspore.Momentum-nesterov-groups_none-lr_const-wd_off"
ADAM = "mindspore.Adam-default-groups_none-lr_const-wd_off"

SKEWED = textwrap.dedent('''
    """A NumPy-based backend whose sgd kernel uses 1.01 x the learning rate."""
    import json, os
    import numpy as np
    from optbridge.plugin import Backend, hookimpl
    from optbridge.backends.numpy import NumpyOptimizer, ops

    def skewed_sgd(alg, params, grads, slots, scalars):
        alg.update(ops, params, grads, slots, {**scalars, "lr": scalars["lr"] * scalars["lr"].dtype.type(1.01)})

    @hookimpl
    def optbridge_backends():
        return [Backend(
            name="skewed", version="1.2.3",
            build=lambda spec, params, kernels: NumpyOptimizer(spec, params, kernels=kernels),
            ops=ops, kernels={"sgd": skewed_sgd},
            make_params=lambda values, dtype: {k: np.array(v, dtype=dtype) for k, v in values.items()},
            to_numpy=lambda params: {k: v.copy() for k, v in params.items()},
            grads_from_numpy=lambda grads, params: dict(grads),
            expected_failures=json.loads(os.environ.get("SKEWED_XFAILS", "{}")),
        )]
''')

PROBE = textwrap.dedent('''
    """Reports, at the end of the session, whether optbridge was imported twice."""
    import sys

    def pytest_sessionfinish(session):
        doubles = sorted(m for m in sys.modules if m == "core" or m.startswith("core."))
        print(f"\\nDOUBLE-IMPORTS: {doubles}")
''')


def pytest_plugin_args(cwd: Path) -> list[str]:
    """``["-p", "optbridge.pytest_hooks"]`` unless pytest will load it from the entry point.

    An editable install made before the ``pytest11`` entry point existed lacks it; asked
    from ``cwd`` in a fresh interpreter, as the pytest run will see the metadata.
    """
    probe = ("from importlib import metadata\n"
             "print(any(ep.name == 'optbridge' for ep in metadata.entry_points(group='pytest11')))")
    cwd.mkdir(parents=True, exist_ok=True)
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, timeout=120)
    return [] if found.stdout.strip() == "True" else ["-p", "optbridge.pytest_hooks"]


@pytest.fixture
def site(tmp_path):
    """A directory holding the throw-away distribution ``skewed`` and the probe plugin."""
    (tmp_path / "ob_skewed.py").write_text(SKEWED)
    (tmp_path / "ob_probe.py").write_text(PROBE)
    dist = tmp_path / "ob_skewed-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ob-skewed\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[optbridge]\nskewed = ob_skewed\n")
    return tmp_path


def run_pytest(site: Path, *args: str, xfails: dict | None = None, cwd: Path | None = None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OPTBRIDGE_PLUGINS"] = "numpy,skewed"
    env["SKEWED_XFAILS"] = json.dumps(xfails or {})
    workdir = cwd or (site / "work")
    workdir.mkdir(exist_ok=True)
    plugin_args = pytest_plugin_args(workdir)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "ob_probe", *plugin_args, *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir, timeout=300)
    return result.returncode, result.stdout + result.stderr


def outcomes(out: str) -> dict[str, int]:
    """``{"passed": 5, ...}`` from pytest's summary line (deselected tests left out)."""
    last = [line for line in out.splitlines() if " in " in line and ("passed" in line or "failed" in line)][-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|xfailed|skipped|error)", last)}


def test_pyproject_registers_the_pytest_plugin_and_ships_the_suite():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {"optbridge": "optbridge.pytest_hooks"}
    assert "suite/*.py" in project["tool"]["setuptools"]["package-data"]["optbridge.conformance"]
    assert (ROOT / "core" / "conformance" / "suite" / "test_optbridge_conformance.py").is_file()
    assert not (ROOT / "core" / "conformance" / "suite" / "__init__.py").exists()


def test_ids_are_readable_and_selectable_with_k(site):
    code, out = run_pytest(site, "--pyargs", "optbridge.conformance", "--optbridge-backend", "numpy",
                           "--collect-only", "-q", "-k", "mindspore.Momentum and float32")
    assert code == 0, out
    assert f"test_trajectory[numpy-{MOMENTUM}-float32]" in out
    assert "float64]" not in out and "mindspore.Adam" not in out


def test_a_passing_backend_passes_without_importing_optbridge_twice(site):
    code, out = run_pytest(site, "--pyargs", "optbridge.conformance", "--optbridge-backend", "numpy",
                           "-q", "-k", f"{MOMENTUM} or {ADAM} or expected_failures")
    assert code == 0, out
    assert outcomes(out) == {"passed": 5}
    assert "DOUBLE-IMPORTS: []" in out
    table = out[out.index("optbridge conformance"):]
    assert "numpy    float32      2       2" in table and "numpy    float64      2       2" in table


def test_a_wrong_kernel_fails_with_the_reproducer(site):
    code, out = run_pytest(site, "--pyargs", "optbridge.conformance", "--optbridge-backend", "skewed",
                           "--optbridge-dtype", "float64", "-q", "-k", f"{MOMENTUM} or {ADAM}")
    assert code == 1, out
    assert outcomes(out) == {"failed": 1, "passed": 1}
    assert f"FAILED: {MOMENTUM} on skewed (float64)" in out
    report = out[out.index("reproducer:"):]
    assert '"optimizer": "mindspore.nn.Momentum"' in report          # the case as JSON
    assert '"step": 0' in report and '"parameter":' in report and '"slot": null' in report
    assert '"deviation":' in report and '"limit": 1e-12' in report
    assert '"backend": "skewed 1.2.3"' in report and '"numpy":' in report and '"python":' in report


def test_expected_failures_are_data_and_strict(site):
    xfails = {MOMENTUM: "lr scaled on purpose", f"{ADAM}:float32": "adam is fine: must XPASS"}
    code, out = run_pytest(site, "--pyargs", "optbridge.conformance", "--optbridge-backend", "skewed",
                           "-q", "-rxf", "-k", f"{MOMENTUM} or {ADAM}", xfails=xfails)
    assert code == 1, out
    assert outcomes(out) == {"failed": 1, "passed": 1, "xfailed": 2}
    assert "XFAIL" in out and "lr scaled on purpose" in out
    assert f"XPASS(strict): the case is listed as an expected failure on 'skewed'" in out
    assert f"test_trajectory[skewed-{ADAM}-float32]" in out


def test_expected_failures_naming_no_case_are_reported(site, tmp_path):
    listed = tmp_path / "xfails.json"
    listed.write_text(json.dumps({"xfails": {"mindspore.Momentum-renamed": "stale entry"}}))
    code, out = run_pytest(site, "--pyargs", "optbridge.conformance", "--optbridge-backend", "numpy",
                           "--optbridge-xfails", str(listed), "-q", "-k", "expected_failures")
    assert code == 1, out
    assert "expected failures of 'numpy' name no case of the database: ['mindspore.Momentum-renamed']" in out


def test_parametrize_with_cases_in_a_backends_own_test_file(site):
    (site / "work").mkdir()
    (site / "work" / "test_skewed.py").write_text(textwrap.dedent(f'''
        from optbridge.conformance import CASES
        from optbridge.conformance.pytest_plugin import parametrize_with_cases

        CHOSEN = [c for c in CASES if c.id in ({MOMENTUM!r}, {NESTEROV!r}, {ADAM!r})]

        @parametrize_with_cases(backend="skewed", cases=CHOSEN, dtypes=["float32"],
                                xfails={{{NESTEROV!r}: "nesterov also uses the skewed lr"}})
        def test_trajectory(conformance_case):
            conformance_case.check()
    '''))
    code, out = run_pytest(site, "-q", "-rfx", "test_skewed.py")
    assert code == 1, out
    assert outcomes(out) == {"failed": 1, "passed": 1, "xfailed": 1}
    assert f"FAILED test_skewed.py::test_trajectory[skewed-{MOMENTUM}-float32]" in out


def test_the_suite_is_collected_whatever_python_files_says(site):
    (site / "work").mkdir()
    (site / "work" / "pytest.ini").write_text("[pytest]\npython_files = check_*.py\n")
    code, out = run_pytest(site, "--pyargs", "optbridge.conformance", "--optbridge-backend", "numpy",
                           "--collect-only", "-q", "-k", f"{MOMENTUM} and float64")
    assert code == 0, out
    assert f"test_trajectory[numpy-{MOMENTUM}-float64]" in out


def test_an_unknown_backend_is_a_clear_collection_error(site):
    code, out = run_pytest(site, "--pyargs", "optbridge.conformance", "--optbridge-backend", "nope", "-q")
    assert code != 0
    assert "no backend named 'nope' is installed" in out


def test_the_pytest_hooks_module_is_light():
    script = ("import sys, optbridge.pytest_hooks\n"
              "heavy = [m for m in ('optbridge.conformance', 'optbridge.conformance.cases', 'jax', 'torch', "
              "'tensorflow') if m in sys.modules]\n"
              "print(heavy)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
