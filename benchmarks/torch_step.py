"""Time one optimizer step: optbridge's torch backend against every torch.optim configuration.

In one process and interleaved (each repetition steps every configuration once, in
turn), for SGD-momentum, Adam, AdamW, RMSprop, Adagrad and ASGD (torch dialect) and
MindSpore-dialect Momentum and Adam, on three float32 layouts — the 161 ResNet-50
parameter shapes, 2,000 tensors of 512 elements, one 25.6M-element tensor — prints the
median step time of

* torch.optim ``for-loop`` (``foreach=False``), ``foreach`` and ``fused`` (where torch
  has them; MindSpore-dialect rows use the nearest torch algorithm: SGD-momentum, Adam);
* optbridge ``auto`` (torch's fused kernel where the canonical formula is torch's, else a
  compiled single pass) and optbridge ``flat`` (flat-buffer mode);

the ratio optbridge / fastest torch.optim configuration, and the multiple of the
bandwidth bound: bytes the update must move per step (parameter, gradient and state
read, parameter and state written) divided by the measured in-place bandwidth
(``a.add_(b)`` on 25.6M float32: 12 bytes per element).

It ends with the spec-layer overhead: a 1-element, 10-group model, where the step is all
per-step host work (engine scalars, schedules), against torch.optim's own overhead.

The first step of a compiled configuration compiles (seconds; inductor caches the
result on disk for later processes); warm-up steps are not timed. The machine should be
quiet: the script prints ``os.getloadavg()`` before and after.

    python benchmarks/torch_step.py --repeat 20
    python benchmarks/torch_step.py --layouts many --families adam --repeat 5
    python benchmarks/torch_step.py --device cuda      # every tensor on the GPU (Triton for compiled passes)

On a GPU each timed step ends with ``torch.cuda.synchronize()``, so a time is the
step's whole device work, for every column alike.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any, Callable

import torch

from optbridge.backends.torch import Optimizer
from optbridge.conformance import layouts
from optbridge.dialects.mindspore import nn

try:
    from optbridge.dialects.torch import optim as ob_optim
except ImportError:  # the torch dialect is optional for this script
    ob_optim = None

LAYOUTS = {
    "resnet50": lambda: [tuple(s) for _, s in layouts.get_layout("resnet50")],
    "many": lambda: [(512,)] * 2000,
    "one": lambda: [(25_557_032,)],
}

# family: (torch.optim class, kwargs, optbridge spec factory, words moved per element, torch configs)
def _dialect(name: str, **kwargs: Any) -> Callable[[], Any] | None:
    cls = getattr(ob_optim, name, None) if ob_optim is not None else None
    return None if cls is None else (lambda: cls(None, **kwargs))


FAMILIES: dict[str, tuple] = {
    "sgd_momentum": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}, _dialect("SGD", lr=0.01, momentum=0.9), 5),
    "adam": (torch.optim.Adam, {"lr": 1e-3}, _dialect("Adam", lr=1e-3), 7),
    "adamw": (torch.optim.AdamW, {"lr": 1e-3, "weight_decay": 0.01}, _dialect("AdamW", lr=1e-3, weight_decay=0.01), 7),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-3}, _dialect("RMSprop", lr=1e-3), 5),
    "adagrad": (torch.optim.Adagrad, {"lr": 1e-2}, _dialect("Adagrad", lr=1e-2), 5),
    "asgd": (torch.optim.ASGD, {"lr": 1e-2}, _dialect("ASGD", lr=1e-2), 5),
    "ms_momentum": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}, lambda: nn.Momentum(None, 0.01, 0.9), 5),
    "ms_adam": (torch.optim.Adam, {"lr": 1e-3}, lambda: nn.Adam(None, 1e-3), 7),
}


#: where the benchmark's tensors live (``--device``)
DEVICE = torch.device("cpu")


def _params(shapes, seed: int = 0) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, generator=g).to(DEVICE)) for s in shapes]


def _grads(shapes, seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(s, generator=g) * 1e-2).to(DEVICE) for s in shapes]


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def _timed(step: Callable[[], Any]) -> float:
    """Seconds for one call of ``step``, its device work included."""
    _sync()
    start = time.perf_counter()
    step()
    _sync()
    return time.perf_counter() - start


def _torch_configs(cls, kwargs) -> dict[str, dict]:
    configs = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}}
    if "fused" in cls.__init__.__code__.co_varnames:
        configs["fused"] = {"fused": True}
    return configs


def bandwidth_gbps() -> float:
    """In-place bandwidth: ``a.add_(b)`` on 25.6M float32 (read a, b; write a)."""
    a, b = torch.randn(25_557_032, device=DEVICE), torch.randn(25_557_032, device=DEVICE)
    a.add_(b)
    times = [_timed(lambda: a.add_(b)) for _ in range(7)]
    return 12 * a.numel() / statistics.median(times) / 1e9


def time_family(name: str, shapes, repeat: int, warmup: int, bw: float) -> list[str]:
    cls, kwargs, spec, words = FAMILIES[name]
    grads = _grads(shapes)
    runners: dict[str, Callable[[], None]] = {}
    for label, extra in _torch_configs(cls, kwargs).items():
        params = _params(shapes)
        for p, g in zip(params, grads):
            p.grad = g
        try:
            opt = cls(params, **kwargs, **extra)
        except (RuntimeError, ValueError) as exc:
            print(f"  {name} torch {label}: unavailable ({exc})")
            continue
        runners[f"torch {label}"] = opt.step
    if spec is not None:
        for label, flat in (("auto", False), ("flat", True)):
            params = _params(shapes)
            for p, g in zip(params, grads):
                p.grad = g
            opt = Optimizer([(f"p{i}", p) for i, p in enumerate(params)], spec(), flat=flat)
            runners[f"optbridge {label}"] = opt.step
    started = time.perf_counter()
    for step in runners.values():
        for _ in range(warmup):
            step()
    warm_s = time.perf_counter() - started
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(repeat):
        for label, step in runners.items():
            times[label].append(_timed(step))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    numel = sum(torch.Size(s).numel() for s in shapes)
    bound_ms = words * 4 * numel / (bw * 1e9) * 1e3
    torch_best = min(v for k, v in med.items() if k.startswith("torch"))
    cells = "  ".join(f"{k.split(' ', 1)[1]}={v:8.2f}" for k, v in med.items() if k.startswith("torch"))
    lines = [f"{name:13s} torch: {cells}   (bound {bound_ms:.2f} ms, warm-up incl. compiles {warm_s:.1f} s)"]
    if spec is None:
        lines.append(f"{'':13s} optbridge: n/a (no torch-dialect class {name} yet)")
    for label in ("optbridge auto", "optbridge flat"):
        if label in med:
            lines.append(f"{'':13s} {label:15s} {med[label]:8.2f} ms   ratio {med[label] / torch_best:5.2f}   "
                         f"x bound {med[label] / bound_ms:5.2f}")
    return lines


def spec_layer_overhead(repeat: int) -> list[str]:
    """Per-step cost with 10 one-element groups: all host work, no tensor work to speak of."""
    def groups(params):
        return [{"params": [p]} for p in params]

    tp = _params([(1,)] * 10)
    op = _params([(1,)] * 10)
    for p in tp + op:
        p.grad = torch.ones(1, device=DEVICE)
    t_opt = torch.optim.Adam(groups(tp), lr=1e-3)
    spec = ob_optim.Adam([{"params": [f"p{i}"]} for i in range(10)], lr=1e-3) if ob_optim is not None \
        else nn.Adam([{"params": [f"p{i}"]} for i in range(10)], 1e-3)
    o_opt = Optimizer([(f"p{i}", p) for i, p in enumerate(op)], spec, path="auto")
    runners = {"torch.optim Adam": t_opt.step, "optbridge Adam": o_opt.step}
    for step in runners.values():
        for _ in range(5):
            step()
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(repeat):
        for label, step in runners.items():
            times[label].append(_timed(step))
    med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    ratio = med["optbridge Adam"] / med["torch.optim Adam"]
    return [f"spec-layer overhead, 1-element x 10 groups: " +
            ", ".join(f"{k} {v:.0f} us" for k, v in med.items()) + f", ratio {ratio:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {args.device}: {where}, load average {os.getloadavg()}")
    bw = bandwidth_gbps()
    print(f"in-place bandwidth {bw:.1f} GB/s; medians in ms over {args.repeat} interleaved steps (float32)")
    for layout in args.layouts:
        shapes = LAYOUTS[layout]()
        numel = sum(torch.Size(s).numel() for s in shapes)
        print(f"\n== {layout}: {len(shapes)} tensors, {numel:,} elements")
        for family in args.families:
            for line in time_family(family, shapes, args.repeat, args.warmup, bw):
                print(line, flush=True)
    print()
    for line in spec_layer_overhead(max(args.repeat, 200)):
        print(line)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
