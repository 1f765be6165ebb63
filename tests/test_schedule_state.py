"""Schedule state in the neutral state dict: a resumed run continues the uninterrupted sequence exactly.

The optimizer here mixes every clock: an epoch-interval SequentialLR, a plateau schedule
fed a metric, a per-step CyclicLR that also cycles momentum, a torch declaration as weight
decay and a Keras (step function) schedule. The run is interrupted at several points,
the state dict is copied (deep copy, as a checkpoint would be), loaded into a fresh
optimizer built from the same spec, and the rest of the run must give the same learning
rates, weight decays, momenta and parameters bit for bit.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import optbridge
from optbridge.algorithms.sgd import SGD
from optbridge.dialects.keras.optimizers import schedules as keras_schedules
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch.optim import lr_scheduler as obs
from optbridge.errors import StateDictError
from optbridge.schedules.values import Constant, Scheduled
from optbridge.spec import GroupSpec, OptimizerSpec
from optbridge.state import STATE_FORMAT_VERSION

STEPS_PER_EPOCH = 3
EPOCHS = 24
METRICS = [1.0, 0.8, 0.85, 0.9, 0.95, 0.7, 0.75, 0.76, 0.77, 0.78, 0.5] * 3


def spec() -> OptimizerSpec:
    warm_cos = obs.SequentialLR.declare(0.1, schedulers=[obs.LinearLR.declare(start_factor=0.1, total_iters=4),
                                                         obs.CosineAnnealingLR.declare(T_max=15, eta_min=1e-3)],
                                        milestones=[4])
    return OptimizerSpec(
        algorithm=SGD(momentum=0.9),
        lr=Constant(0.01),
        groups=(
            GroupSpec("conv*", lr=Scheduled(warm_cos),
                      weight_decay=Scheduled(obs.ExponentialLR.declare(1e-3, gamma=0.9)), source_index=0),
            GroupSpec("fc.*", lr=Scheduled(obs.ReduceLROnPlateau.declare(0.05, patience=1, factor=0.5, cooldown=1)),
                      source_index=1),
            GroupSpec("bn.*", lr=Scheduled(obs.CyclicLR.declare(base_lr=0.001, max_lr=0.02, step_size_up=5)),
                      source_index=2),
            GroupSpec("*", lr=Scheduled(keras_schedules.CosineDecay(0.0, 40, warmup_target=0.05, warmup_steps=10)),
                      weight_decay=Constant(1e-4), source_index=3),
        ),
    )


def params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    shapes = {"conv.weight": (4, 3), "fc.weight": (3, 2), "bn.gamma": (5,), "head.bias": (2,)}
    return {k: rng.standard_normal(s) for k, s in shapes.items()}


def grads(step: int, p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1000 + step)
    return {k: rng.standard_normal(v.shape) for k, v in p.items()}


def run(opt, p, start_epoch: int, stop_epoch: int, record: list) -> None:
    engine = opt.engine
    for epoch in range(start_epoch, stop_epoch):
        for _ in range(STEPS_PER_EPOCH):
            step = opt.global_step
            plan = engine.plan()
            record.append((step, opt.get_lr(), [engine.weight_decay_at(g, step) for g in engine.groups],
                           [b.algorithm.momentum for b in plan.buckets]))
            opt.step(grads(step, p))
        opt.end_epoch(metric=METRICS[epoch])


def uninterrupted():
    p = params()
    opt = optbridge.build(spec(), p)
    record: list = []
    run(opt, p, 0, EPOCHS, record)
    return record, p


@pytest.mark.parametrize("stop", [1, 5, 11, 17])
def test_resume_mid_run_reproduces_the_uninterrupted_sequence(stop):
    expected, final = uninterrupted()
    p = params()
    opt = optbridge.build(spec(), p)
    first: list = []
    run(opt, p, 0, stop, first)
    checkpoint = copy.deepcopy(opt.state_dict())
    saved_params = {k: v.copy() for k, v in p.items()}
    assert checkpoint["format_version"] == STATE_FORMAT_VERSION == 4
    groups = checkpoint["groups"]
    assert set(groups[0]["schedules"]) == {"lr", "weight_decay"} and set(groups[1]["schedules"]) == {"lr"}
    plateau = groups[1]["schedules"]["lr"]["runtime"]["scheduler"]
    assert {"best", "num_bad_epochs", "cooldown_counter", "last_epoch"} <= set(plateau)
    assert groups[3]["schedules"] == {}  # a pure step function keeps no state

    resumed = optbridge.build(spec(), saved_params)
    resumed.load_state_dict(checkpoint)
    rest: list = []
    run(resumed, saved_params, stop, EPOCHS, rest)
    assert first + rest == expected
    for k in final:
        assert np.array_equal(saved_params[k], final[k]), k


def test_the_sequence_really_varies():
    record, _ = uninterrupted()
    lrs = [r[1] for r in record]
    for g in range(4):
        assert len({lr[g] for lr in lrs}) > 5, g
    assert len({r[3][2] for r in record}) > 5  # CyclicLR's momentum cycles
    assert len({r[2][0] for r in record}) == EPOCHS  # ExponentialLR weight decay per epoch


def test_state_dict_must_fit_the_schedules():
    p = params()
    opt = optbridge.build(spec(), p)
    run(opt, p, 0, 2, [])
    sd = opt.state_dict()
    before = copy.deepcopy(opt.state_dict())

    wrong_kind = copy.deepcopy(sd)
    wrong_kind["groups"][1]["schedules"]["lr"]["kind"] = "torch.optim.lr_scheduler.StepLR"
    with pytest.raises(StateDictError, match=r"groups\[1\]\.schedules\['lr'\]: state is for a 'torch.optim"):
        opt.load_state_dict(wrong_kind)
    missing = copy.deepcopy(sd)
    del missing["groups"][0]["schedules"]["weight_decay"]
    with pytest.raises(StateDictError, match=r"groups\[0\]: schedule states for \['lr'\]"):
        opt.load_state_dict(missing)
    version_1 = copy.deepcopy(sd)
    version_1["format_version"] = 1
    del version_1["transforms"]  # format 4's
    for g in version_1["groups"]:
        for key in ("schedules", "scheduler_values", "hyperparameters", "first_step"):
            del g[key]
    with pytest.raises(StateDictError, match="schedule states for"):
        opt.load_state_dict(version_1)
    bad_hyper = copy.deepcopy(sd)
    bad_hyper["groups"][0]["hyperparameters"] = {"momentun": 0.5}
    with pytest.raises(StateDictError, match="not a hyperparameter of 'sgd'"):
        opt.load_state_dict(bad_hyper)
    assert repr(opt.state_dict()) == repr(before)


def test_format_1_states_still_load_into_optimizers_without_stateful_schedules():
    p = {"w": np.ones(3, np.float32)}
    opt = optbridge.build(nn.Momentum(None, learning_rate=0.1, momentum=0.9), p)
    opt.step({"w": np.ones(3, np.float32)})
    sd = opt.state_dict()
    legacy = {**{k: v for k, v in sd.items() if k != "transforms"}, "format_version": 1,
              "groups": [{k: v for k, v in g.items() if k in ("index", "params", "host_state", "lr_override")}
                         for g in sd["groups"]]}
    fresh = optbridge.build(nn.Momentum(None, learning_rate=0.1, momentum=0.9), {"w": np.ones(3, np.float32)})
    fresh.load_state_dict(legacy)
    assert fresh.global_step == 1


def test_format_2_states_load_as_groups_that_joined_at_step_0():
    p = {"w": np.ones(3, np.float32)}
    opt = optbridge.build(nn.Adam(None, learning_rate=0.1), p)
    opt.step({"w": np.ones(3, np.float32)})
    sd = opt.state_dict()
    legacy = {**{k: v for k, v in sd.items() if k != "transforms"}, "format_version": 2,
              "groups": [{k: v for k, v in g.items() if k != "first_step"} for g in sd["groups"]]}
    fresh = optbridge.build(nn.Adam(None, learning_rate=0.1), {"w": np.ones(3, np.float32)})
    fresh.load_state_dict(legacy)
    assert fresh.global_step == 1 and fresh.engine.groups[0].first_step == 0
    with pytest.raises(StateDictError, match="keys"):
        fresh.load_state_dict({**sd, "format_version": 2})  # format 2 has no first_step, no transforms


def test_end_epoch_is_all_or_nothing():
    """A schedule that fails in a later group leaves the earlier groups' schedules unadvanced."""
    p = {"a": np.zeros(2), "b": np.zeros(2)}
    s = OptimizerSpec(algorithm=SGD(momentum=0.9), groups=(
        GroupSpec("a", lr=Scheduled(obs.StepLR.declare(0.1, step_size=1, gamma=0.5)), source_index=0),
        GroupSpec("b", lr=Scheduled(obs.OneCycleLR.declare(max_lr=0.1, total_steps=2, interval="epoch")),
                  source_index=1)))
    opt = optbridge.build(s, p)
    opt.end_epoch()
    opt.end_epoch()
    before = (opt.get_lr(), copy.deepcopy(opt.state_dict()["groups"]))
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        opt.end_epoch()
    assert (opt.get_lr(), opt.state_dict()["groups"]) == before


def test_bound_scheduler_state_lives_in_the_optimizer_state():
    """initial_lr, max_lr, ... and the cycled momentum are in the neutral state, like torch's param_groups."""
    p = {"w": np.zeros(2)}
    opt = optbridge.build(OptimizerSpec(algorithm=SGD(momentum=0.9), lr=Constant(0.1)), p)
    sched = obs.OneCycleLR(opt, max_lr=0.2, total_steps=10)
    opt.step({"w": np.ones(2)})
    sched.step()
    group = opt.state_dict()["groups"][0]
    assert group["scheduler_values"] == {"initial_lr": 0.2 / 25.0, "max_lr": 0.2, "min_lr": 0.2 / 25.0 / 1e4,
                                         "max_momentum": 0.95, "base_momentum": 0.85}
    assert group["lr_override"] == sched.get_last_lr()[0]
    assert group["hyperparameters"] == {"momentum": opt.engine.groups[0].algorithm.momentum}
    fresh = optbridge.build(OptimizerSpec(algorithm=SGD(momentum=0.9), lr=Constant(0.1)), {"w": np.zeros(2)})
    fresh.load_state_dict(opt.state_dict())
    assert fresh.engine.groups[0].algorithm == opt.engine.groups[0].algorithm
    assert fresh.get_lr() == opt.get_lr()
