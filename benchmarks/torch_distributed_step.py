"""Time one optimizer step on an FSDP2-sharded model: optbridge's torch backend against torch.optim.

Starts ``--world`` gloo processes on this machine (CPU, localhost). Each shards the same
MLP with ``fully_shard`` (``--layers`` square ``Linear(--width, --width)`` layers, so
every weight is a DTensor sharded on dim 0), computes one backward, then steps every
configuration of each family in turn on those gradients, ``--repeat`` times
interleaved. A step's time is the slowest process's (an all-reduce of the times); the
median over repetitions is printed with the ratio optbridge / torch.optim for torch's
default configuration and for its fastest one on this layout:

* ``adamw``: optbridge ``optim.AdamW`` (torch's fused kernel on each shard) against
  ``torch.optim.AdamW`` default (``foreach=None``), ``foreach=True`` and ``fused=True``;
* ``sgd``: optbridge MindSpore ``nn.Momentum`` against ``torch.optim.SGD(momentum=0.9)``
  the same three ways (torch 2.13's ``fused=True`` refuses DTensors: ``aten._fused_sgd_``
  has no sharding strategy; a configuration that raises at its first step is reported
  and left out);
* ``adafactor``: optbridge ``optim.Adafactor`` (a reducing rule: each parameter's whole
  tensors gathered, :mod:`optbridge.backends.torch.sharded`) against
  ``torch.optim.Adafactor`` (DTensor ops, partial sums all-reduced) default and
  ``foreach=True``.

The machine should be quiet; the script prints ``os.getloadavg()`` before and after.

    python benchmarks/torch_distributed_step.py
    python benchmarks/torch_distributed_step.py --width 1001 --families adamw   # shards off the chunk boundaries
    python benchmarks/torch_distributed_step.py --width 2048 --layers 4 --repeat 30 --families adamw
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def configurations(family: str, params: list[tuple[str, torch.Tensor]]) -> dict[str, Callable[[], Any]]:
    from optbridge.backends.torch import Optimizer
    from optbridge.dialects.mindspore import nn
    from optbridge.dialects.torch import optim

    tensors = [p for _, p in params]
    if family == "adamw":
        return {
            "optbridge": lambda: Optimizer(params, optim.AdamW(None, lr=1e-4)),
            "torch default": lambda: torch.optim.AdamW(tensors, lr=1e-4),
            "torch foreach": lambda: torch.optim.AdamW(tensors, lr=1e-4, foreach=True),
            "torch fused": lambda: torch.optim.AdamW(tensors, lr=1e-4, fused=True),
        }
    if family == "sgd":
        return {
            "optbridge": lambda: Optimizer(params, nn.Momentum(None, 1e-4, 0.9)),
            "torch default": lambda: torch.optim.SGD(tensors, lr=1e-4, momentum=0.9),
            "torch foreach": lambda: torch.optim.SGD(tensors, lr=1e-4, momentum=0.9, foreach=True),
            "torch fused": lambda: torch.optim.SGD(tensors, lr=1e-4, momentum=0.9, fused=True),
        }
    if family == "adafactor":
        return {
            "optbridge": lambda: Optimizer(params, optim.Adafactor(None, lr=1e-4)),
            "torch default": lambda: torch.optim.Adafactor(tensors, lr=1e-4),
            "torch foreach": lambda: torch.optim.Adafactor(tensors, lr=1e-4, foreach=True),
        }
    raise ValueError(family)


def worker(rank: int, args: argparse.Namespace, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.world))
    dist.init_process_group("gloo", rank=rank, world_size=args.world)
    from torch.distributed.fsdp import fully_shard

    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(args.width, args.width) for _ in range(args.layers)])
    for layer in model:
        fully_shard(layer)
    fully_shard(model)
    model(torch.randn(8, args.width)).square().mean().backward()
    params = list(model.named_parameters())
    if rank == 0:
        elements = sum(p.numel() for _, p in params)
        print(f"{args.world} processes, {len(params)} DTensor parameters, {elements:,} elements "
              f"({args.layers}× Linear({args.width}, {args.width})), float32, loadavg {os.getloadavg()}")
    for family in args.families:
        built = {name: make() for name, make in configurations(family, params).items()}
        refused = {}
        for name, opt in list(built.items()):
            try:  # the first step (every process refuses alike, before any collective)
                opt.step()
            except (NotImplementedError, RuntimeError) as exc:
                refused[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
                del built[name]
        times: dict[str, list[float]] = {name: [] for name in built}
        for repetition in range(args.warmup + args.repeat):
            for name, opt in built.items():
                dist.barrier()
                start = time.perf_counter()
                opt.step()
                elapsed = torch.tensor([time.perf_counter() - start])
                dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
                if repetition >= args.warmup:
                    times[name].append(float(elapsed))
        if rank == 0:
            median = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
            ours = median.pop("optbridge", float("nan"))
            print(f"\n{family}: median step (ms) over {args.repeat} repetitions, slowest process")
            print(f"  optbridge        {ours:9.3f}")
            for name, ms in median.items():
                print(f"  {name:16s} {ms:9.3f}")
            for name, why in refused.items():
                print(f"  {name:16s}   refused: {why}")
            if median:
                fastest = min(median, key=median.__getitem__)
                default = f"{ours / median['torch default']:.3f}" if "torch default" in median else "-"
                print(f"  ratio optbridge / torch default: {default}; / fastest ({fastest}): "
                      f"{ours / median[fastest]:.3f}")
        del built
    if rank == 0:
        print(f"\nloadavg {os.getloadavg()}")
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--families", nargs="+", default=["adamw", "sgd", "adafactor"],
                        choices=["adamw", "sgd", "adafactor"])
    args = parser.parse_args(argv)
    mp.spawn(worker, args=(args, free_port()), nprocs=args.world, join=True)


if __name__ == "__main__":
    main(sys.argv[1:])
