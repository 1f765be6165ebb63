"""Save an optimizer config as JSON and TOML (and YAML), load it back, get the same numbers.

The spec is MindSpore's ``AdamWeightDecay`` with two parameter groups — the convolution
weights with a polynomial learning-rate schedule and their own weight decay, everything
else with a per-step learning-rate list — written as selectors and schedule records, so
it is plain data. The script writes it with ``optbridge.save``, reads every file back
with ``optbridge.load``, checks that each loaded spec equals the original, trains each on
the NumPy backend with the same deterministic gradients and shows that all runs end with
bit-identical parameters. YAML is included when PyYAML is installed.

Run: ``python examples/config_roundtrip.py [--out DIR] [--steps N]``
"""
from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path

import numpy as np

import optbridge
from optbridge.conformance import layouts, streams
from optbridge.dialects.mindspore import nn


def make_spec(steps: int) -> nn.AdamWeightDecay:
    return nn.AdamWeightDecay(
        [{"params": {"ndim": 4}, "weight_decay": 0.05,
          "lr": nn.PolynomialDecayLR(0.01, 0.001, decay_steps=max(steps - 1, 1), power=2.0)},
         {"params": "*", "lr": nn.warmup_lr(0.01, total_step=steps, step_per_epoch=1, warmup_epoch=2)},
         {"order_params": "*"}],
        learning_rate=0.01, weight_decay=0.01, eps=1e-8)


def train(spec, steps: int) -> dict[str, np.ndarray]:
    layout = layouts.guide
    params = streams.as_dtype(streams.initial_params(layout, seed=11), "float32")
    opt = optbridge.build(spec, params)
    for step in range(steps):
        opt.step(streams.as_dtype(streams.gradients(layout, step, seed=11), "float32"))
    return params


def fingerprint(params: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(params):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(params[name]).tobytes())
    return digest.hexdigest()[:16]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="directory for the files (default: a temporary one)")
    parser.add_argument("--steps", type=int, default=5, help="optimizer steps per run (default 5)")
    args = parser.parse_args(argv)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        roundtrip(args.out, args.steps)
    else:
        with tempfile.TemporaryDirectory(prefix="optbridge-configs-") as tmp:
            roundtrip(Path(tmp), args.steps)


def roundtrip(out: Path, steps: int) -> None:
    spec = make_spec(steps)
    formats = ["json", "toml"]
    try:
        import yaml  # noqa: F401
        formats.append("yaml")
    except ImportError:
        print("PyYAML is not installed: skipping YAML")

    reference = train(spec, steps)
    print(f"in memory: parameters after {steps} steps: sha256 {fingerprint(reference)}")
    for fmt in formats:
        path = optbridge.save(spec, out / f"adam_weight_decay.{fmt}")
        loaded = optbridge.load(path)
        assert loaded == spec, f"{path}: the loaded spec differs"
        result = train(loaded, steps)
        identical = all(np.array_equal(result[k], reference[k]) for k in reference)
        assert identical, f"{path}: different numbers"
        print(f"{fmt:5s} {path.stat().st_size:5d} bytes: parameters after {steps} steps: "
              f"sha256 {fingerprint(result)} (bit-identical: {identical})")
    print()
    print("adam_weight_decay.toml:")
    print((out / "adam_weight_decay.toml").read_text(), end="")

if __name__ == "__main__":
    main()
