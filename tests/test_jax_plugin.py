"""plugins/optbridge-jax from outside: public API only, packaging, and a run through the entry point.

The AST scan needs no framework. The run needs jax: the plugin is installed the way
``pip install`` leaves a distribution (its ``src`` plus a ``dist-info`` whose
``entry_points.txt`` comes from the plugin's ``pyproject.toml``) into a fresh interpreter.
The whole suite on jax runs in ``tox run -e jax``.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "optbridge-jax"
SOURCES = PLUGIN / "src"


def _forbidden_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "optbridge" and (
        module == "optbridge.backends" or module.startswith("optbridge.backends.")
        or any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts))


#: optbridge's former private optimizer names (``OptimizerAPI`` before the public backend
#: base): a plugin reaches them as attributes of its own optimizer (``self._engine``), so
#: any attribute access to them is reported, whatever the object.
FORMER_PRIVATE_NAMES = ("_engine", "_export_slots", "_import_slots", "_schedule_changed", "_describe_slot")


def private_imports(source: str, filename: str) -> list[str]:
    """What ``source`` uses of optbridge that is not public API, as ``file:line: what``.

    Not public: ``optbridge.backends`` (the built-in backends), any module or name
    starting with an underscore (``optbridge._version``, ``from optbridge.plugin import
    _state``), an underscore attribute of an imported optbridge module
    (``plugin._state``), such module names in strings (``import_module``), and an
    attribute access to one of :data:`FORMER_PRIVATE_NAMES` on any object
    (``self._engine``, ``getattr`` with a constant name too) or a method defined
    under one of them (``def _export_slots``: overriding the former hook).
    """
    tree = ast.parse(source, filename)
    found: list[str] = []
    optbridge_names: set[str] = set()

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "optbridge":
                    optbridge_names.add(alias.asname or "optbridge")
                    if _forbidden_module(alias.name):
                        report(node, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "optbridge":
                continue
            if _forbidden_module(node.module):
                report(node, f"from {node.module} import ...")
            for alias in node.names:
                optbridge_names.add(alias.asname or alias.name)
                if alias.name.startswith("_") or _forbidden_module(f"{node.module}.{alias.name}"):
                    report(node, f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("optbridge."):
            if _forbidden_module(node.value):
                report(node, f"module name {node.value!r} in a string")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in optbridge_names:
                report(node, f"{ast.unparse(node)}")
            elif node.attr in FORMER_PRIVATE_NAMES:
                report(node, f"{ast.unparse(node)} (a former private optimizer name)")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and node.args[1].value in FORMER_PRIVATE_NAMES):
            report(node, f"{node.func.id}(..., {node.args[1].value!r}) (a former private optimizer name)")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in FORMER_PRIVATE_NAMES:
            report(node, f"def {node.name} (overrides a former private optimizer name)")
    return found


def test_the_plugin_uses_only_optbridges_public_api():
    files = sorted(SOURCES.rglob("*.py"))
    assert len(files) >= 5
    offenders = [hit for path in files for hit in private_imports(path.read_text(), str(path.relative_to(ROOT)))]
    assert offenders == []


def test_the_scan_catches_each_kind_of_private_use():
    bad = textwrap.dedent("""
        import optbridge.backends.numpy
        import optbridge._version as v
        from optbridge.backends.numpy import KERNELS
        from optbridge.plugin import _state
        from optbridge.algorithms._flags import x
        from optbridge import plugin
        import importlib
        plugin._state.failures
        importlib.import_module("optbridge.backends.numpy")
        from .kernels import _private_helper_of_the_plugin_itself
        import numpy._core
    """)
    hits = private_imports(bad, "bad.py")
    assert [h.split(": ", 1)[1] for h in hits] == [
        "import optbridge.backends.numpy",
        "import optbridge._version",
        "from optbridge.backends.numpy import ...",
        "from optbridge.backends.numpy import KERNELS",
        "from optbridge.plugin import _state",
        "from optbridge.algorithms._flags import ...",
        "from optbridge.algorithms._flags import x",
        "module name 'optbridge.backends.numpy' in a string",
        "plugin._state",
    ]


def test_the_scan_catches_each_former_private_optimizer_name():
    bad = textwrap.dedent("""
        class JaxOptimizer(BaseOptimizer):
            def step(self, grads):
                plan = self._engine.plan()
                self._engine.commit(plan)
            def state(self, opt):
                return opt._export_slots(), super()._import_slots({})
            def hooks(self):
                self._schedule_changed(0, "lr")
                return type(self)._describe_slot
            def reflective(self):
                return getattr(self, "_engine"), hasattr(self, "_import_slots")
            def _import_slots(self, state):
                pass
            def its_own_names_are_fine(self):
                return self._params, self.engine, self.export_slots(), getattr(self, "_treedef")
    """)
    hits = [h.split(": ", 1)[1] for h in private_imports(bad, "bad.py")]
    assert sorted(hits) == sorted([
        "self._engine (a former private optimizer name)",
        "self._engine (a former private optimizer name)",
        "opt._export_slots (a former private optimizer name)",
        "super()._import_slots (a former private optimizer name)",
        "self._schedule_changed (a former private optimizer name)",
        "type(self)._describe_slot (a former private optimizer name)",
        "getattr(..., '_engine') (a former private optimizer name)",
        "hasattr(..., '_import_slots') (a former private optimizer name)",
        "def _import_slots (overrides a former private optimizer name)",
    ])
    assert {name for name in FORMER_PRIVATE_NAMES if any(f".{name} " in h or f"'{name}'" in h for h in hits)} \
        == set(FORMER_PRIVATE_NAMES)


def test_the_distribution_declares_its_entry_point_packages_and_data():
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())
    assert project["project"]["name"] == "optbridge-jax"
    assert project["project"]["entry-points"]["optbridge"] == {"jax": "optbridge_jax.plugin"}
    deps = {d.split(">")[0].split("=")[0].strip() for d in project["project"]["dependencies"]}
    assert {"optbridge", "jax"} <= deps
    setuptools = project["tool"]["setuptools"]
    packages = {".".join(p.parent.relative_to(SOURCES).parts) for p in SOURCES.rglob("__init__.py")}
    assert set(setuptools["packages"]) == packages
    assert setuptools["package-data"]["optbridge_jax"] == ["data/*.json"]
    xfails = json.loads((SOURCES / "optbridge_jax" / "data" / "xfails.json").read_text())
    assert xfails["format_version"] == 1 and isinstance(xfails["xfails"], dict)


def test_every_registered_algorithm_runs_its_rule_on_jax_or_has_a_declared_reason():
    from optbridge.algorithms import algorithm_registry

    declared = json.loads((SOURCES / "optbridge_jax" / "data" / "xfails.json").read_text())["unsupported"]
    assert all(reason.strip() for reason in declared.values())
    with_rule = {name for name, cls in algorithm_registry.items() if cls.has_rule()}
    assert not set(declared) & with_rule
    assert sorted(set(algorithm_registry) - with_rule - set(declared)) == []


def test_the_optimizer_is_the_public_base_with_the_plugins_ops():
    pytest.importorskip("jax")
    sys.path.insert(0, str(SOURCES))
    try:
        from optbridge_jax import JaxOptimizer, ops
    finally:
        sys.path.remove(str(SOURCES))
    from optbridge.base_optimizer import BaseOptimizer

    assert issubclass(JaxOptimizer, BaseOptimizer) and JaxOptimizer.functional
    assert JaxOptimizer.ops is ops


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    pytest.importorskip("jax")
    site = tmp_path_factory.mktemp("site")
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    dist = site / f"optbridge_jax-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (dist / "entry_points.txt").write_text(
        "[optbridge]\n" + "".join(f"{k} = {v}\n" for k, v in project["entry-points"]["optbridge"].items()))
    return site


def run(site: Path, *command: str, x64: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(SOURCES), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OPTBRIDGE_PLUGINS"] = "numpy,jax"
    env["JAX_ENABLE_X64"] = "1" if x64 else "0"
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, env=env, timeout=600)


def test_optbridge_backends_lists_jax_with_its_dtypes(installed):
    result = run(installed, "-m", "optbridge", "backends")
    assert result.returncode == 0, result.stderr
    assert "jax 0." in result.stdout and "(plugin: jax)" in result.stdout
    assert "dtypes: float32, float64" in result.stdout
    assert "Broken plugins:\n  none" in result.stdout
    without_x64 = run(installed, "-m", "optbridge", "backends", x64=False)
    assert "dtypes: float32\n" in without_x64.stdout


def test_conform_runs_on_the_jax_backend_bitwise(installed):
    result = run(installed, "-m", "optbridge", "conform", "--backend", "jax", "--cases", "-k",
                 "mindspore.Adam-amsgrad")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("jax ")]
    assert [row[1] for row in rows] == ["float32", "float64"]
    assert all(int(row[2]) == int(row[3]) > 0 and row[-1] == "100.00%" for row in rows)
