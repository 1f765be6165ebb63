"""The ``optbridge`` command line: ``conform``, ``backends``, ``validate`` (DESIGN.md section 8).

Run in-process through :func:`optbridge.cli.main` and once as ``python -m optbridge``.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import optbridge
from optbridge import cli, plugin
from optbridge.conformance import CASES
from optbridge.plugin import PluginFailure, get_backend

GROUPED = {
    "format_version": 1,
    "optimizer": "mindspore.nn.Momentum",
    "params": [{"params": "conv*", "lr": 0.01, "grad_centralization": True}, {"params": "*"}],
    "learning_rate": 0.1,
    "momentum": 0.9,
}


def table_rows(text: str) -> dict[tuple[str, str], list[str]]:
    """``{(backend, dtype): cells}`` of the conformance table in ``text``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("backend "))
    rows = {}
    for line in lines[start + 2:]:
        cells = line.split()
        if len(cells) != 11:
            break
        rows[(cells[0], cells[1])] = cells
    return rows


def runnable_rows(text: str) -> dict[tuple[str, str], list[str]]:
    """The rows of :func:`table_rows` whose backend has the dtype; every other row (JAX's
    float64 without ``jax_enable_x64``) must report all of its cases skipped."""
    rows = {}
    for (backend, dtype), cells in table_rows(text).items():
        if dtype in optbridge.plugin.get_backend(backend).dtypes:
            rows[(backend, dtype)] = cells
        else:
            assert cells[3] == "0" and cells[6] == cells[2], (backend, dtype, cells)
    return rows


def write_json(tmp_path, data, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


# -- conform ------------------------------------------------------------------------------------
def test_conform_default_example(capsys):
    assert cli.main(["conform"]) == 0
    out = capsys.readouterr().out
    assert "example.guide_momentum (mindspore.nn.Momentum) on layout guide" in out
    rows = table_rows(out)
    assert {("numpy", "float32"), ("numpy", "float64")} <= set(rows)
    assert {backend for backend, _ in rows} == set(optbridge.plugin.backends())
    for (backend, _), cells in runnable_rows(out).items():
        assert cells[2:8] == ["1", "1", "0", "0", "0", "0"], backend
        if backend == "numpy":
            assert cells[10] == "100.00%"
    assert rows[("numpy", "float64")][8] == "0"


def test_conform_options(capsys):
    argv = ["conform", "--backend", "numpy", "--dtype", "float64", "--steps", "7", "--seed", "3", "--layout", "guide"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "7 steps, seed 3" in out
    assert set(table_rows(out)) == {("numpy", "float64")}


def test_conform_json_config_with_conform_table(tmp_path, capsys):
    config = {"format_version": 1, "optimizer": "mindspore.nn.Adam", "learning_rate": 0.01, "use_amsgrad": True,
              "conform": {"layout": "lenet5", "steps": 7, "seed": 5}}
    assert cli.main(["conform", write_json(tmp_path, config)]) == 0
    out = capsys.readouterr().out
    assert "config.json (mindspore.nn.Adam) on layout lenet5, 7 steps, seed 5" in out
    assert len(table_rows(out)) == 2 * len(optbridge.plugin.backends())


def test_conform_toml_config_with_custom_layout_and_override(tmp_path, capsys):
    path = tmp_path / "momentum.toml"
    path.write_text(
        'format_version = 1\n'
        'optimizer = "mindspore.nn.Momentum"\n'
        'learning_rate = 0.1\n'
        'momentum = 0.9\n'
        'weight_decay = 0.01\n'
        '\n'
        '[conform]\n'
        'layout = [["w", [4, 16]], ["bn.gamma", [4]]]\n'
        'steps = 7\n'
        'seed = 11\n'
    )
    assert cli.main(["conform", str(path), "--steps", "8"]) == 0
    out = capsys.readouterr().out
    assert "on layout 2 tensors, 8 steps, seed 11" in out
    assert all(cells[3] == "1" for cells in runnable_rows(out).values())


def test_conform_exits_1_on_failure_with_reproducer(tmp_path, capsys):
    config = {"format_version": 1, "optimizer": "mindspore.nn.SGD", "learning_rate": [0.1, 0.1, 0.1],
              "conform": {"layout": "tiny", "steps": 5}}
    assert cli.main(["conform", write_json(tmp_path, config), "--dtype", "float32"]) == 1
    out = capsys.readouterr().out
    assert table_rows(out)[("numpy", "float32")][7] == "1"
    assert "ScheduleExhaustedError" in out and "reproducer" in out and '"steps": 5' in out


def test_conform_cases(capsys):
    expected = [c for c in CASES if "mindspore.ASGD" in c.id]
    assert cli.main(["conform", "--cases", "-k", "mindspore.ASGD"]) == 0
    out = capsys.readouterr().out
    assert f"{len(expected)} shipped cases" in out
    for cells in runnable_rows(out).values():
        assert cells[2] == cells[3] == str(len(expected))


@pytest.mark.parametrize("argv,message", [
    (["conform", "--cases", "--steps", "7"], "--cases runs the shipped database"),
    (["conform", "-k", "Adam"], "-k filters --cases"),
    (["conform", "--backend", "nosuch"], "no backend named 'nosuch'"),
    (["conform", "--steps", "0"], "--steps must be >= 1"),
    (["conform", "--cases", "-k", "no-such-case"], "no case id contains"),
])
def test_conform_refuses_bad_requests(argv, message, capsys):
    assert cli.main(argv) == 1
    assert message in capsys.readouterr().err


def test_conform_bad_config_names_the_path(tmp_path, capsys):
    path = write_json(tmp_path, {**GROUPED, "conform": {"steps": "many"}})
    assert cli.main(["conform", path]) == 1
    err = capsys.readouterr().err
    assert path in err and "conform.steps: must be an int >= 1" in err


def test_usage_errors_exit_2(capsys):
    assert cli.main(["conform", "--dtype", "float16"]) == 2
    assert cli.main([]) == 2
    capsys.readouterr()


# -- backends -----------------------------------------------------------------------------------
def test_backends_lists_versions_and_kernels(capsys):
    assert cli.main(["backends"]) == 0
    out = capsys.readouterr().out
    numpy_backend = get_backend("numpy")
    assert f"numpy {numpy_backend.version}" in out
    numpy_lines = out[out.index(f"numpy {numpy_backend.version}"):].splitlines()[1:4]
    assert "    ops: every algorithm with a shared rule" in numpy_lines
    assert "    fast paths: none" in numpy_lines
    assert "no kernel (undeclared)" not in out[out.index(f"numpy {numpy_backend.version}"):].split("\n  ")[1]
    assert "Broken plugins:\n  none" in out


def test_backends_lists_broken_plugins(monkeypatch, capsys):
    failure = PluginFailure("optbridge-broken", "import", "ImportError: No module named 'missing_framework'")
    monkeypatch.setattr(plugin, "broken_plugins", lambda: [failure])
    assert cli.main(["backends"]) == 0
    out = capsys.readouterr().out
    assert "optbridge-broken (import): ImportError: No module named 'missing_framework'" in out


# -- validate -----------------------------------------------------------------------------------
def test_validate_prints_the_canonical_form(tmp_path, capsys):
    path = write_json(tmp_path, {**GROUPED, "conform": {"layout": "tiny"}})
    assert cli.main(["validate", path]) == 0
    out = capsys.readouterr().out
    assert "optimizer: mindspore.nn.Momentum" in out
    assert ("algorithm: sgd (momentum=0.9, dampening=0.0, nesterov=False, nesterov_form='scaled', "
            "momentum_form='buffer', weight_decay_form='coupled', maximize=False)") in out
    assert "groups: 2" in out
    assert "[0] params='conv*', lr=0.01, weight_decay=0.0, grad_centralization=True" in out
    assert "[1] params='*', lr=default" in out
    assert "conform: layout='tiny'" in out


@pytest.mark.parametrize("data,message", [
    ({**GROUPED, "params": [{"params": "conv*", "lrr": 0.1}]}, "params[0].lrr: unknown group key"),
    ({**GROUPED, "momentum": 1}, "the type of 'momentum' should be 'float'"),
    ({**GROUPED, "format_version": 7}, "format_version: expected 1"),
    ({**GROUPED, "conform": {"stepz": 1}}, "conform.stepz: unknown key"),
])
def test_validate_bad_config_exits_1_with_path(tmp_path, capsys, data, message):
    path = write_json(tmp_path, data)
    assert cli.main(["validate", path]) == 1
    err = capsys.readouterr().err
    assert message in err and path in err


def test_validate_unreadable_and_invalid_files(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert cli.main(["validate", str(bad)]) == 1
    assert "not valid JSON" in capsys.readouterr().err
    assert cli.main(["validate", str(tmp_path / "missing.toml")]) == 1
    assert "cannot read" in capsys.readouterr().err


# -- as a program -------------------------------------------------------------------------------
def test_python_dash_m_optbridge(tmp_path):
    done = subprocess.run([sys.executable, "-m", "optbridge", "conform", "--steps", "7"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("numpy", "float32") in table_rows(done.stdout)
    bad = write_json(tmp_path, {**GROUPED, "lr": 0.1})
    done = subprocess.run([sys.executable, "-m", "optbridge", "validate", bad], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "lr: unknown argument for mindspore.nn.Momentum" in done.stderr
