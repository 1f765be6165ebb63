"""MindSpore 2.10 goldens of the adaptive family that its CPU build does not compute as documented.

``adagrad_no_update_slots``: MindSpore 2.10's CPU ``ApplyAdagrad`` adds ``g²`` to the
accumulator even with ``update_slots=False`` (its trajectory equals ``adagrad_basic``, same
lr, bit for bit). ``nn.Adagrad`` follows the documented formula, re-derived here in NumPy.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import optbridge
from optbridge.conformance import layouts, streams

GOLDENS = json.loads((Path(__file__).parent / "goldens" / "mindspore_optimizers.json").read_text())
CASES = {c["name"]: c for c in GOLDENS["cases"]}
LAYOUT = layouts.get_layout(GOLDENS["layout"])


def test_mindspore_cpu_updates_the_accumulator_without_update_slots():
    assert CASES["adagrad_no_update_slots"]["config"]["update_slots"] is False
    assert CASES["adagrad_no_update_slots"]["trajectory"] == CASES["adagrad_basic"]["trajectory"]


def _documented_adagrad_without_update(config) -> dict[str, np.ndarray]:
    """``w = w − lr·g/√h`` with ``h`` fixed at ``accum`` (ApplyAdagrad, update_slots=False), float32."""
    f32 = np.float32
    lr = f32(config["learning_rate"])
    params = streams.as_dtype(streams.initial_params(LAYOUT, GOLDENS["seed"]), "float32")
    accum = {name: np.full(p.shape, f32(config.get("accum", 0.1))) for name, p in params.items()}
    for step in range(GOLDENS["steps"]):
        grads = streams.as_dtype(streams.gradients(LAYOUT, step, GOLDENS["seed"]), "float32")
        for name, p in params.items():
            p -= lr * grads[name] / np.sqrt(accum[name])
    return params


def test_no_update_slots_follows_the_documented_formula():
    config = CASES["adagrad_no_update_slots"]["config"]
    expected = _documented_adagrad_without_update(config)
    params = streams.as_dtype(streams.initial_params(LAYOUT, GOLDENS["seed"]), "float32")
    opt = optbridge.build(optbridge.from_dict(config), params, backend="numpy")
    for step in range(GOLDENS["steps"]):
        opt.step(streams.as_dtype(streams.gradients(LAYOUT, step, GOLDENS["seed"]), "float32"))
    for name in expected:
        np.testing.assert_array_equal(params[name], expected[name])
    assert all(np.all(s["sum"] == np.float32(0.1)) for s in opt.state_dict()["state"].values())
