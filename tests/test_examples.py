"""The scripts in examples/ run and print what they promise.

Each script runs in a fresh interpreter (``sys.executable``) from the repository root, as
a user would run it; the test checks the exit code and key lines of the output.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"{script} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_has_a_docstring(script):
    module = ast.parse((EXAMPLES / script).read_text(encoding="utf-8"))
    docstring = ast.get_docstring(module)
    assert docstring and "Run:" in docstring, f"{script}: needs a module docstring saying how to run it"


def test_every_example_is_tested():
    tested = {"mindspore_guide_groups.py", "config_roundtrip.py", "checkpoint_resume.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_mindspore_guide_groups():
    out = run("mindspore_guide_groups.py", "--steps", "4")
    lines = out.splitlines()
    assert "  conv   groups[1]: layer1.0.weight, layer2.0.weight" in lines
    assert "  bn     groups[2]: layer1.1.gamma, layer1.1.beta, layer2.1.gamma, layer2.1.beta" in lines
    assert "  dense  groups[3]: fc.weight" in lines
    assert "  other  groups[4]: fc.bias" in lines
    rows = [line.split() for line in lines if line[:4].strip().isdigit()]
    assert [int(row[0]) for row in rows] == [0, 1, 2, 3]
    # lr per group: the cosine list (float32), then 1e-4 and 1e-3 through MindSpore's lr + 1 - 1.
    assert [float(x) for x in rows[0][1:5]] == pytest.approx(
        [0.00100000005, 0.000100016594, 0.00100004673, 0.00100004673], rel=1e-9)
    assert float(rows[2][1]) == pytest.approx(0.000975528266, rel=1e-9)   # epoch 1 of the cosine decay
    assert "global_step = 4" in lines


def test_config_roundtrip(tmp_path):
    out = run("config_roundtrip.py", "--out", str(tmp_path), "--steps", "4")
    lines = out.splitlines()
    reference = next(l for l in lines if l.startswith("in memory:")).rsplit(" ", 1)[1]
    for fmt in ("json", "toml"):
        line = next(l for l in lines if l.startswith(fmt))
        assert line.endswith(f"sha256 {reference} (bit-identical: True)"), line
    assert {".json", ".toml"} <= {p.suffix for p in tmp_path.iterdir()}
    assert 'optimizer = "mindspore.nn.AdamWeightDecay"' in lines


def test_config_roundtrip_default_leaves_no_files():
    out = run("config_roundtrip.py", "--steps", "2")
    assert "(bit-identical: True)" in out


def test_checkpoint_resume():
    out = run("checkpoint_resume.py", "--steps", "6")
    assert "checkpoint after step 3: checkpoint.json, checkpoint.npz" in out
    assert "resumed: global_step=3, lr per group=[0.0005000000237487257, 0.0005000000237487257]" in out
    assert "after 6 steps, 61684 parameters: resumed == uninterrupted bit for bit: True" in out
