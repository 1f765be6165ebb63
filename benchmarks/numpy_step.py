"""Time one optimizer step of the NumPy reference backend.

For each MindSpore-dialect optimizer, on a built-in layout (default: the 161 ResNet-50
tensors, 25.6M float32 parameters), prints the median step time over ``--repeat`` steps
and the effective memory traffic (bytes the canonical op order must read and write per
parameter, divided by the time). The NumPy backend is the conformance reference, not a
fast path: its numbers are the baseline the framework backends are compared with.

    python benchmarks/numpy_step.py --layout resnet50 --dtype float32 --repeat 5
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import optbridge
from optbridge.conformance import layouts, streams
from optbridge.dialects.mindspore import nn

SPECS = {
    "Momentum": lambda: nn.Momentum(None, 0.1, 0.9, weight_decay=1e-4),
    "SGD(dampening)": lambda: nn.SGD(None, 0.1, momentum=0.9, dampening=0.1),
    "ASGD": lambda: nn.ASGD(None, 0.1),
    "Adam": lambda: nn.Adam(None, 1e-3),
    "AdamWeightDecay": lambda: nn.AdamWeightDecay(None, 1e-3, weight_decay=0.01),
}
# float32 words read + written per parameter element by the canonical op order
# (param, grad, each slot read; param and each slot written).
WORDS = {"Momentum": 6, "SGD(dampening)": 5, "ASGD": 5, "Adam": 7, "AdamWeightDecay": 7}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default="resnet50", choices=sorted(layouts.LAYOUTS))
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    layout = layouts.get_layout(args.layout)
    size = sum(int(np.prod(s)) for _, s in layout)
    grads = streams.as_dtype(streams.gradients(layout, 0), args.dtype)
    itemsize = np.dtype(args.dtype).itemsize
    print(f"layout {args.layout}: {len(layout)} tensors, {size:,} elements, {args.dtype}, numpy {np.__version__}")
    print(f"{'optimizer':18s} {'median ms/step':>15s} {'GB/s':>8s}")
    for name, make in SPECS.items():
        params = streams.as_dtype(streams.initial_params(layout), args.dtype)
        opt = optbridge.build(make(), params, backend="numpy")
        opt.step(grads)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            opt.step(grads)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        gbps = WORDS[name] * itemsize * size / median / 1e9
        print(f"{name:18s} {median * 1e3:15.1f} {gbps:8.2f}")


if __name__ == "__main__":
    main()
