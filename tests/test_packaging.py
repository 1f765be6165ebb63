"""Packaging: every package directory is listed in pyproject.toml, so wheels ship it."""
from __future__ import annotations

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).parents[1]


def test_every_package_directory_is_packaged():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for prefix, directory in mapping.items():
        base = ROOT / directory
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            name = ".".join((prefix, *rel.parts)) if rel.parts else prefix
            if not any(name == p or name.startswith(p + ".") for p in mapping if p != prefix and p.startswith(prefix + ".")):
                found.add(name)
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - found == set(), "listed packages without an __init__.py"


def test_runtime_dependencies_are_numpy_and_pluggy_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(d.split(">")[0].split("=")[0] for d in project["dependencies"]) == ["numpy", "pluggy"]
    assert {"torch", "tensorflow", "yaml", "plot", "test", "all"} <= set(project["optional-dependencies"])
    assert project["optional-dependencies"]["torch"] == ["torch>=2.3"]
