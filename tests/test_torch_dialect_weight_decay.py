"""Weight-decay schedules in the torch dialect (an optbridge extension, per group).

A torch-dialect ``SGD``/``AdamW`` whose groups take a per-step list and a declared
``StepLR`` as ``weight_decay`` runs against an independent float64 re-derivation of
torch's formulas written here (coupled ``g + wd(t)·p``; decoupled ``p·(1 − lr·wd(t))``),
on the NumPy backend and, where installed, on each path of the torch backend. Configs
round-trip; bad values name the group and key; plain numbers keep torch's own messages.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import optbridge
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim
from optbridge.dialects.torch.optim import lr_scheduler as obs
from optbridge.errors import ScheduleExhaustedError, SpecTypeError, SpecValueError

STEPS = 12
SHAPES = {"a.weight": (3, 4), "b.bias": (5,)}
#: group 0 ("a.*"): a per-step list; group 1 ("*"): torch's StepLR, advanced every step
WD_LIST = [0.1, 0.05, 0.2, 0.0, 0.15, 0.3, 0.01, 0.12, 0.07, 0.2, 0.05, 0.4]
WD_STEP = dict(lr=0.08, step_size=3, gamma=0.5)
LRS = (0.05, 0.02)


def wd_of_step(group: int, t: int) -> float:
    """The weight decay of 0-based step ``t``: the list entry, or StepLR's ``0.08·0.5^⌊t/3⌋``."""
    return WD_LIST[t] if group == 0 else WD_STEP["lr"] * WD_STEP["gamma"] ** (t // WD_STEP["step_size"])


def groups():
    return [{"params": "a.*", "lr": LRS[0], "weight_decay": list(WD_LIST)},
            {"params": "*", "lr": LRS[1], "weight_decay": obs.StepLR.declare(interval="step", **WD_STEP)}]


def initial():
    rng = np.random.RandomState(7)
    return {n: rng.standard_normal(s) for n, s in SHAPES.items()}


def gradient(t: int) -> dict[str, np.ndarray]:
    rng = np.random.RandomState(100 + t)
    return {n: rng.standard_normal(s) for n, s in SHAPES.items()}


def group_of(name: str) -> int:
    return 0 if name.startswith("a.") else 1


# -- float64 re-derivations of torch's single-tensor formulas ----------------------------------
def reference_sgd(momentum: float) -> dict[str, np.ndarray]:
    p, buf = initial(), {}
    for t in range(STEPS):
        for n, g in gradient(t).items():
            k = group_of(n)
            d = g + wd_of_step(k, t) * p[n]
            buf[n] = d.copy() if t == 0 else momentum * buf[n] + d
            p[n] = p[n] - LRS[k] * buf[n]
    return p


def reference_adamw(beta1: float, beta2: float, eps: float) -> dict[str, np.ndarray]:
    p = initial()
    m = {n: np.zeros(s) for n, s in SHAPES.items()}
    v = {n: np.zeros(s) for n, s in SHAPES.items()}
    for t in range(STEPS):
        for n, g in gradient(t).items():
            k = group_of(n)
            lr = LRS[k]
            p[n] = p[n] * (1.0 - lr * wd_of_step(k, t))
            m[n] = beta1 * m[n] + (1.0 - beta1) * g
            v[n] = beta2 * v[n] + (1.0 - beta2) * g * g
            bc1, bc2 = 1.0 - beta1 ** (t + 1), 1.0 - beta2 ** (t + 1)
            p[n] = p[n] - (lr / bc1) * m[n] / (np.sqrt(v[n]) / math.sqrt(bc2) + eps)
    return p


SPECS = {
    "sgd": (lambda: optim.SGD(groups(), lr=0.1, momentum=0.9), lambda: reference_sgd(0.9)),
    "adamw": (lambda: optim.AdamW(groups(), lr=0.1, betas=(0.85, 0.99), eps=1e-8),
              lambda: reference_adamw(0.85, 0.99, 1e-8)),
}


def run_numpy(spec) -> dict[str, np.ndarray]:
    params = initial()
    opt = optbridge.build(spec, params)
    for t in range(STEPS):
        opt.step(gradient(t))
    return params


def run_torch(spec, path: str, flat: bool) -> dict[str, np.ndarray]:
    torch = pytest.importorskip("torch")
    from optbridge.backends.torch import Optimizer

    tensors = {n: torch.tensor(v, requires_grad=True) for n, v in initial().items()}
    opt = Optimizer(tensors, spec, path=path, flat=flat, compile_threshold=0)
    seen = []
    for t in range(STEPS):
        seen.append([g["weight_decay"] for g in opt.param_groups])
        for n, g in gradient(t).items():
            tensors[n].grad = torch.tensor(g)
        opt.step()
    assert seen == [[wd_of_step(0, t), wd_of_step(1, t)] for t in range(STEPS)]
    return {n: t.detach().numpy() for n, t in tensors.items()}


def max_rel_dev(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> float:
    return max(float(np.max(np.abs(got[n] - want[n]) / np.abs(want[n]))) for n in want)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_per_group_weight_decay_schedules_follow_a_float64_rederivation(kind):
    make, reference = SPECS[kind]
    assert max_rel_dev(run_numpy(make()), reference()) <= 1e-12


@pytest.mark.parametrize("path,flat", [("reference", False), ("auto", False), ("auto", True), ("compiled", False)])
@pytest.mark.parametrize("kind", sorted(SPECS))
def test_torch_backend_paths_follow_the_same_rederivation(kind, path, flat):
    make, reference = SPECS[kind]
    assert max_rel_dev(run_torch(make(), path, flat), reference()) <= 1e-12


def test_the_schedules_are_the_steps_values():
    spec = optim.AdamW(groups(), lr=0.1).to_canonical()
    values = [g.weight_decay for g in spec.groups]
    assert [values[0].at(t) for t in range(STEPS)] == WD_LIST
    with pytest.raises(ScheduleExhaustedError):
        values[0].at(STEPS)


@pytest.mark.parametrize("fmt", ["json", "toml"])
def test_weight_decay_schedules_round_trip_through_configs(tmp_path, fmt):
    spec = optim.AdamW(groups(), lr=0.1, weight_decay=nn.CosineDecayLR(0.001, 0.01, 20))
    data = optbridge.to_dict(spec)
    assert data["params"][0]["weight_decay"] == WD_LIST
    assert data["params"][1]["weight_decay"]["schedule"] == "torch.optim.lr_scheduler.StepLR"
    assert data["weight_decay"]["schedule"] == "mindspore.nn.CosineDecayLR"
    again = optbridge.from_dict(json.loads(json.dumps(data)))
    assert again == spec and again.to_canonical() == spec.to_canonical()
    loaded = optbridge.load(optbridge.save(spec, tmp_path / f"adamw.{fmt}"))
    assert loaded == spec
    assert all((run_numpy(loaded)[n] == run_numpy(spec)[n]).all() for n in SHAPES)


def test_a_default_schedule_reaches_groups_without_their_own():
    wd = obs.ExponentialLR.declare(lr=0.1, gamma=0.5, interval="step")
    spec = optim.SGD([{"params": "a.*", "weight_decay": 0.0}, {"params": "*"}], lr=1.0, weight_decay=wd)
    params = {"a.weight": np.ones(2), "b.bias": np.ones(2)}
    opt = optbridge.build(spec, params)
    expected = 1.0
    for t in range(4):
        opt.step({n: np.zeros(2) for n in params})
        expected -= (0.1 * 0.5**t) * expected  # p ← p − lr·(0 + wd(t)·p), lr = 1
    assert (params["a.weight"] == 1.0).all()
    assert np.allclose(params["b.bias"], expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("build,error,message", [
    (lambda: optim.SGD(None, weight_decay=-0.1), SpecValueError, "Invalid weight_decay value: -0.1"),
    (lambda: optim.AdamW([{"params": "a.*"}, {"params": "*", "weight_decay": [0.1, 0.2, -0.1]}]),
     SpecValueError, "groups[1] ('*'): Invalid weight_decay value: -0.1 (weight_decay[2])"),
    (lambda: optim.Adam([{"params": "a.*", "weight_decay": [0.1, float("nan")]}]),
     SpecValueError, "groups[0] ('a.*'): Invalid weight_decay value: nan (weight_decay[1])"),
    (lambda: optim.Adafactor([{"params": "*", "weight_decay": [-1.0]}]),
     SpecValueError, "groups[0] ('*'): weight_decay should be >= 0 but is: -1.0 (weight_decay[0])"),
    (lambda: optim.SGD([{"params": "a.*"}, {"params": "*", "weight_decay": "0.1"}]), SpecTypeError,
     "groups[1] ('*'): 'weight_decay' must be a number, a per-step list of numbers or a Schedule, but got '0.1'"),
    (lambda: optim.RMSprop([{"params": "*", "weight_decay": [0.1, True]}]), SpecTypeError,
     "groups[0] ('*'): entries of a per-step 'weight_decay' list must be numbers; weight_decay[1] is True"),
    (lambda: optim.NAdam([{"params": "*", "weight_decay": []}]), SpecValueError,
     "groups[0] ('*'): a per-step 'weight_decay' list must not be empty"),
    (lambda: optim.SGD(None, lr=-1.0, weight_decay=[0.1, -0.1]), SpecValueError, "Invalid learning rate: -1.0"),
], ids=["number", "group_list", "group_list_nan", "adafactor_message", "group_str", "group_bool", "empty",
        "lr_first"])
def test_bad_weight_decay_values_name_the_group_and_key(build, error, message):
    with pytest.raises(error) as info:
        build()
    assert str(info.value) == message or str(info.value).startswith(message)


def test_plain_numbers_keep_torchs_own_messages():
    torch = pytest.importorskip("torch")
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam"):
        with pytest.raises(ValueError) as theirs:
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], weight_decay=-0.25)
        with pytest.raises(SpecValueError) as ours:
            getattr(optim, name)(None, weight_decay=-0.25)
        assert str(ours.value) == str(theirs.value), name
