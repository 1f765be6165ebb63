"""One process of ``tests/test_torch_fsdp.py``: FSDP2, distributed checkpoints and ZeRO on gloo.

Run as ``python torch_fsdp_worker.py PHASE RANK WORLD INIT_FILE OUT_DIR``. Every check
runs in the one launch and writes what it found to ``OUT_DIR/<phase>-<rank>.json``
(``{check: result}``); the test asserts on those files. Phases:

* ``sharded`` (2 processes): every algorithm on a ``fully_shard``-ed model against the
  same optimizer on the unsharded model given the same gradients (bitwise), a real
  training loop against ``torch.optim`` on the same layout, the refusals, DCP
  save/resume, ZeRO with groups;
* ``reload`` (1 process): the DCP checkpoint the ``sharded`` phase saved, loaded into an
  unsharded model, continued, and continued again on the NumPy backend.
"""
from __future__ import annotations

import copy
import json
import os
import sys
import time
import traceback

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import fully_shard
from torch.distributed.optim import ZeroRedundancyOptimizer as TorchZero
from torch.distributed.tensor import DTensor, Replicate, distribute_tensor

import optbridge
from optbridge import transforms
from optbridge.algorithms import algorithm_registry
from optbridge.backends.torch import Optimizer
from optbridge.backends.torch.zero import ZeroRedundancyOptimizer, spec_param_groups
from optbridge.dialects.keras import optimizers as keras_optimizers
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim
from optbridge.errors import SpecValueError, StateDictError, StepInputError
from optbridge.schedules import Constant
from optbridge.spec import OptimizerSpec

STEPS = 3
RESUME_STEPS = 2


class Net(torch.nn.Module):
    """Shards of every kind over 2 processes: uneven (7 rows: 4 + 3), one process empty
    (1 row: 1 + 0), a 3-d weight (Adafactor factors it, centralization reduces it), a
    weight whose shards torch's fused kernels compute exactly (2 rows of 16 each) and
    ones whose shards they do not (``fc.weight``: 24 + 18 elements)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv1d(2, 6, 2)
        self.fc = torch.nn.Linear(6, 7)
        self.wide = torch.nn.Linear(7, 16, bias=False)
        self.head = torch.nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.conv(x)).flatten(1)
        return self.head(torch.tanh(self.wide(torch.tanh(self.fc(h)))))


class Tiny(torch.nn.Module):
    """The compiled path's model: one uneven weight (4 + 3 rows) and its bias (compiling costs seconds per layout)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(6, 7)


def shard(net: torch.nn.Module) -> torch.nn.Module:
    for module in net.children():
        fully_shard(module)
    fully_shard(net)
    return net


def sharded_net() -> Net:
    return shard(Net())


def canonical_of(spec) -> OptimizerSpec:
    return spec.to_canonical() if hasattr(spec, "to_canonical") else spec


def canonical(name: str, **hp) -> OptimizerSpec:
    return OptimizerSpec(algorithm=algorithm_registry[name](**hp), lr=Constant(0.01))


#: every registered algorithm, with groups, schedules and pre-processing along the way
SPECS = {
    "torch.AdamW": lambda: optim.AdamW(None, lr=0.01, weight_decay=0.1),
    "torch.Adam-amsgrad": lambda: optim.Adam(None, lr=0.01, amsgrad=True),
    "torch.SGD-nesterov": lambda: optim.SGD(None, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "torch.Adagrad": lambda: optim.Adagrad(None, lr=0.1),
    "torch.Adadelta": lambda: optim.Adadelta(None),
    "torch.Adamax": lambda: optim.Adamax(None, lr=0.01),
    "torch.NAdam": lambda: optim.NAdam(None, lr=0.01),
    "torch.RAdam": lambda: optim.RAdam(None, lr=0.01),
    "torch.RMSprop-centered": lambda: optim.RMSprop(None, lr=0.01, centered=True, momentum=0.5),
    "torch.Rprop": lambda: optim.Rprop(None, lr=0.01),
    "torch.ASGD": lambda: optim.ASGD(None, lr=0.01, t0=1),
    "torch.Adafactor": lambda: optim.Adafactor(None, lr=0.01),
    "ms.Momentum-groups": lambda: nn.Momentum(
        [{"params": "fc.*", "lr": [0.1, 0.05, 0.02, 0.01, 0.01], "grad_centralization": True},
         {"params": "conv.*", "lr": 0.2, "grad_centralization": True, "weight_decay": 1e-2},
         {"params": "*"}], 0.1, 0.9),
    "ms.Adam-cosine": lambda: nn.Adam(None, nn.CosineDecayLR(0.0, 0.01, 4)),
    "ms.AdamWeightDecay": lambda: nn.AdamWeightDecay(None, 0.01, weight_decay=0.1),
    "ms.Lamb-groups": lambda: nn.Lamb([{"params": "fc.*", "lr": 0.02}, {"params": "*"}], 0.01, weight_decay=0.01),
    "ms.Lamb": lambda: nn.Lamb(None, 0.01, weight_decay=0.01),
    "ms.LARS": lambda: nn.LARS(nn.Momentum(None, 0.1, 0.9, weight_decay=1e-3)),
    "ms.FTRL": lambda: nn.FTRL(None, learning_rate=0.1),
    "ms.ProximalAdagrad": lambda: nn.ProximalAdagrad(None, 0.1, l1=1e-3, l2=1e-3),
    "ms.AdaFactor": lambda: nn.AdaFactor(None, learning_rate=0.01, relative_step=False, scale_parameter=False,
                                         warmup_init=False),
    "lion": lambda: canonical("lion"),
    "keras.Muon": lambda: keras_optimizers.Muon(learning_rate=0.01),
    "torch.AdamW-clipped": lambda: optim.AdamW(None, lr=0.01, weight_decay=0.1).with_transforms(
        transforms.ClipByValue(0.05), transforms.ClipByNorm(0.5), transforms.ClipByGlobalNorm(0.05, form="keras")),
}
#: the specs whose "auto" path takes torch's fused kernels (on buckets this small "auto" runs
#: every other rule eagerly, as "reference" does)
FUSED = ["torch.AdamW", "torch.Adam-amsgrad", "torch.SGD-nesterov", "ms.Momentum-groups"]
#: (spec, path) pairs also run on the compiled path: one elementwise rule (local shards) and
#: one reducing rule (whole tensors); compiling every rule would take minutes
COMPILED = ["torch.NAdam", "ms.Lamb"]


def gradients(step: int, net: torch.nn.Module) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + step)
    return {n: torch.randn(p.shape, generator=g) for n, p in net.named_parameters()}


def set_grads(net: torch.nn.Module, grads: dict[str, torch.Tensor]) -> None:
    for n, p in net.named_parameters():
        g = grads[n]
        p.grad = distribute_tensor(g, p.device_mesh, p.placements, src_data_rank=None) if isinstance(p, DTensor) else g


def full(t: torch.Tensor) -> torch.Tensor:
    return t.full_tensor() if isinstance(t, DTensor) else t


#: the integer type of each float type's width: equal bits, not equal values (NaN, -0.0)
BITS = {torch.float32: torch.int32, torch.float64: torch.int64, torch.bfloat16: torch.int16, torch.float16: torch.int16}


def differences(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict[str, float]:
    """``{key: max |a - b|}`` where the bits differ (NaN when a shape differs)."""
    out = {}
    for k in sorted(set(a) | set(b)):
        x, y = full(a[k]).detach(), full(b[k]).detach()
        if x.shape != y.shape:
            out[k] = float("nan")
        elif x.dtype != y.dtype or not torch.equal(x.reshape(-1).view(BITS[x.dtype]), y.reshape(-1).view(BITS[y.dtype])):
            out[k] = float((x.double() - y.double()).abs().max())
    return out


def params_of(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"param {n}": full(p).clone() for n, p in net.named_parameters()}


def snapshot(net: torch.nn.Module, opt: Optimizer) -> dict[str, torch.Tensor]:
    out = params_of(net)
    for n, slots in opt.state_dict()["state"].items():
        out.update({f"state {n}.{k}": full(v).clone() for k, v in slots.items()})
    return out


def check_exact(results: dict, out_dir: str) -> None:
    """Each spec on each path: the sharded optimizer equals the unsharded one bit for bit."""
    found = {}
    runs = [(label, "auto", None) for label in SPECS] + [(label, "reference", None) for label in FUSED]
    runs += [(label, "compiled", None) for label in COMPILED]
    # bfloat16 parameters with float32 state: the rule in float32, rounded into the shards
    runs += [(label, "auto", torch.bfloat16) for label in ("torch.AdamW", "ms.Lamb-groups")]
    for label, path, low in runs:
        start = time.perf_counter()
        run = f"{label} {path}" + (" bfloat16" if low else "")
        try:
            model = Tiny if path == "compiled" else Net
            plain, sharded = model(), model()
            if low is not None:
                plain, sharded = plain.to(low), sharded.to(low)
            shard(sharded)
            options = {"path": path, "state_dtype": torch.float32 if low else None}
            a = Optimizer(plain.named_parameters(), SPECS[label](), **options)
            b = Optimizer(sharded.named_parameters(), SPECS[label](), **options)
            for step in range(STEPS):
                grads = {n: g if low is None else g.to(low) for n, g in gradients(step, plain).items()}
                set_grads(plain, grads)
                set_grads(sharded, grads)
                a.step()
                b.step()
            found[run] = differences(snapshot(plain, a), snapshot(sharded, b))
        except Exception:
            found[run] = {"error": traceback.format_exc()}
        results.setdefault("exact seconds", {})[run] = round(time.perf_counter() - start, 2)
    results["exact"] = found
    results["algorithms"] = sorted({canonical_of(SPECS[label]()).algorithm.name for label in SPECS})


#: the specs checkpointed: DTensor state with groups (LAMB), torch's fused kernel (AdamW),
#: factored plain-tensor state (Adafactor), a per-step learning-rate list (Momentum)
CHECKPOINTED = ["ms.Lamb-groups", "torch.AdamW", "torch.Adafactor", "ms.Momentum-groups"]


def train(net: torch.nn.Module, opt: Optimizer, steps: range) -> None:
    for step in steps:
        set_grads(net, gradients(step, net))
        opt.step()


def exact_params(net: torch.nn.Module) -> dict[str, list[float]]:
    """The parameters as floats (JSON keeps a float32 widened to a double exactly)."""
    return {n: full(p).detach().reshape(-1).tolist() for n, p in net.named_parameters()}


def check_checkpoint(results: dict, out_dir: str) -> None:
    """DCP's optimizer state dict round-trips in memory and through ``dcp.save``/``dcp.load``:
    the resumed run equals the uninterrupted one bit for bit; the checkpoints and the
    uninterrupted run's parameters are left for the ``reload`` phase."""
    found = {}
    for label in CHECKPOINTED:
        net = sharded_net()
        opt = Optimizer(net.named_parameters(), SPECS[label]())
        train(net, opt, range(STEPS))
        osd = get_optimizer_state_dict(net, opt)
        dcp.save({"model": get_model_state_dict(net), "optim": osd},
                 checkpoint_id=os.path.join(out_dir, label))
        in_memory, restored = sharded_net(), sharded_net()
        for fresh in (in_memory, restored):
            set_model_state_dict(fresh, get_model_state_dict(net))
        opt_memory = Optimizer(in_memory.named_parameters(), SPECS[label]())
        set_optimizer_state_dict(in_memory, opt_memory, osd)
        opt_restored = Optimizer(restored.named_parameters(), SPECS[label]())
        template = {"model": get_model_state_dict(restored), "optim": get_optimizer_state_dict(restored, opt_restored)}
        dcp.load(template, checkpoint_id=os.path.join(out_dir, label))
        set_model_state_dict(restored, template["model"])
        set_optimizer_state_dict(restored, opt_restored, template["optim"])
        for n, o in ((net, opt), (in_memory, opt_memory), (restored, opt_restored)):
            train(n, o, range(STEPS, STEPS + RESUME_STEPS))
        want = snapshot(net, opt)
        found[label] = {"global_step": [o.global_step for o in (opt, opt_memory, opt_restored)],
                        "in memory": differences(want, snapshot(in_memory, opt_memory)),
                        "dcp": differences(want, snapshot(restored, opt_restored)),
                        "params": exact_params(net)}
    results["checkpoint"] = found


def check_reload(results: dict, out_dir: str) -> None:
    """One process loads the checkpoints two saved into the unsharded model, continues, and
    continues on the NumPy backend from its neutral state."""
    saved = json.load(open(os.path.join(out_dir, "sharded-0.json")))["checkpoint"]
    found = {}
    for label in CHECKPOINTED:
        net = Net()
        opt = Optimizer(net.named_parameters(), SPECS[label]())
        template = {"model": get_model_state_dict(net), "optim": get_optimizer_state_dict(net, opt)}
        dcp.load(template, checkpoint_id=os.path.join(out_dir, label))
        set_model_state_dict(net, template["model"])
        set_optimizer_state_dict(net, opt, template["optim"])
        neutral = opt.neutral_state_dict()
        numpy_params = {n: p.detach().numpy().copy() for n, p in net.named_parameters()}
        on_numpy = optbridge.build(SPECS[label](), numpy_params)
        on_numpy.load_state_dict(neutral)
        train(net, opt, range(STEPS, STEPS + RESUME_STEPS))
        for step in range(STEPS, STEPS + RESUME_STEPS):
            on_numpy.step({n: g.numpy() for n, g in gradients(step, net).items()})
        got = exact_params(net)
        found[label] = {
            "global_step": [opt.global_step, on_numpy.global_step, saved[label]["global_step"][0]],
            "torch": {n: max(abs(a - b) for a, b in zip(got[n], want)) if got[n] != want else 0.0
                      for n, want in saved[label]["params"].items()},
            "numpy": {n: float(np.max(np.abs(numpy_params[n].reshape(-1) - np.asarray(got[n], np.float32))))
                      for n in got},
        }
    results["reload"] = found


def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(500 + step)
    return torch.randn(8, 2, 2, generator=g), torch.randn(8, 1, generator=g)


def check_training(results: dict, out_dir: str) -> None:
    """A real FSDP2 loop (each process half of the global batch): optbridge's AdamW against
    the unsharded optbridge run on the global batch (they differ by the reduce-scatter's
    rounding of the gradients only) and against ``torch.optim.AdamW(fused=True)`` on the
    same sharded layout; and, given the same gradients, optbridge's sharded AdamW and SGD
    against ``torch.optim``'s fused ones on the unsharded model, bit for bit."""
    rank, world = dist.get_rank(), dist.get_world_size()
    lo, hi = rank * 8 // world, (rank + 1) * 8 // world
    sharded, torch_sharded, plain = sharded_net(), sharded_net(), Net()
    opts = [Optimizer(sharded.named_parameters(), optim.AdamW(None, lr=0.01, weight_decay=0.1)),
            torch.optim.AdamW(torch_sharded.parameters(), lr=0.01, weight_decay=0.1, fused=True),
            Optimizer(plain.named_parameters(), optim.AdamW(None, lr=0.01, weight_decay=0.1))]
    for step in range(STEPS + RESUME_STEPS):
        x, y = batch(step)
        for net, opt, part in ((sharded, opts[0], slice(lo, hi)), (torch_sharded, opts[1], slice(lo, hi)),
                               (plain, opts[2], slice(0, 8))):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x[part]), y[part]).backward()
            opt.step()
    found = {"vs unsharded": differences(params_of(plain), params_of(sharded)),
             "vs torch.optim sharded": differences(params_of(torch_sharded), params_of(sharded))}
    for label, ours, theirs in (
            ("AdamW", lambda: optim.AdamW(None, lr=0.01, weight_decay=0.1),
             lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1, fused=True)),
            ("SGD", lambda: optim.SGD(None, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
             lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3, fused=True))):
        net, reference = sharded_net(), Net()
        a, b = Optimizer(net.named_parameters(), ours()), theirs(reference.parameters())
        for step in range(STEPS):
            grads = gradients(step, reference)
            set_grads(net, grads)
            set_grads(reference, grads)
            a.step()
            b.step()
        found[f"{label} vs torch.optim unsharded, same gradients"] = differences(params_of(reference), params_of(net))
    results["training"] = found


def check_refusals(results: dict, out_dir: str) -> None:
    """flat=True and capturable=True refuse DTensor parameters; a gradient that is not sharded
    as its parameter is refused, and the refused step changes nothing."""
    found = {}
    net = sharded_net()
    for option in ("flat", "capturable"):
        try:
            Optimizer(net.named_parameters(), optim.Adam(None, lr=0.1), **{option: True})
            found[option] = "accepted"
        except SpecValueError as exc:
            found[option] = str(exc)
    opt = Optimizer(net.named_parameters(), nn.Lamb(None, 0.01))
    train(net, opt, range(1))
    before = snapshot(net, opt)
    set_grads(net, gradients(1, net))
    weight = net.fc.weight
    weight.grad = distribute_tensor(gradients(1, net)["fc.weight"], weight.device_mesh, [Replicate()],
                                    src_data_rank=None)
    try:
        opt.step()
        found["replicated grad"] = "stepped"
    except StepInputError as exc:
        found["replicated grad"] = str(exc)
    found["unchanged"] = differences(before, snapshot(net, opt))
    found["global_step"] = opt.global_step
    results["refusals"] = found


#: the ZeRO checks: groups, a per-step lr list and centralization (Momentum), reducing rules (LAMB),
#: a one-parameter group (empty on the other process) whose Adam bias corrections run on both
ZERO = {
    "ms.Momentum-groups": SPECS["ms.Momentum-groups"],
    "ms.Lamb-groups": SPECS["ms.Lamb-groups"],
    "ms.Adam-lone-group": lambda: nn.Adam([{"params": "head.bias", "lr": 0.05}, {"params": "*"}], 0.01),
}


def check_zero(results: dict, out_dir: str) -> None:
    """ZeRO with multi-group specs equals the unsharded optimizer; its consolidated state is
    the unsharded optimizer's neutral state and resumes bit for bit; torch's own ZeRO class
    with :func:`spec_param_groups` steps alike, and its ``load_state_dict`` is refused."""
    found = {}
    for label in ZERO:
        plain, net, stock_net = Net(), Net(), Net()
        reference = Optimizer(plain.named_parameters(), ZERO[label]())
        zero = ZeroRedundancyOptimizer(net, ZERO[label]())
        stock = TorchZero(spec_param_groups(ZERO[label](), stock_net), optimizer_class=Optimizer,
                          spec=ZERO[label](), names=stock_net, partition=True)
        runs = ((plain, reference), (net, zero), (stock_net, stock))
        for n, o in runs:
            for step in range(STEPS):
                set_grads(n, gradients(step, n))
                o.step()
        entry = {"zero": differences(params_of(plain), params_of(net)),
                 "stock": differences(params_of(plain), params_of(stock_net))}
        zero.consolidate_state_dict(to=0)
        stock.consolidate_state_dict(to=0)
        box = [zero.state_dict() if dist.get_rank() == 0 else None]
        dist.broadcast_object_list(box, src=0)
        consolidated = box[0]
        want = reference.state_dict()
        entry["consolidated"] = {
            "global_step": [consolidated["global_step"], want["global_step"]],
            "groups": [[(k, g[k], h.get(k)) for k in g if g[k] != h.get(k)]
                       for g, h in zip(consolidated["groups"], want["groups"])],
            "state": differences({f"{n}.{k}": v for n, s in want["state"].items() for k, v in s.items()},
                                 {f"{n}.{k}": v for n, s in consolidated["state"].items() for k, v in s.items()}),
        }
        if dist.get_rank() == 0:
            by_index = stock.state_dict()["state"]
            name_of = {p: n for n, p in stock_net.named_parameters()}
            names = [name_of[p] for g in stock.param_groups for p in g["params"]]
            entry["stock consolidated"] = differences(
                {f"{n}.{k}": v for n, s in want["state"].items() for k, v in s.items()},
                {f"{names[i]}.{k}": v for i, s in by_index.items() for k, v in s.items()})
            try:
                stock.load_state_dict(stock.state_dict())
                entry["stock load"] = "loaded"
            except StateDictError as exc:
                entry["stock load"] = str(exc)
        resumed_net = Net()
        resumed = ZeroRedundancyOptimizer(resumed_net, ZERO[label]())
        with torch.no_grad():
            for p, q in zip(resumed_net.parameters(), net.parameters()):
                p.copy_(q)
        resumed.load_state_dict(consolidated)
        for n, o in ((plain, reference), (resumed_net, resumed)):
            for step in range(STEPS, STEPS + RESUME_STEPS):
                set_grads(n, gradients(step, n))
                o.step()
        entry["resumed"] = differences(params_of(plain), params_of(resumed_net))
        found[label] = entry
    results["zero"] = found


def main() -> None:
    phase, rank, world, init_file, out_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=world)
    results: dict = {}
    checks = {"sharded": [check_exact, check_training, check_refusals, check_checkpoint, check_zero], "reload": [check_reload]}[phase]
    seconds = {}
    for check in checks:
        start = time.perf_counter()
        try:
            check(results, out_dir)
        except Exception:
            results[check.__name__] = {"error": traceback.format_exc()}
        seconds[check.__name__] = round(time.perf_counter() - start, 2)
    results["seconds"] = seconds
    with open(os.path.join(out_dir, f"{phase}-{rank}.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    dist.destroy_process_group()
    # torch's gloo threads can abort the interpreter's teardown after a clean
    # destroy_process_group (see tests/test_torch_distributed.py); everything is written
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
