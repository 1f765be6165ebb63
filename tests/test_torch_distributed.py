"""The torch backend under DistributedDataParallel and ZeroRedundancyOptimizer.

Two processes (gloo, CPU) each see half of the global batch; the result must equal one
process stepping on the whole batch (float64: the all-reduce mean differs from the
full-batch mean only in rounding).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

STEPS = 5

COMMON = textwrap.dedent("""
    import json, os, sys
    import torch
    import optbridge
    from optbridge.backends.torch import Optimizer
    from optbridge.dialects.mindspore import nn

    STEPS = %d

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.fc = torch.nn.Linear(4, 8).double()
            self.bn_gamma = torch.nn.Parameter(torch.ones(8, dtype=torch.float64))
            self.head = torch.nn.Linear(8, 2).double()

        def forward(self, x):
            return self.head(torch.tanh(self.fc(x)) * self.bn_gamma)

    def spec():
        return nn.Adam(None, 0.01, weight_decay=1e-3)

    def batch(step):
        g = torch.Generator().manual_seed(100 + step)
        return torch.randn(8, 4, generator=g, dtype=torch.float64), torch.randn(8, 2, generator=g, dtype=torch.float64)
""" % STEPS)

WORKER = COMMON + textwrap.dedent("""
    from torch.nn.parallel import DistributedDataParallel as DDP
    from torch.distributed.optim import ZeroRedundancyOptimizer

    rank, world, init_file, mode, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    torch.distributed.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=world)
    model = Net()
    if mode == "zero":
        ddp = DDP(model)
        opt = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=Optimizer, spec=spec(), names=model)
    else:
        opt = Optimizer(model.named_parameters(), spec(), flat=(mode == "ddp_flat"))
        ddp = DDP(model)
    for s in range(STEPS):
        x, y = batch(s)
        lo, hi = rank * 8 // world, (rank + 1) * 8 // world
        opt.zero_grad()
        torch.nn.functional.mse_loss(ddp(x[lo:hi]), y[lo:hi]).backward()
        opt.step()
    if rank == 0:
        with open(out, "w") as f:
            json.dump({n: p.detach().flatten().tolist() for n, p in model.named_parameters()}, f)
    torch.distributed.destroy_process_group()
    # torch's gloo threads can abort the interpreter's own teardown after a clean
    # destroy_process_group ("terminate called without an active exception"; about one
    # run in ten with plain torch.optim.Adam too, see pytorch/pytorch#190489 and #179291).
    # Everything this test checks is done and written by now, so leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
""")

SINGLE = COMMON + textwrap.dedent("""
    model = Net()
    opt = optbridge.build(spec(), model.named_parameters())
    for s in range(STEPS):
        x, y = batch(s)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    print(json.dumps({n: p.detach().flatten().tolist() for n, p in model.named_parameters()}))
""")


@pytest.fixture(scope="module")
def single_process():
    result = subprocess.run([sys.executable, "-c", SINGLE], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("mode", ["ddp", "ddp_flat", "zero"])
def test_two_processes_equal_one_process_on_the_global_batch(mode, tmp_path, single_process):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "rank0.json"
    init = tmp_path / "store"
    procs = [subprocess.Popen([sys.executable, str(script), str(r), "2", str(init), mode, str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    errors = []
    for p in procs:
        _, err = p.communicate(timeout=300)
        if p.returncode != 0:
            errors.append(err[-3000:])
    assert not errors, "\n".join(errors)
    got = json.loads(out.read_text())
    assert got.keys() == single_process.keys()
    for name, want in single_process.items():
        assert got[name] == pytest.approx(want, rel=1e-12, abs=1e-14), name
