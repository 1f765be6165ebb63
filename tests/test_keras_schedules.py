"""optbridge's keras.optimizers.schedules against Keras 3 (float32), and their use in specs.

Live: every schedule with several argument sets, steps 0..199, within 1 ulp of Keras'
own float32 result (``ULP_LIMIT``; the maximum seen is printed with ``-s``). Numpy-only:
Keras' validation messages, configs, and use as a group's learning rate.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import optbridge
from optbridge.dialects.keras import optimizers
from optbridge.dialects.keras.optimizers import schedules
from optbridge.dialects.mindspore import nn
from optbridge.schedules import schedule_registry

#: Config formats this environment can write (YAML needs the optional PyYAML).
CONFIG_FORMATS = ("json", "toml") + (("yaml",) if importlib.util.find_spec("yaml") else ())

STEPS = 200
ULP_LIMIT = 1

CASES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.9}),
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.9, "staircase": True}),
    ("ExponentialDecay", {"initial_learning_rate": 3e-4, "decay_steps": 100, "decay_rate": 0.96}),
    ("PiecewiseConstantDecay", {"boundaries": [5, 20, 40], "values": [0.1, 0.05, 0.01, 0.001]}),
    ("PiecewiseConstantDecay", {"boundaries": [100], "values": [1.0, 0.5]}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 30, "end_learning_rate": 0.001, "power": 0.5}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 13, "power": 2.0, "cycle": True}),
    ("PolynomialDecay", {"initial_learning_rate": 0.01, "decay_steps": 200}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5, "staircase": True}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 50, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 40, "warmup_target": 0.1, "warmup_steps": 10}),
    ("CosineDecay", {"initial_learning_rate": 0.001, "decay_steps": 250, "alpha": 0.01, "warmup_target": 0.01,
                     "warmup_steps": 25}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 10}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 7, "t_mul": 1.0, "m_mul": 0.9,
                             "alpha": 0.05}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 5, "t_mul": 3.0, "m_mul": 0.5}),
]


def ulps(a: float, b: float) -> int:
    x, y = np.array(a, np.float32).view(np.int32), np.array(b, np.float32).view(np.int32)
    return abs(int(x) - int(y))


@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_values_match_keras_within_one_ulp(name, kwargs):
    keras = pytest.importorskip("keras")
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    ours = getattr(schedules, name)(**kwargs)
    worst = 0
    for step in range(STEPS):
        expected = np.float32(keras.ops.convert_to_numpy(theirs(step)))
        got = ours(step)
        assert got == float(np.float32(got)), "values are float32"
        worst = max(worst, ulps(got, expected))
        assert worst <= ULP_LIMIT, (name, step, got, float(expected))
    print(f"{name}: max {worst} ulp over {STEPS} steps")


def test_keras_optimizer_step_counter_matches():
    """Keras calls the schedule with ``iterations`` = 0 for the first update; so does the engine."""
    keras = pytest.importorskip("keras")
    sched_k = keras.optimizers.schedules.ExponentialDecay(0.1, 3, 0.5)
    var = keras.Variable(np.ones(2, np.float32))
    opt_k = keras.optimizers.SGD(learning_rate=sched_k)
    opt = optbridge.build(nn.SGD(None, learning_rate=schedules.ExponentialDecay(0.1, 3, 0.5)),
                          {"w": np.ones(2, np.float32)})
    for _ in range(7):
        assert opt.get_lr()[0] == float(np.float32(keras.ops.convert_to_numpy(opt_k.learning_rate)))
        opt_k.apply_gradients([(keras.ops.ones(2), var)])
        opt.step({"w": np.ones(2, np.float32)})


@pytest.mark.parametrize("build,message", [
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.9), "Argument `decay_steps` must be > 0. Received: decay_steps=0"),
    (lambda: schedules.PolynomialDecay(0.1, -3), "Argument `decay_steps` must be > 0. Received: decay_steps=-3"),
    (lambda: schedules.CosineDecayRestarts(0.1, 0), "Argument `first_decay_steps` must be > 0"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2]),
     "The length of boundaries should be 1 less than the length of values"),
    (lambda: schedules.CosineDecay("0.1", 10), "'initial_learning_rate' must be a number"),
])
def test_keras_validation(build, message):
    with pytest.raises((TypeError, ValueError), match=message):
        build()


def test_registered_and_round_trip_through_configs(tmp_path):
    for name in schedules.__all__[1:]:
        assert schedule_registry[f"keras.optimizers.schedules.{name}"] is getattr(schedules, name)
    assert optimizers.schedules is schedules
    spec = nn.Momentum([{"params": "conv*", "lr": schedules.CosineDecay(0.0, 40, warmup_target=0.1, warmup_steps=5)},
                        {"params": "*", "lr": schedules.CosineDecayRestarts(0.05, 10, t_mul=1.5),
                         "weight_decay": schedules.PiecewiseConstantDecay([10], [1e-4, 1e-5])}],
                       learning_rate=0.1, momentum=0.9)
    for suffix in CONFIG_FORMATS:
        assert optbridge.load(optbridge.save(spec, tmp_path / f"k.{suffix}")) == spec
    assert schedules.CosineDecay(0.1, 10).to_dict() == {
        "schedule": "keras.optimizers.schedules.CosineDecay", "initial_learning_rate": 0.1, "decay_steps": 10,
        "alpha": 0.0, "name": "CosineDecay", "warmup_steps": 0}


def test_reference_values():
    """Independent float64 re-derivations of the documented formulas, rounded to float32."""
    e = schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)
    assert [e(s) for s in (0, 9, 10, 25)] == [float(np.float32(0.1 * 0.5**k)) for k in (0, 0, 1, 2)]
    pw = schedules.PiecewiseConstantDecay([3, 6], [1.0, 0.5, 0.25])
    assert [pw(s) for s in range(9)] == [1.0] * 4 + [0.5] * 3 + [0.25] * 2
    c = schedules.CosineDecay(0.2, 10, alpha=0.5)
    for s in (0, 5, 10, 20):
        ref = 0.2 * (0.5 * 0.5 * (1 + np.cos(np.pi * min(s, 10) / 10)) + 0.5)
        assert abs(c(s) - ref) <= 2e-8, s
    r = schedules.CosineDecayRestarts(1.0, 4, t_mul=2.0, m_mul=0.5)
    assert r(4) == 0.5 and r(12) == 0.25  # restarts after 4 and 4 + 8 steps, amplitude halved each time


def test_per_group_keras_schedules_in_a_spec():
    params = {"a": np.zeros(2, np.float32), "b": np.zeros(2, np.float32)}
    lr_a = schedules.InverseTimeDecay(0.1, 2, 1.0)
    wd_b = schedules.PolynomialDecay(1e-3, 4, end_learning_rate=0.0)
    opt = optbridge.build(nn.Momentum([{"params": "a", "lr": lr_a}, {"params": "b", "weight_decay": wd_b}],
                                      learning_rate=0.05, momentum=0.9), params)
    engine = opt.engine
    for step in range(6):
        assert opt.get_lr()[0] == lr_a(step)
        assert engine.weight_decay_at(engine.groups[1], step) == wd_b(step)
        opt.step({k: np.ones(2, np.float32) for k in params})
