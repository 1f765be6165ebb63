"""Time one Muon step: optbridge's torch backend against ``torch.optim.Muon``.

In one process and interleaved (each repetition steps every configuration once, in
turn), on a transformer block's matrices (``--width d``: attention ``qkv`` 3d×d and
``proj`` d×d, MLP ``fc1`` 4d×d and ``fc2`` d×4d, float32), prints the median step time of

* ``torch.optim.Muon`` (torch 2.13: one tensor at a time, bfloat16 Newton–Schulz);
* optbridge ``path="native"``: torch's own Muon step (``FastPath.native_by_default`` is
  ``False`` for Muon: its float32 sums are outside the conformance tolerances of the rule);
* optbridge ``path="auto"``: the shared rule (bfloat16 products summed in float64, so
  every backend gets the same bits);

and each one's ratio to ``torch.optim.Muon`` measured in the same run. The machine
should be quiet: the script prints ``os.getloadavg()`` before and after.

    python benchmarks/muon_step.py --width 512 --repeat 10
    python benchmarks/muon_step.py --device cuda --width 1024
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from optbridge.backends.torch import Optimizer
from optbridge.dialects.torch import optim


def block(width: int) -> dict[str, tuple[int, int]]:
    """A transformer block's Muon parameters (2-D weights only)."""
    return {"attn.qkv.weight": (3 * width, width), "attn.proj.weight": (width, width),
            "mlp.fc1.weight": (4 * width, width), "mlp.fc2.weight": (width, 4 * width)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    shapes = block(args.width)
    init = {n: torch.randn(s, device=args.device) * 0.02 for n, s in shapes.items()}
    grads = {n: torch.randn(s, device=args.device) for n, s in shapes.items()}

    def params() -> dict[str, torch.nn.Parameter]:
        out = {n: torch.nn.Parameter(v.clone()) for n, v in init.items()}
        for n, p in out.items():
            p.grad = grads[n].clone()
        return out

    configs = {}
    p = params()
    configs["torch.optim.Muon"] = torch.optim.Muon(list(p.values()), lr=0.02)
    for path in ("native", "auto"):
        p = params()
        configs[f"optbridge {path}"] = Optimizer(p, optim.Muon(None, lr=0.02), path=path)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    times: dict[str, list[float]] = {k: [] for k in configs}
    print(f"load before: {os.getloadavg()}; torch {torch.__version__}, device {args.device}, "
          f"threads {torch.get_num_threads()}, width {args.width}: {shapes}")
    for rep in range(args.warmup + args.repeat):
        for name, opt in configs.items():
            sync()
            start = time.perf_counter()
            opt.step()
            sync()
            if rep >= args.warmup:
                times[name].append(time.perf_counter() - start)
    base = statistics.median(times["torch.optim.Muon"])
    for name, ts in times.items():
        median = statistics.median(ts)
        print(f"{name:18s} median {median * 1e3:9.2f} ms   ratio to torch.optim.Muon {median / base:6.2f}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
