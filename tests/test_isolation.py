"""core/ (package optbridge) never needs a framework: it imports with them blocked."""
from __future__ import annotations

import subprocess
import sys

BLOCKED = ["torch", "tensorflow", "keras", "jax", "jaxlib", "mindspore"]

SCRIPT = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None
import optbridge, optbridge.config, optbridge.engine, optbridge.groups, optbridge.plugin
import optbridge.conformance.streams, optbridge.conformance.layouts
from optbridge.dialects.mindspore import nn
import numpy as np
params = {{"w": np.ones((2, 3), np.float32), "bn.gamma": np.ones(3, np.float32)}}
opt = optbridge.build(nn.Adam(None, nn.WarmUpLR(0.01, 3)), params)
opt.step({{"w": np.ones((2, 3), np.float32), "bn.gamma": np.ones(3, np.float32)}})
loaded = [m for m in {BLOCKED!r} if sys.modules.get(m) is not None]
assert not loaded, loaded
print("ok")
"""


def test_core_imports_and_runs_with_frameworks_blocked():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_core_source_has_no_framework_imports():
    import pathlib
    import re

    import optbridge

    root = pathlib.Path(optbridge.__file__).parent
    pattern = re.compile(r"^\s*(import|from)\s+(torch|tensorflow|keras|jax|mindspore|optbridge\.backends)\b", re.M)
    backends = root / "backends"  # optbridge.backends lives inside optbridge in a wheel install
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if backends not in p.parents and pattern.search(p.read_text())]
    assert offenders == []
