"""Engine behaviour through the NumPy backend: lr access, atomic steps, neutral state."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import optbridge
from optbridge.conformance import layouts, streams
from optbridge.dialects.mindspore import nn
from optbridge.errors import ScheduleExhaustedError, StateDictError, StaticLearningRateError, StepInputError

LAYOUT = layouts.tiny
NAMES = [n for n, _ in LAYOUT]


def fresh(dtype="float32", seed=3):
    return streams.as_dtype(streams.initial_params(LAYOUT, seed), dtype)


def grads(step, dtype="float32", scale=1.0):
    return streams.as_dtype(streams.gradients(LAYOUT, step, 3, scale=scale), dtype)


def snapshot(opt, params):
    return copy.deepcopy(params), copy.deepcopy(opt.state_dict())


def assert_unchanged(opt, params, snap):
    before_params, before_state = snap
    for n in params:
        np.testing.assert_array_equal(params[n], before_params[n])
    after = opt.state_dict()
    assert after["global_step"] == before_state["global_step"]
    assert after["groups"] == before_state["groups"]
    for n, slots in before_state["state"].items():
        for k, v in slots.items():
            np.testing.assert_array_equal(after["state"][n][k], v)


def test_get_lr_per_group_and_float32_rounding():
    poly = nn.PolynomialDecayLR(0.1, 0.01, 4, 0.5)
    spec = nn.Momentum([{"params": "conv*", "lr": poly}, {"params": "*", "lr": 0.3}], 0.1, 0.9)
    params = fresh()
    opt = optbridge.build(spec, params)
    f32 = np.float32
    # group 1 is static while group 0 is dynamic: MindSpore's _ConvertToCell returns lr + 1 - 1 in float32
    static = float((f32(0.3) + f32(1)) - f32(1))
    assert static != float(f32(0.3))
    assert opt.get_lr() == [poly.value(0), static]
    opt.step(grads(0))
    opt.step(grads(1))
    assert opt.get_lr() == [poly.value(2), static]
    assert abs(poly.value(2) - 0.0736396) < 5e-8


def test_set_lr_static_only_and_atomic():
    spec = nn.SGD([{"params": "conv*", "lr": [0.1] * 5}, {"params": "*", "lr": 0.2}], momentum=0.9)
    params = fresh()
    opt = optbridge.build(spec, params)
    before = opt.get_lr()
    with pytest.raises(StaticLearningRateError, match=r"groups\[0\] \('conv\*'\): 'lr' is dynamic"):
        opt.set_lr(0.5)
    assert opt.get_lr() == before
    opt.set_lr(0.5, group=1)
    assert opt.get_lr()[1] == float((np.float32(0.5) + np.float32(1)) - np.float32(1))
    with pytest.raises(ValueError):
        opt.set_lr(-1.0)
    with pytest.raises(ValueError):
        opt.set_lr(0.1, group=7)


def test_set_lr_changes_the_numbers():
    a, b = fresh(), fresh()
    opt_a = optbridge.build(nn.Momentum(None, 0.1, 0.9), a)
    opt_b = optbridge.build(nn.Momentum(None, 0.05, 0.9), b)
    opt_a.set_lr(0.05)
    for step in range(3):
        opt_a.step(grads(step))
        opt_b.step(grads(step))
    for n in NAMES:
        np.testing.assert_array_equal(a[n], b[n])


def test_exhausted_lr_list_fails_before_changing_anything():
    params = fresh()
    opt = optbridge.build(nn.Adam(None, learning_rate=[0.1, 0.05]), params)
    opt.step(grads(0))
    opt.step(grads(1))
    snap = snapshot(opt, params)
    with pytest.raises(ScheduleExhaustedError, match=r"groups\[0\] \('\*'\): 'lr': per-step value list has 2 entries, but step 2"):
        opt.step(grads(2))
    assert_unchanged(opt, params, snap)
    assert opt.global_step == 2


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda g: g.pop("fc.bias"), "no gradient for parameter"),
        (lambda g: g.__setitem__("fc.bias", np.zeros(4, np.float32)), "must be an ndarray of shape"),
        (lambda g: g.__setitem__("fc.bias", np.zeros(3, np.float64)), "has dtype float64"),
    ],
)
def test_bad_gradients_change_nothing(mutate, match):
    params = fresh()
    opt = optbridge.build(nn.ASGD(None, weight_decay=0.01), params)
    opt.step(grads(0))
    snap = snapshot(opt, params)
    g = grads(1)
    mutate(g)
    with pytest.raises(StepInputError, match=match):
        opt.step(g)
    assert_unchanged(opt, params, snap)


def test_sequence_gradients_follow_param_names():
    a, b = fresh(), fresh()
    order = list(reversed(NAMES))
    opt_a = optbridge.build(nn.Momentum([{"params": "*"}, {"order_params": order}], 0.1, 0.9), a)
    opt_b = optbridge.build(nn.Momentum(None, 0.1, 0.9), b)
    assert opt_a.param_names == tuple(order)
    g = grads(0)
    opt_a.step([g[n] for n in order])
    opt_b.step(g)
    for n in NAMES:
        np.testing.assert_array_equal(a[n], b[n])
    with pytest.raises(StepInputError, match="got 2 gradients for 6 parameters"):
        opt_a.step([g["fc.bias"], g["fc.weight"]])


SPECS = {
    "momentum": lambda: nn.Momentum(None, 0.1, 0.9, weight_decay=0.01),
    "sgd": lambda: nn.SGD(None, momentum=0.9, dampening=0.2),
    "asgd": lambda: nn.ASGD(None, 0.05, lambd=1e-2, t0=2.0),
    "adam": lambda: nn.Adam(None, 0.01, use_amsgrad=True),
    "adam_weight_decay": lambda: nn.AdamWeightDecay(None, nn.WarmUpLR(0.01, 3), weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resume_from_state_dict_reproduces_the_run(name, dtype):
    full = fresh(dtype)
    opt = optbridge.build(SPECS[name](), full)
    for step in range(7):
        opt.step(grads(step, dtype))
    half = fresh(dtype)
    first = optbridge.build(SPECS[name](), half)
    for step in range(3):
        first.step(grads(step, dtype))
    saved = first.state_dict()
    resumed_params = {n: v.copy() for n, v in half.items()}
    resumed = optbridge.build(SPECS[name](), resumed_params)
    resumed.load_state_dict(saved)
    assert resumed.global_step == 3
    for step in range(3, 7):
        resumed.step(grads(step, dtype))
    for n in NAMES:
        np.testing.assert_array_equal(resumed_params[n], full[n])


def test_state_dict_is_a_copy():
    params = fresh()
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), params)
    opt.step(grads(0))
    sd = opt.state_dict()
    sd["state"]["fc.bias"]["momentum_buffer"][...] = 99.0
    assert not np.any(opt.state_dict()["state"]["fc.bias"]["momentum_buffer"] == 99.0)


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda sd: sd.__setitem__("algorithm", "adam"), "runs 'sgd'"),
        (lambda sd: sd.__setitem__("global_step", -1), "global_step"),
        (lambda sd: sd["state"].pop("fc.bias"), "missing"),
        (lambda sd: sd["state"]["fc.bias"].__setitem__("momentum_buffer", np.zeros(5)), "shape"),
        (lambda sd: sd.__setitem__("format", "torch"), "not an optbridge state dict"),
        (lambda sd: sd["groups"][0]["host_state"].__setitem__("x", 1.0), "host state keys"),
    ],
)
def test_bad_state_dict_is_refused_whole(mutate, match):
    params = fresh()
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), params)
    opt.step(grads(0))
    sd = opt.state_dict()
    opt.step(grads(1))
    snap = snapshot(opt, params)
    mutate(sd)
    with pytest.raises(StateDictError, match=match):
        opt.load_state_dict(sd)
    assert_unchanged(opt, params, snap)


def test_frozen_parameters_are_untouched():
    params = fresh()
    before = {n: v.copy() for n, v in params.items()}
    opt = optbridge.build(nn.Adam([{"params": "fc.*"}], 0.01, unassigned="frozen"), params)
    opt.step(grads(0))
    assert opt.param_names == ("fc.weight", "fc.bias")
    for n in NAMES:
        changed = not np.array_equal(params[n], before[n])
        assert changed == n.startswith("fc.")


def test_default_filter_skips_beta_and_gamma_only_when_ungrouped():
    lr, wd = 0.1, 0.5
    zero = {n: np.zeros_like(v) for n, v in fresh().items()}
    ungrouped = fresh()
    optbridge.build(nn.SGD(None, lr, weight_decay=wd), ungrouped).step(zero)
    grouped = fresh()
    optbridge.build(nn.SGD([{"params": "*"}], lr, weight_decay=wd), grouped).step(zero)
    init = fresh()
    f32 = np.float32
    for n in NAMES:
        decayed = init[n] - f32(lr) * (init[n] * f32(wd) + zero[n])
        np.testing.assert_array_equal(grouped[n], decayed)
        expected = init[n] if ("beta" in n or "gamma" in n) else decayed
        np.testing.assert_array_equal(ungrouped[n], expected)


def test_loss_scale_and_weight_decay_are_invariant():
    """MindSpore multiplies weight decay by loss_scale and gradients by 1/loss_scale (DIALECTS D16)."""
    plain, scaled = fresh(), fresh()
    opt_plain = optbridge.build(nn.Momentum(None, 0.1, 0.9, weight_decay=0.01), plain)
    opt_scaled = optbridge.build(nn.Momentum(None, 0.1, 0.9, weight_decay=0.01, loss_scale=128.0), scaled)
    for step in range(4):
        opt_plain.step(grads(step))
        opt_scaled.step(grads(step, scale=128.0))
    for n in NAMES:
        np.testing.assert_array_equal(plain[n], scaled[n])


def test_float64_parameters_use_float64_kernels():
    params = fresh("float64")
    opt = optbridge.build(nn.ASGD(None, 0.1), params)
    opt.step(grads(0, "float64"))
    assert all(v.dtype == np.float64 for v in params.values())
    assert all(s["ax"].dtype == np.float64 for s in opt.state_dict()["state"].values())


def test_numpy_backend_refuses_other_arrays():
    with pytest.raises(TypeError, match="float32 or float64"):
        optbridge.build(nn.SGD(None), {"w": np.zeros(3, np.int64)}, backend="numpy")
    with pytest.raises(optbridge.OptbridgeError, match="no installed backend recognises"):
        optbridge.build(nn.SGD(None), {"w": [1.0, 2.0]})


# -- maximize: negation comes before coupled weight decay (torch order) ------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_maximize_negates_the_gradient_before_weight_decay(dtype):
    from optbridge.algorithms.sgd import SGD
    from optbridge.schedules.values import Constant
    from optbridge.spec import GroupSpec, OptimizerSpec

    lr, wd = 0.1, 0.01
    spec = OptimizerSpec(
        algorithm=SGD(momentum=0.9),
        lr=Constant(lr),
        weight_decay=Constant(wd),
        groups=(GroupSpec(params=["fc.weight"], overrides={"maximize": True}, source_index=0),
                GroupSpec(params="*", source_index=1)),
    )
    params = fresh(dtype)
    start = copy.deepcopy(params)
    opt = optbridge.build(spec, params)
    g = grads(0, dtype)
    opt.step(g)
    t = np.dtype(dtype).type
    for name in NAMES:
        sign = -1 if name == "fc.weight" else 1
        expected = start[name] - t(lr) * (sign * g[name] + start[name] * t(wd))
        np.testing.assert_allclose(params[name], expected, rtol=1e-6 if dtype == "float32" else 1e-14)


def test_snapshot_is_a_value_and_transaction_restores_everything():
    from optbridge.dialects.torch import optim

    params = {"w": np.ones(3, np.float32)}
    spec = optim.SGD([{"params": "*", "lr": optim.lr_scheduler.ReduceLROnPlateau.declare(0.1, factor=0.5, patience=0)}],
                     lr=0.1, momentum=0.9)
    opt = optbridge.build(spec, params)
    opt.step({"w": np.ones(3, np.float32)})
    engine = opt.engine
    before = engine.snapshot()
    sd_before = opt.state_dict()
    with pytest.raises(RuntimeError, match="boom"):
        with engine.transaction():
            engine.end_epoch(1.0)
            engine.end_epoch(2.0)          # plateau: the lr halves
            engine.set_hyperparameters(0, momentum=0.5)
            engine.global_step += 5
            assert engine.get_lr() != [np.float32(0.1)]
            raise RuntimeError("boom")
    after = opt.state_dict()
    assert after["global_step"] == sd_before["global_step"] and engine.get_lr() == opt.get_lr()
    assert after["groups"] == sd_before["groups"]
    # the snapshot did not follow the engine's later changes, and restores more than once
    engine.end_epoch(1.0)
    engine.end_epoch(2.0)
    assert opt.state_dict()["groups"] != sd_before["groups"]
    engine.restore(before)
    assert opt.state_dict()["groups"] == sd_before["groups"]
    engine.end_epoch(1.0)
    engine.restore(before)
    assert opt.state_dict()["groups"] == sd_before["groups"]


# -- groups added at run time; state values checked on their own --------------------------------
def _engine(momentum=0.9, groups=None):
    from optbridge.algorithms.sgd import SGD
    from optbridge.engine import Engine
    from optbridge.groups import ParamInfo
    from optbridge.schedules.values import Constant
    from optbridge.spec import OptimizerSpec

    spec = OptimizerSpec(algorithm=SGD(momentum=momentum), lr=Constant(0.1), groups=groups)
    return Engine(spec, [ParamInfo("a", (2,)), ParamInfo("b", (3,))])


def test_add_group_appends_a_fresh_group_and_a_transaction_takes_it_back():
    from optbridge.groups import ParamInfo
    from optbridge.schedules.values import Constant
    from optbridge.spec import GroupSpec

    engine = _engine(groups=(GroupSpec(params="*"),))
    engine.global_step = 4
    engine.set_lr(0.05, group=0)
    before = (engine.snapshot(), engine.spec, engine.params, engine.resolution, list(engine.groups))
    with pytest.raises(RuntimeError, match="later failure"):
        with engine.transaction():
            runtime = engine.add_group(GroupSpec(params=None, lr=Constant(0.2), overrides={"momentum": 0.5}),
                                       [ParamInfo("c", (4,))])
            assert engine.groups[-1] is runtime and engine.param_names == ("a", "b", "c")
            assert engine.get_lr() == [0.05, 0.2] and runtime.algorithm.momentum == 0.5
            raise RuntimeError("later failure")
    snap, spec, params, resolution, groups = before
    assert (engine.spec, engine.params, engine.resolution, engine.groups) == (spec, params, resolution, groups)
    assert engine.state_dict({}) == _state_of(engine, snap)
    # a '*' group keeps what it resolved to: the new parameters form the new group only
    engine.add_group(GroupSpec(params=None), [ParamInfo("c", (4,))])
    assert [g.names for g in engine.groups] == [("a", "b"), ("c",)] and engine.global_step == 4


def _state_of(engine, snap):
    from optbridge.engine import Engine

    twin = Engine(engine.spec, list(engine.params.values()))
    twin.restore(snap)
    return twin.state_dict({})


@pytest.mark.parametrize("group, params, error, match", [
    ({"overrides": {"momentum": "x"}}, ("c",), "SpecTypeError", "'momentum' must be a number"),
    ({"overrides": {"momentum": float("inf")}}, ("c",), "SpecValueError", "'momentum' must be a finite number"),
    ({"overrides": {"nesterov": 1}}, ("c",), "SpecTypeError", "'nesterov' must be a bool"),
    ({"overrides": {"speed": 1.0}}, ("c",), "SpecValueError", "'speed' is not a hyperparameter"),
    ({"lr": -1.0}, ("c",), "SpecValueError", "'lr' must be a finite number >= 0"),
    ({}, ("a",), "SpecValueError", "'a' is already in a group"),
    ({}, ("c", "c"), "SpecValueError", "appears twice"),
    ({}, (), "SpecValueError", "no parameters"),
])
def test_add_group_validates_in_full_before_anything_changes(group, params, error, match):
    from optbridge import errors
    from optbridge.groups import ParamInfo
    from optbridge.schedules.values import Constant
    from optbridge.spec import GroupSpec

    engine = _engine()
    if "lr" in group:
        group = dict(group, lr=Constant(group["lr"]))
    before = (engine.state_dict({}), engine.spec, dict(engine.params), engine.resolution, list(engine.groups))
    with pytest.raises(getattr(errors, error), match=match):
        engine.add_group(GroupSpec(params=None, **group), [ParamInfo(n, (2,)) for n in params])
    assert (engine.state_dict({}), engine.spec, dict(engine.params), engine.resolution, list(engine.groups)) == before


def test_state_values_validate_on_their_own():
    from optbridge.state import EngineState, GroupState

    engine = _engine()
    engine.set_hyperparameters(0, momentum=0.8)
    snap = engine.snapshot()
    snap.validate()  # a snapshot is a valid value
    good = snap.groups[0]
    bad_groups = {
        "groups[0].lr_override": GroupState(**{**good.__dict__, "lr_override": -0.5}),
        "groups[0].host_state.t": GroupState(**{**good.__dict__, "host_state": {"t": float("nan")}}),
        "groups[0].hyperparameters.momentum": GroupState(**{**good.__dict__, "hyperparameters": {"momentum": 0.7}}),
        "groups[0].hyperparameters.speed": GroupState(**{**good.__dict__, "hyperparameters": {"speed": 0.7}}),
        "groups[0].scheduler_values.initial_lr": GroupState(**{**good.__dict__,
                                                               "scheduler_values": {"initial_lr": "x"}}),
    }
    for path, group in bad_groups.items():
        with pytest.raises(StateDictError, match=path.replace("[", r"\[").replace("]", r"\]")):
            EngineState(global_step=1, groups=(group,), slots={}).validate()
    with pytest.raises(StateDictError, match="global_step"):
        EngineState(global_step=-1, groups=snap.groups, slots={}).validate()
    with pytest.raises(StateDictError, match=r"groups\[0\]: must be a GroupState"):
        EngineState(global_step=0, groups=({"lr_override": None},), slots={}).validate()  # type: ignore[arg-type]
    with pytest.raises(StateDictError, match="state: parameter names must be strings"):
        EngineState(global_step=0, groups=snap.groups, slots={1: {}}).validate()
    with pytest.raises(StateDictError, match="layout: holds 1 groups, the state 0"):
        EngineState(global_step=0, groups=(), slots={}, layout=snap.layout).validate()


def test_a_parsed_state_is_a_valid_value():
    opt = optbridge.build(nn.Adam(None, 0.01), fresh())
    opt.step(grads(0))
    parsed = opt.engine.parse_state_dict(opt.state_dict())
    parsed.validate()
    assert parsed.global_step == 1 and parsed.layout is None


def test_catch_up_gives_the_host_state_of_the_steps_a_backend_ran():
    """A replay with ``Engine.catch_up`` has the host state (Adam's powers, a declared
    schedule's runtime, the step counter) of an optimizer that ran the steps."""
    from optbridge.dialects.torch import optim as torch_optim
    from optbridge.engine import Engine
    from optbridge.groups import ParamInfo

    decl = torch_optim.lr_scheduler.StepLR.declare(0.1, step_size=2, gamma=0.5, interval="step")
    spec = torch_optim.Adam([{"params": "w", "lr": decl}, {"params": "b"}], lr=0.01).to_canonical()
    params = {"w": np.ones((2, 3)), "b": np.zeros(3)}
    opt = optbridge.build(spec, {k: v.copy() for k, v in params.items()}, backend="numpy")
    for _ in range(5):
        opt.step({k: np.full_like(v, 0.5) for k, v in params.items()})
    replay = Engine(spec, [ParamInfo(k, v.shape) for k, v in params.items()])
    replay.catch_up(5)
    replay.catch_up(3)   # already past: nothing happens
    assert replay.global_step == 5
    assert replay.state_dict({}) == opt.engine.state_dict({})
