"""Checkpoint an optimizer in optbridge's neutral state format and resume it exactly.

Trains MindSpore's ``Adam`` (with AMSGrad and weight decay) on the LeNet-5 layout with the
NumPy backend, saves a checkpoint after half the steps — parameters and the optimizer's
``state_dict()`` — as plain files (``.npz`` for arrays, ``.json`` for counters and host
state; no pickle), builds a fresh optimizer from the same spec, loads the checkpoint and
finishes the run. The resumed run ends bit-identical to an uninterrupted one. A
``set_lr`` made before the checkpoint travels with it (``lr_override``).

Run: ``python examples/checkpoint_resume.py [--steps N] [--out DIR]``
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import optbridge
from optbridge.conformance import layouts, streams
from optbridge.dialects.mindspore import nn

LAYOUT = layouts.lenet5
SEED = 5


def gradients(step: int) -> dict[str, np.ndarray]:
    return streams.as_dtype(streams.gradients(LAYOUT, step, SEED, scale=0.1), "float32")


def save_checkpoint(directory: Path, params: dict[str, np.ndarray], state: dict) -> None:
    """Arrays to ``.npz``, everything else to ``.json``."""
    arrays = {f"param/{name}": value for name, value in params.items()}
    for name, slots in state["state"].items():
        arrays.update({f"slot/{name}/{slot}": value for slot, value in slots.items()})
    np.savez(directory / "checkpoint.npz", **arrays)
    meta = {key: value for key, value in state.items() if key != "state"}
    (directory / "checkpoint.json").write_text(json.dumps(meta, indent=1))


def load_checkpoint(directory: Path) -> tuple[dict[str, np.ndarray], dict]:
    state = json.loads((directory / "checkpoint.json").read_text())
    params: dict[str, np.ndarray] = {}
    state["state"] = {}
    with np.load(directory / "checkpoint.npz") as arrays:
        for key in arrays.files:
            kind, rest = key.split("/", 1)
            if kind == "param":
                params[rest] = arrays[key]
            else:
                name, slot = rest.rsplit("/", 1)
                state["state"].setdefault(name, {})[slot] = arrays[key]
    return params, state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="total optimizer steps (default 8)")
    parser.add_argument("--out", type=Path, default=None, help="checkpoint directory (default: a temporary one)")
    args = parser.parse_args(argv)
    half = args.steps // 2
    spec = nn.Adam([{"params": {"min_ndim": 2}, "weight_decay": 1e-4}, {"params": "*"}],
                   learning_rate=1e-3, use_amsgrad=True)

    # The uninterrupted run.
    straight = streams.as_dtype(streams.initial_params(LAYOUT, SEED), "float32")
    opt = optbridge.build(spec, straight)
    for step in range(args.steps):
        if step == half - 1:
            opt.set_lr(5e-4)
        opt.step(gradients(step))

    # The interrupted run: train half, checkpoint, resume in a fresh optimizer.
    params = streams.as_dtype(streams.initial_params(LAYOUT, SEED), "float32")
    opt = optbridge.build(spec, params)
    for step in range(half):
        if step == half - 1:
            opt.set_lr(5e-4)
        opt.step(gradients(step))

    with tempfile.TemporaryDirectory(prefix="optbridge-checkpoint-") as tmp:
        directory = args.out or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        save_checkpoint(directory, params, opt.state_dict())
        print(f"checkpoint after step {opt.global_step}: "
              f"{', '.join(sorted(p.name for p in directory.iterdir()))}")
        restored_params, state = load_checkpoint(directory)

    resumed = optbridge.build(spec, restored_params)
    resumed.load_state_dict(state)
    print(f"resumed: global_step={resumed.global_step}, lr per group={resumed.get_lr()}")
    print(f"state keys: {sorted(state)}; slots of fc1.weight: {sorted(state['state']['fc1.weight'])}")
    for step in range(half, args.steps):
        resumed.step(gradients(step))

    identical = all(np.array_equal(restored_params[name], straight[name]) for name in straight)
    size = sum(v.size for v in straight.values())
    print(f"after {resumed.global_step} steps, {size} parameters: resumed == uninterrupted "
          f"bit for bit: {identical}")
    if not identical:
        raise SystemExit("the resumed run differs")


if __name__ == "__main__":
    main()
