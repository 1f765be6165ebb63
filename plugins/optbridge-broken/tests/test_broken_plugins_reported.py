"""Broken plugins, installed for real (tox env ``broken-plugin``), are reported by name and skipped.

Skipped unless the distribution ``optbridge-broken`` is installed.
"""
from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest

try:
    metadata.distribution("optbridge-broken")
except metadata.PackageNotFoundError:
    pytest.skip("needs the optbridge-broken distribution (tox run -e broken-plugin)", allow_module_level=True)


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OPTBRIDGE_PLUGINS"}
    return subprocess.run([sys.executable, "-m", "optbridge", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_optbridge_backends_names_each_broken_plugin_and_lists_the_working_ones():
    result = cli("backends")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    working, broken = out.split("Broken plugins:")
    assert "numpy" in working and "halfbaked 0.1.0  (plugin: halfbaked)" in working
    assert "kernels: sgd" in working
    halfbaked = working[working.index("halfbaked"):]
    undeclared = halfbaked[halfbaked.index("no kernel (undeclared): "):].splitlines()[0]
    missing = set(undeclared.split(": ", 1)[1].split(", "))
    assert {"adam", "adam_weight_decay", "asgd"} <= missing and "sgd" not in missing
    assert ("broken-import (import): ModuleNotFoundError: No module named "
            "'optbridge_broken_framework_that_is_not_installed'") in broken
    assert "broken-hook-name (register):" in broken and "optbridge_backend" in broken
    assert "halfbaked" not in broken


def test_the_other_backends_keep_working():
    import optbridge
    from optbridge import plugin
    from optbridge.dialects.mindspore import nn

    plugin.reset()
    assert {f.plugin: f.stage for f in plugin.broken_plugins()} == {"broken-import": "import",
                                                                    "broken-hook-name": "register"}
    params = {"w": np.ones(3, np.float32)}
    optbridge.build(nn.Momentum(None, 0.5, 0.9), params, backend="numpy").step({"w": np.ones(3, np.float32)})
    assert params["w"].tolist() == [0.5, 0.5, 0.5]
    result = cli("conform", "--backend", "numpy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_missing_kernel_fails_its_cases_by_name_and_the_rest_pass():
    passing = cli("conform", "--backend", "halfbaked", "--cases", "-k", "mindspore.Momentum-default-groups_none")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    failing = cli("conform", "--backend", "halfbaked", "--cases", "-k", "mindspore.Adam-default-groups_none")
    assert failing.returncode == 1
    assert ("backend 'halfbaked' has no kernel for algorithm 'adam' (and no ops namespace with its shared rule) "
            "and does not declare it in Backend.unsupported") in failing.stdout
