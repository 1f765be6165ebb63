"""Time one Muon step: optbridge's torch backend against ``torch.optim.Muon``.

In one process and interleaved (each repetition steps every configuration once, in
turn), on ``--blocks`` transformer blocks' matrices (``--width d``: attention ``q``, ``k``,
``v``, ``o`` d×d each, MLP ``fc1`` 4d×d and ``fc2`` d×4d, float32), prints the median step
time of

* ``torch.optim.Muon`` (torch 2.13: one tensor at a time, bfloat16 Newton–Schulz);
* optbridge ``path="auto"`` (the default): torch's own Muon step, ``torch.optim.Muon``'s
  numbers bit for bit (bfloat16 products summed in float32; the conformance suite allows
  their distance from the rule by a cited loosening);
* optbridge ``path="compiled"``: the shared rule's numbers (bfloat16 products summed in
  float64, so every backend gets the same bits), its Newton–Schulz iterations run by
  :mod:`optbridge.backends.torch.muon` (each operand converted once);
* optbridge ``path="reference"`` with ``--reference``: the shared rule on the torch ops;

and each one's ratio to ``torch.optim.Muon`` measured in the same run. The machine
should be quiet: the script prints ``os.getloadavg()`` before and after.

    python benchmarks/muon_step.py --width 512 --blocks 2 --repeat 9
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


def block(width: int, blocks: int = 1) -> dict[str, tuple[int, int]]:
    """``blocks`` transformer blocks' Muon parameters (2-D weights only)."""
    out = {}
    for i in range(blocks):
        for name in ("q", "k", "v", "o"):
            out[f"blocks.{i}.attn.{name}.weight"] = (width, width)
        out[f"blocks.{i}.mlp.fc1.weight"] = (4 * width, width)
        out[f"blocks.{i}.mlp.fc2.weight"] = (width, 4 * width)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--reference", action="store_true", help="also time path='reference' (the rule)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    shapes = block(args.width, args.blocks)
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
    for path in ("auto", "compiled") + (("reference",) if args.reference else ()):
        p = params()
        configs[f"optbridge {path}"] = Optimizer(p, optim.Muon(None, lr=0.02), path=path)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    times: dict[str, list[float]] = {k: [] for k in configs}
    print(f"load before: {os.getloadavg()}; torch {torch.__version__}, device {args.device}, "
          f"threads {torch.get_num_threads()}, width {args.width}, {args.blocks} blocks: {len(shapes)} matrices")
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
        print(f"{name:20s} median {median * 1e3:9.2f} ms   ratio to torch.optim.Muon {median / base:6.2f}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
