"""Fault injection into real state dicts: ``load_state_dict`` is all or nothing.

The shipped check :func:`optbridge.conformance.state_faults.check_state_faults` (its
docstring lists the mutations and what is accepted on purpose) runs on every case and on
the NumPy, torch and TensorFlow backends, plus a torch run whose ``CyclicLR`` is torch's
own (it writes ``initial_lr``/``max_momentum``/... into ``param_groups`` and
``momentum`` through them). Then the faults the issue reported, one by one.
"""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

import optbridge
from optbridge.conformance.state_faults import STATE_FAULT_CASES, WARMUP, check_state_faults
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim
from optbridge.errors import SpecValueError, StateDictError


@pytest.mark.parametrize("case", sorted(STATE_FAULT_CASES))
@pytest.mark.parametrize("backend", ["numpy", "torch", "tensorflow"])
def test_every_mutation_is_refused_whole_or_harmless(backend, case):
    if backend != "numpy":
        pytest.importorskip(backend)
    report = check_state_faults(backend, case)
    print(report)
    assert report.refused > 100


def test_torch_param_groups_written_by_torch_schedulers():
    torch = pytest.importorskip("torch")

    def warm_up(opt, step):
        sched = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3)
        for k in range(WARMUP):
            step(k)
            sched.step()

    report = check_state_faults("torch", "sgd_cyclic", warm_up=warm_up)
    print(report)
    assert report.accepted > 20  # initial_lr, max_momentum, base_momentum: plain data, loaded as given


def _numpy_adam():
    params = {"w": np.linspace(-1, 1, 6).astype(np.float32).reshape(3, 2)}
    opt = optbridge.build(nn.Adam(None, 0.01), params)
    opt.step({"w": np.ones((3, 2), np.float32)})
    return opt, params


@pytest.mark.parametrize("value", ["abc", None, [0.5], math.nan, True])
def test_bad_host_state_names_its_path_and_changes_nothing(value):
    opt, params = _numpy_adam()
    sd = opt.state_dict()
    sd["state"]["w"]["exp_avg"] = np.full((3, 2), 7.0, np.float32)  # would be loaded first before
    sd["groups"][0]["host_state"]["beta1_power"] = value
    before = copy.deepcopy(opt.state_dict()), params["w"].copy()
    with pytest.raises(StateDictError, match=r"^groups\[0\]\.host_state\.beta1_power: must be a"):
        opt.load_state_dict(sd)
    assert repr(opt.state_dict()) == repr(before[0]) and np.array_equal(params["w"], before[1])


@pytest.mark.parametrize("value", [math.nan, -0.1, math.inf, "0.1", True])
def test_lr_override_follows_set_lr_rules(value):
    opt, _ = _numpy_adam()
    with pytest.raises(SpecValueError):
        opt.set_lr(value)
    sd = opt.state_dict()
    sd["groups"][0]["lr_override"] = value
    with pytest.raises(StateDictError, match=r"groups\[0\]\.lr_override"):
        opt.load_state_dict(sd)
    assert opt.get_lr() == [pytest.approx(0.01)]


def test_complex_slots_are_refused_not_truncated():
    opt, _ = _numpy_adam()
    sd = opt.state_dict()
    sd["state"]["w"]["exp_avg_sq"] = sd["state"]["w"]["exp_avg_sq"] + 1j
    with pytest.raises(StateDictError, match=r"state\['w'\]\.exp_avg_sq: must hold real floating-point values. "
                                             r"Received dtype complex"):
        opt.load_state_dict(sd)


def test_nan_hyperparameters_are_refused_on_load_and_by_set_hyperparameters():
    params = {"w": np.ones(2, np.float32)}
    opt = optbridge.build(optim.SGD(None, lr=0.1, momentum=0.9), params)
    sd = opt.state_dict()
    sd["groups"][0]["hyperparameters"] = {"momentum": math.nan}
    with pytest.raises(StateDictError, match=r"groups\[0\]\.hyperparameters\.momentum: must be a finite number"):
        opt.load_state_dict(sd)
    with pytest.raises(SpecValueError, match="'momentum' must be a finite number"):
        opt.engine.set_hyperparameters(0, momentum=math.nan)
    assert opt.engine.groups[0].algorithm.momentum == 0.9


def test_a_schedule_runtime_from_another_declaration_is_refused():
    from optbridge.dialects.torch.optim import lr_scheduler as obs
    spec = optim.SGD([{"params": "*", "lr": obs.StepLR.declare(0.1, step_size=2)}], lr=0.1)
    opt = optbridge.build(spec, {"w": np.ones(2)})
    sd = opt.state_dict()
    sd["groups"][0]["schedules"]["lr"]["runtime"]["scheduler"]["extra_attribute"] = 1
    with pytest.raises(StateDictError, match=r"runtime\.scheduler: keys do not match: missing \[\], unexpected "
                                             r"\['extra_attribute'\]"):
        opt.load_state_dict(sd)


def test_torch_param_group_that_is_not_a_dict_changes_nothing():
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.ones(2))
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), {"w": w})
    w.grad = torch.ones(2)
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    for _ in range(2):
        opt.step()
    sd["param_groups"][0] = ["not", "a", "dict"]
    with pytest.raises(StateDictError, match=r"param_groups\[0\]: must be a dict"):
        opt.load_state_dict(sd)
    assert opt.global_step == 3


def test_torch_scheduler_keys_are_replaced_on_load_like_torch():
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.ones(2))
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), {"w": w})
    sd = copy.deepcopy(opt.state_dict())
    opt.param_groups[0]["initial_lr"] = 0.5  # e.g. a torch scheduler bound after the checkpoint
    sd["param_groups"][0]["note"] = "mine"
    opt.load_state_dict(sd)
    assert "initial_lr" not in opt.param_groups[0] and opt.param_groups[0]["note"] == "mine"


def test_keras_adapter_refuses_a_corrupted_saved_state_before_assigning_any_variable():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    opt = optbridge.keras(nn.Adam(None, 0.01))
    model.compile(optimizer=opt, loss="mse")
    x, y = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    model.fit(x, y, epochs=1, verbose=0)
    store: dict = {}
    opt.save_own_variables(store)
    state = json.loads(store["optbridge"].tobytes().decode("utf-8"))
    state["groups"][0]["host_state"]["beta1_power"] = "abc"
    store["optbridge"] = np.frombuffer(json.dumps(state).encode("utf-8"), dtype=np.uint8)
    for key in store:
        if key != "optbridge":
            store[key] = np.asarray(store[key]) + 1.0  # every variable would change if assigned
    before = [v.numpy().copy() for v in opt.variables]
    with pytest.raises(StateDictError, match=r"groups\[0\]\.host_state\.beta1_power"):
        opt.load_own_variables(store)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, opt.variables))


def test_a_schedule_state_through_json_resumes_identically():
    """JSON (the Keras adapter's saved state) writes MultiStepLR's int milestone keys as strings
    and tuples as lists; the loaded runtime gets the declaration's types back."""
    from optbridge.dialects.torch.optim import lr_scheduler as obs
    spec = optim.SGD([{"params": "*", "lr": obs.MultiStepLR.declare(0.1, milestones=[2, 4])}], lr=0.1, momentum=0.9)
    first, reference = (optbridge.build(spec, {"w": np.ones(2)}) for _ in range(2))
    sd = first.state_dict()
    through_json = json.loads(json.dumps({k: v for k, v in sd.items() if k != "state"}))
    resumed = optbridge.build(spec, {"w": np.ones(2)})
    resumed.load_state_dict(dict(through_json, state=sd["state"]))
    lrs = []
    for _ in range(6):
        for opt in (resumed, reference):
            opt.step({"w": np.ones(2)})
            opt.end_epoch()
        assert resumed.get_lr() == reference.get_lr()
        lrs.append(resumed.get_lr()[0])
    assert len(set(lrs)) == 3  # both milestones were passed
