"""``step()`` reads no tensor value on the host, on every path (issue: no host-device sync).

On CUDA a host read of a device value — ``.item()``, ``float(t)``, ``bool(t)``,
``nonzero`` — waits for the device. Those reads reach the dispatcher as
``aten._local_scalar_dense``, ``aten.is_nonzero`` or ``aten.nonzero`` whatever the device,
so counting them under a ``TorchDispatchMode`` on CPU proves the step code free of them.
The first case of every optimizer in the conformance catalog runs on the reference path,
the default path and flat-buffer mode; the conformance runner's own work (making
gradients, reading results) is counted too, so a zero count covers it as well.

One exception, by design: a loss scale that skips non-finite steps reads one value per
step, its finite check, as ``torch.amp.GradScaler.step`` does (``found_inf.item()``).
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

import optbridge  # noqa: E402
from optbridge.backends.torch import backend  # noqa: E402
from optbridge.conformance import run_case  # noqa: E402
from optbridge.conformance.cases import CASES  # noqa: E402

FIRST_PER_OPTIMIZER = list({c.config["optimizer"]: c for c in reversed(CASES)}.values())
PATHS = {"reference": ("reference", False), "auto": ("auto", False), "flat": ("auto", True)}
HOST_READS = (torch.ops.aten._local_scalar_dense.default, torch.ops.aten.is_nonzero.default,
              torch.ops.aten.nonzero.default)


class HostReads(TorchDispatchMode):
    """Records every dispatched op that reads a tensor value on the host."""

    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in HOST_READS:
            self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


def test_the_counter_sees_host_reads():
    t = torch.ones(3)
    with HostReads() as mode:
        t.sum().item()
        bool(t[0] > 0)
        t.nonzero()
    assert len(mode.ops) == 3


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", FIRST_PER_OPTIMIZER, ids=[c.id for c in FIRST_PER_OPTIMIZER])
def test_steps_read_no_tensor_value_on_the_host(case, path):
    with HostReads() as mode:
        result = run_case(case, backend(*PATHS[path]), "float32")
    assert result.ok, result.describe()
    transforms = optbridge.from_dict(case.config).to_canonical().transforms
    checks = sum(1 for t in transforms if t.name == "loss_scale" and t.skip_nonfinite)
    if checks:  # the finite check of each step, as GradScaler's
        assert mode.ops == [str(torch.ops.aten._local_scalar_dense.default)] * (checks * case.steps)
    else:
        assert mode.ops == []
