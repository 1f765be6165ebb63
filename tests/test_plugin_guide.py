"""docs/writing-a-backend-plugin.md builds a working plugin: its own code blocks, installed.

The ```python blocks whose first line is ``# optbridge_tutorial.py: ...`` are the plugin
module, in order; the ```toml block is its ``pyproject.toml``. The test writes them out,
installs the result the way ``pip install`` leaves a distribution (the module plus a
``dist-info`` whose ``entry_points.txt`` comes from the toml block's
``[project.entry-points.optbridge]``), and runs the shipped suite on the backend in a
fresh interpreter: from the command line and through pytest, as the guide says. The
three parts are the ops namespace, the optimizer and the hooks; the backend runs every
canonical algorithm (the shared rules over its ops, ``asgd`` through its fast path).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from test_docs import fenced_blocks
from test_pytest_plugin import outcomes, pytest_plugin_args

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "writing-a-backend-plugin.md"
MODULE_MARK = "# optbridge_tutorial.py"


def module_source() -> str:
    parts = [source for language, _, source, _ in fenced_blocks(GUIDE)
             if language == "python" and source.startswith(MODULE_MARK)]
    assert len(parts) == 3, "the guide writes the tutorial module in three parts"
    return "\n\n".join(parts)


def pyproject() -> dict:
    tomls = [source for language, _, source, _ in fenced_blocks(GUIDE) if language == "toml"]
    assert len(tomls) == 1
    return tomllib.loads(tomls[0])


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    project = pyproject()
    modules = project["tool"]["setuptools"]["py-modules"]
    assert modules == ["optbridge_tutorial"]
    (site / "optbridge_tutorial.py").write_text(module_source())
    name, version = project["project"]["name"], project["project"]["version"]
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    entry_points = project["project"]["entry-points"]["optbridge"]
    (dist / "entry_points.txt").write_text(
        "[optbridge]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    return site


def run(site: Path, *command: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OPTBRIDGE_PLUGINS"] = "numpy,tutorial"
    workdir = site / "work"
    workdir.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, env=env, cwd=workdir,
                          timeout=600)


def test_the_module_uses_only_public_optbridge_api():
    from test_jax_plugin import private_imports

    assert private_imports(module_source(), "optbridge_tutorial.py") == []


def test_the_installed_backend_is_listed(installed):
    result = run(installed, "-m", "optbridge", "backends")
    assert result.returncode == 0, result.stderr
    listing = result.stdout[result.stdout.index("  tutorial "):result.stdout.index("Broken plugins:")]
    assert "ops: every algorithm with a shared rule" in listing and "fast paths: asgd" in listing
    assert "unsupported" not in listing and "no kernel" not in listing      # it runs every algorithm
    assert "Broken plugins:\n  none" in result.stdout


#: ``-k`` filters of the case database that together hold every hyperparameter set of
#: every dialect class on its own, so every canonical algorithm (Muon's cases are on the
#: ``block`` layout's matrices, the ``matrix`` group form)
EVERY_SET = ("groups_none-lr_const-wd_off", "Muon-default-groups_matrix-lr_const-wd_off")


def test_the_cli_runs_the_case_database_on_it(installed):
    from optbridge.algorithms import algorithm_registry
    from optbridge.conformance import CASES

    assert {case.algorithm for case in CASES if any(f in case.id for f in EVERY_SET)} == set(algorithm_registry)
    for chosen in EVERY_SET:
        result = run(installed, "-m", "optbridge", "conform", "--backend", "tutorial", "--cases", "-k", chosen)
        assert result.returncode == 0, result.stdout + result.stderr
        rows = [line.split() for line in result.stdout.splitlines() if line.startswith("tutorial ")]
        assert [row[1] for row in rows] == ["float32", "float64"]
        for row in rows:
            cases, passed = int(row[2]), int(row[3])
            assert cases == passed == sum(chosen in case.id for case in CASES)
            assert row[-1] == "100.00%"                  # bitwise the NumPy reference's


def test_pytest_runs_the_shipped_suite_on_it(installed):
    plugin_args = pytest_plugin_args(installed / "work")
    result = run(installed, "-m", "pytest", "-p", "no:cacheprovider", *plugin_args, "--pyargs",
                 "optbridge.conformance", "--optbridge-backend", "tutorial", "-q", "-rs",
                 "-k", "ASGD and groups_doc or keras.Lion-default-groups_none-lr_const or expected_failures")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outcomes(result.stdout) == {"passed": 9}
    assert "tutorial  float32" in result.stdout[result.stdout.index("optbridge conformance"):]
