"""The torch backend on FSDP2 (``fully_shard``, DTensor parameters), with distributed
checkpoints and ZeRO: two gloo processes on the CPU, then one.

Every check runs inside two launches of ``tests/torch_fsdp_worker.py`` (see its
docstring): two processes (``sharded``), then one process loading what they saved
(``reload``). Each process writes what it found to a JSON file; the tests below read
them. Both launches are bounded in time and their processes are killed on any failure.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)
fsdp = pytest.importorskip("torch.distributed.fsdp")
if not hasattr(fsdp, "fully_shard"):
    pytest.skip("this torch has no FSDP2 (torch.distributed.fsdp.fully_shard)", allow_module_level=True)

WORKER = Path(__file__).with_name("torch_fsdp_worker.py")
#: seconds one launch may take (the checks take about 20 s of CPU per process)
TIMEOUT = 240


def launch(phase: str, world: int, out: Path) -> list[dict]:
    """Run ``world`` worker processes of ``phase``; their results, one dict per rank."""
    store = out / f"{phase}-store"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, str(WORKER), phase, str(rank), str(world), str(store), str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
             for rank in range(world)]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    failed = [f"rank {r} exited with {p.returncode}:\n{log[-3000:]}" for r, (p, log) in enumerate(zip(procs, logs))
              if p.returncode != 0]
    assert not failed, "\n".join(failed)
    return [json.loads((out / f"{phase}-{rank}.json").read_text()) for rank in range(world)]


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    out = tmp_path_factory.mktemp("fsdp")
    sharded = launch("sharded", 2, out)
    reload = launch("reload", 1, out)
    for results in sharded + reload:
        errors = {k: v["error"] for k, v in results.items() if isinstance(v, dict) and "error" in v}
        assert not errors, "\n".join(f"{k}:\n{v}" for k, v in errors.items())
    return sharded, reload[0]


def test_every_algorithm_on_every_path_equals_the_unsharded_optimizer_bit_for_bit(found):
    from optbridge.algorithms import algorithm_registry

    assert found[0][0]["algorithms"] == sorted(algorithm_registry)
    for rank, results in enumerate(found[0]):
        assert len(results["exact"]) == 24 + 4 + 2 + 2
        failed = {run: diff for run, diff in results["exact"].items() if diff}
        assert not failed, f"rank {rank}: max |sharded - unsharded| where the bits differ: {failed}"


def test_sharded_optimizer_equals_torch_optim_fused_given_the_same_gradients(found):
    for results in found[0]:
        for label in ("AdamW", "SGD"):
            assert results["training"][f"{label} vs torch.optim unsharded, same gradients"] == {}


def test_fsdp_training_loop_stays_with_the_unsharded_run_on_the_global_batch(found):
    # the gradients differ by the reduce-scatter's rounding (each process averages half the
    # batch, then the halves are averaged), so the parameters differ in the last bits only
    for results in found[0]:
        for against in ("vs unsharded", "vs torch.optim sharded"):
            assert max(results["training"][against].values(), default=0.0) < 1e-6, against


def test_flat_capturable_and_misplaced_gradients_are_refused(found):
    for results in found[0]:
        refusals = results["refusals"]
        assert "flat=True cannot hold shards" in refusals["flat"]
        assert "capturable=True does not take sharded parameters" in refusals["capturable"]
        assert "gradient of 'fc.weight' is a DTensor with placements (Replicate(),)" in refusals["replicated grad"]
        assert refusals["unchanged"] == {} and refusals["global_step"] == 1


def test_distributed_checkpoint_round_trips_and_resumes_bit_for_bit(found):
    for results in found[0]:
        for label, entry in results["checkpoint"].items():
            assert entry["global_step"] == [5, 5, 5], label
            assert entry["in memory"] == {}, label
            assert entry["dcp"] == {}, label


def test_checkpoint_of_two_processes_loads_in_one_and_continues_on_numpy(found):
    for label, entry in found[1]["reload"].items():
        assert entry["global_step"] == [5, 5, 5], label
        assert set(entry["torch"].values()) == {0.0}, (label, entry["torch"])
        # NumPy runs the rule where torch's fused kernels ran (multiply-adds): last bits only
        assert max(entry["numpy"].values()) < 1e-6, (label, entry["numpy"])


def test_zero_with_groups_equals_the_unsharded_optimizer_and_consolidates(found):
    for results in found[0]:
        for label, entry in results["zero"].items():
            assert entry["zero"] == {} and entry["stock"] == {} and entry["resumed"] == {}, label
            consolidated = entry["consolidated"]
            assert consolidated["global_step"] == [3, 3] and consolidated["state"] == {}, label
            # torch's ZeRO writes each group's lr into the local optimizer before every step: a
            # static lr then reads as an override of the same value
            for diffs in consolidated["groups"]:
                assert all(key == "lr_override" for key, _, _ in diffs), (label, diffs)
    for label, entry in found[0][0]["zero"].items():
        assert entry["stock consolidated"] == {}, label
        assert "use optbridge.backends.torch.zero.ZeroRedundancyOptimizer" in entry["stock load"], label
