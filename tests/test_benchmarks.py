"""Benchmark scripts still run (smoke test on a small layout; no timing is asserted)."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parents[1]


def test_numpy_step_benchmark_runs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "numpy_step.py"), "--layout", "tiny", "--repeat", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("layout tiny: 6 tensors, 147 elements")
    assert [line.split()[0] for line in lines[2:]] == ["Momentum", "SGD(dampening)", "ASGD", "Adam", "AdamWeightDecay"]


def test_memory_benchmark_runs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "memory.py"), "--layout", "tiny", "--algorithms", "adam",
         "adafactor", "--backends", "numpy", "--natives"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "layout tiny: 1×(8, 4) + 1×(4,) float32, 144 parameter bytes"
    state = lines[lines.index("optimizer-state bytes per parameter byte") + 2:][:2]
    # Adam: two moments; Adafactor: 8 + 4 row/column statistics and the 4-element bias's variance
    assert [row.split() for row in state] == [["adam", "2.0000"], ["adafactor", f"{16 / 36:.4f}"]]


def test_clipping_benchmark_runs():
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "clipping_step.py"), "--layout", "tiny", "--repeat", "1",
         "--warmup", "1", "--frameworks", "torch"], capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ratio optbridge / native" in result.stdout


def test_muon_benchmark_runs():
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "muon_step.py"), "--width", "16", "--repeat", "1", "--warmup", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split(" median")[0].strip() for line in result.stdout.splitlines() if " median " in line]
    assert rows == ["torch.optim.Muon", "optbridge auto", "optbridge compiled"]
