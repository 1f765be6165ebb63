"""plugins/optbridge-mindspore from outside: public API only and packaging.

The AST scan (the JAX plugin's, :func:`test_jax_plugin.private_imports`) and the
packaging checks need no framework. The plugin's own tests, which need MindSpore 2.10,
run in ``tox run -e mindspore``.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from test_jax_plugin import private_imports

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "optbridge-mindspore"
SOURCES = PLUGIN / "src"


def test_the_plugin_uses_only_optbridges_public_api():
    files = sorted(SOURCES.rglob("*.py"))
    assert len(files) >= 4
    offenders = [hit for path in files for hit in private_imports(path.read_text(), str(path.relative_to(ROOT)))]
    assert offenders == []


def test_the_scan_sees_a_private_use_in_the_plugins_style():
    bad = "from optbridge.base_optimizer import BaseOptimizer\nimport optbridge.backends.numpy.ops as reference\n"
    assert [h.split(": ", 1)[1] for h in private_imports(bad, "bad.py")] == ["import optbridge.backends.numpy.ops"]


def test_the_distribution_declares_its_entry_point_and_packages():
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())
    assert project["project"]["name"] == "optbridge-mindspore"
    assert project["project"]["entry-points"]["optbridge"] == {"mindspore": "optbridge_mindspore.plugin"}
    deps = {d.split(">")[0].split("=")[0].split("<")[0].strip() for d in project["project"]["dependencies"]}
    assert {"optbridge", "mindspore"} <= deps
    packages = {".".join(p.parent.relative_to(SOURCES).parts) for p in SOURCES.rglob("__init__.py")}
    assert set(project["tool"]["setuptools"]["packages"]) == packages


def test_the_mindspore_env_runs_in_ci():
    tox = (ROOT / "tox.ini").read_text()
    assert "[testenv:mindspore]" in tox and "mindspore==2.10.0" in tox
    command = "tox run -e lint,core,editable,all,jax,mindspore,broken-plugin"
    assert command in (ROOT / "README.md").read_text() and command in (ROOT / ".ci" / "run").read_text()
