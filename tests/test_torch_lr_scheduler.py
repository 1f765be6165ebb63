"""optbridge's torch.optim.lr_scheduler against torch 2.13 itself, bit for bit in float64.

Every scheduler runs with several argument sets on two parameter groups with different
base learning rates for 70 steps, bound to an optbridge optimizer (NumPy backend, torch
dialect SGD or Adam) next to the same scheduler on a torch optimizer; learning rates
(``get_last_lr`` and what the optimizer will use) and cycled momentum/beta1 must be equal
(``==``). The same argument sets also run *declared* inside a spec, one declaration per
group, advanced by ``opt.end_epoch()`` (or per step). Numpy-only tests at the end cover
declarations, expressions, errors and configs.
"""
from __future__ import annotations

import importlib.util

import json
import math
import warnings

import numpy as np
import pytest

import optbridge
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim
from optbridge.dialects.torch.optim import lr_scheduler as obs
from optbridge.errors import ConfigError, StaticLearningRateError
from optbridge.schedules import schedule_registry
from optbridge.schedules.expression import Expression

#: Config formats this environment can write (YAML needs the optional PyYAML).
CONFIG_FORMATS = ("json", "toml") + (("yaml",) if importlib.util.find_spec("yaml") else ())

STEPS = 70
BASE_LRS = (0.1, 0.05)
METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.7, 0.8, 0.9, 0.2, 0.25, 0.3, 0.35, 0.4] * 5

#: (scheduler, kwargs, optimizer kind); lists/tuples at per-group keys hold one value per group.
CASES = [
    ("LambdaLR", {"lr_lambda": lambda e: 0.95**e}, "sgd"),
    ("LambdaLR", {"lr_lambda": [lambda e: e // 7, lambda e: 1.0 / (e + 1)]}, "sgd"),
    ("LambdaLR", {"lr_lambda": "1.0 - epoch / 100 if epoch <= 100 else 0.0"}, "sgd"),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.97}, "sgd"),
    ("MultiplicativeLR", {"lr_lambda": "0.99 if epoch % 3 else 0.9"}, "sgd"),
    ("StepLR", {"step_size": 5}, "sgd"),
    ("StepLR", {"step_size": 3, "gamma": 0.7}, "adam"),
    ("StepLR", {"step_size": 13, "gamma": 0.33}, "sgd"),
    ("MultiStepLR", {"milestones": [3, 7, 20, 41]}, "sgd"),
    ("MultiStepLR", {"milestones": [10, 10, 30], "gamma": 0.5}, "sgd"),
    ("ConstantLR", {}, "sgd"),
    ("ConstantLR", {"factor": 0.3, "total_iters": 11}, "adam"),
    ("LinearLR", {}, "sgd"),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.9, "total_iters": 23}, "sgd"),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 60}, "adam"),
    ("ExponentialLR", {"gamma": 0.97}, "sgd"),
    ("ExponentialLR", {"gamma": 0.5}, "adam"),
    ("PolynomialLR", {}, "sgd"),
    ("PolynomialLR", {"total_iters": 40, "power": 2.0}, "sgd"),
    ("PolynomialLR", {"total_iters": 65, "power": 0.5}, "adam"),
    ("CosineAnnealingLR", {"T_max": 10}, "sgd"),
    ("CosineAnnealingLR", {"T_max": 13, "eta_min": 0.001}, "sgd"),
    ("CosineAnnealingLR", {"T_max": 70, "eta_min": 0.01}, "adam"),
    ("CosineAnnealingWarmRestarts", {"T_0": 10}, "sgd"),
    ("CosineAnnealingWarmRestarts", {"T_0": 7, "T_mult": 2, "eta_min": 1e-4}, "sgd"),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 3, "eta_min": 0.002}, "adam"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 7}, "sgd"),
    ("CyclicLR", {"base_lr": [0.01, 0.02], "max_lr": [0.1, 0.2], "step_size_up": 5, "step_size_down": 9,
                  "mode": "triangular2"}, "sgd"),
    ("CyclicLR", {"base_lr": 0.001, "max_lr": 0.05, "step_size_up": 6, "mode": "exp_range", "gamma": 0.98,
                  "base_momentum": [0.8, 0.7], "max_momentum": 0.95}, "sgd"),
    ("CyclicLR", {"base_lr": 0.001, "max_lr": 0.05, "step_size_up": 4, "scale_fn": "1 / (x + 1)",
                  "scale_mode": "iterations"}, "adam"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 8, "cycle_momentum": False}, "sgd"),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": STEPS}, "sgd"),
    ("OneCycleLR", {"max_lr": [0.3, 0.2], "epochs": 7, "steps_per_epoch": 10, "three_phase": True}, "sgd"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 80, "anneal_strategy": "linear", "pct_start": 0.4,
                    "div_factor": 10.0, "final_div_factor": 100.0}, "adam"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": STEPS, "cycle_momentum": False}, "adam"),
    ("ReduceLROnPlateau", {}, "sgd"),
    ("ReduceLROnPlateau", {"patience": 1, "factor": 0.5}, "sgd"),
    ("ReduceLROnPlateau", {"mode": "max", "patience": 2, "factor": 0.7, "threshold": 0.05, "cooldown": 2}, "sgd"),
    ("ReduceLROnPlateau", {"mode": "min", "patience": 0, "threshold_mode": "abs", "threshold": 0.01,
                           "min_lr": [0.01, 0.004], "cooldown": 1}, "adam"),
    ("ReduceLROnPlateau", {"mode": "max", "threshold_mode": "abs", "patience": 1, "factor": 0.5,
                           "eps": 0.02}, "sgd"),
]

#: keys whose list value holds one entry per group
PER_GROUP = {"lr_lambda", "base_lr", "max_lr", "base_momentum", "max_momentum", "min_lr"}
#: (outer, inner schedulers with kwargs, outer kwargs)
NESTED = [
    ("SequentialLR", [("LinearLR", {"start_factor": 0.1, "total_iters": 5}), ("CosineAnnealingLR", {"T_max": 30})],
     {"milestones": [5]}),
    ("SequentialLR", [("ConstantLR", {"factor": 0.5, "total_iters": 3}), ("ExponentialLR", {"gamma": 0.9}),
                      ("StepLR", {"step_size": 4, "gamma": 0.5})], {"milestones": [4, 20]}),
    ("SequentialLR", [("LinearLR", {"start_factor": 0.2, "total_iters": 10}),
                      ("PolynomialLR", {"total_iters": 30, "power": 1.5})], {"milestones": [12]}),
    ("ChainedScheduler", [("ConstantLR", {"factor": 0.1, "total_iters": 2}), ("ExponentialLR", {"gamma": 0.9})], {}),
    ("ChainedScheduler", [("LinearLR", {"start_factor": 0.5, "total_iters": 8}), ("StepLR", {"step_size": 6}),
                          ("MultiStepLR", {"milestones": [15, 40]})], {}),
]


def case_id(case) -> str:
    return case[0]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# -- the two optimizers -----------------------------------------------------------------------
def optbridge_optimizer(kind: str):
    params = {"a.weight": np.zeros((2, 3)), "b.bias": np.zeros(4)}
    groups = [{"params": "a.*", "lr": BASE_LRS[0]}, {"params": "b.*", "lr": BASE_LRS[1]}]
    if kind == "sgd":
        spec = optim.SGD(groups, lr=0.1, momentum=0.9)
    else:
        spec = optim.Adam(groups, lr=0.1, betas=(0.9, 0.999))
    return optbridge.build(spec, params), params


def torch_optimizer(torch, kind: str):
    a, b = torch.zeros(2, 3, requires_grad=True), torch.zeros(4, requires_grad=True)
    groups = [{"params": [a], "lr": BASE_LRS[0]}, {"params": [b], "lr": BASE_LRS[1]}]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    return torch.optim.Adam(groups, lr=0.1, betas=(0.9, 0.999))


def torch_kwargs(kwargs: dict) -> dict:
    """torch takes callables: expressions become the equivalent lambda (evaluated by us)."""
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, str) and k in ("lr_lambda", "scale_fn"):
            v = Expression(v, ("x",) if k == "scale_fn" else ("epoch", "step"))
        out[k] = v
    return out


def momenta_ob(opt, kind: str) -> list[float]:
    hp = [g.algorithm.hyperparameters() for g in opt.engine.groups]
    return [h["momentum"] if kind == "sgd" else h["beta1"] for h in hp]


def momenta_torch(opt, kind: str) -> list[float]:
    return [g["momentum"] if kind == "sgd" else g["betas"][0] for g in opt.param_groups]


def torch_lrs(opt) -> list[float]:
    return [g["lr"] for g in opt.param_groups]


def zero_grads(params):
    return {k: np.zeros_like(v) for k, v in params.items()}


def step_both(name, so, st, epoch: int):
    if name == "ReduceLROnPlateau":
        so.step(METRICS[epoch])
        st.step(METRICS[epoch])
    else:
        so.step()
        st.step()


# -- bound form, bit for bit ------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bound_scheduler_matches_torch(case):
    torch = pytest.importorskip("torch")
    name, kwargs, kind = case
    opt, params = optbridge_optimizer(kind)
    topt = torch_optimizer(torch, kind)
    so = getattr(obs, name)(opt, **kwargs)
    st = getattr(torch.optim.lr_scheduler, name)(topt, **torch_kwargs(kwargs))
    for epoch in range(STEPS):
        assert so.get_last_lr() == st.get_last_lr(), (name, epoch)
        assert [opt.engine.static_lr(i) for i in range(2)] == torch_lrs(topt), (name, epoch)
        assert momenta_ob(opt, kind) == momenta_torch(topt, kind), (name, epoch)
        opt.step(zero_grads(params))
        topt.step()
        step_both(name, so, st, epoch)
    assert so.get_last_lr() == st.get_last_lr()


@pytest.mark.parametrize("nested", NESTED, ids=lambda n: n[0])
def test_bound_sequential_and_chained_match_torch(nested):
    torch = pytest.importorskip("torch")
    outer, inner, kwargs = nested
    opt, params = optbridge_optimizer("sgd")
    topt = torch_optimizer(torch, "sgd")
    ours = [getattr(obs, n)(opt, **kw) for n, kw in inner]
    theirs = [getattr(torch.optim.lr_scheduler, n)(topt, **kw) for n, kw in inner]
    if outer == "SequentialLR":
        so, st = obs.SequentialLR(opt, ours, **kwargs), torch.optim.lr_scheduler.SequentialLR(topt, theirs, **kwargs)
    else:
        so, st = obs.ChainedScheduler(ours, opt), torch.optim.lr_scheduler.ChainedScheduler(theirs, topt)
    for epoch in range(STEPS):
        assert so.get_last_lr() == st.get_last_lr(), epoch
        assert opt.get_lr() == torch_lrs(topt), epoch
        opt.step(zero_grads(params))
        topt.step()
        so.step()
        st.step()


def test_several_schedulers_on_one_optimizer_compose_like_torch():
    torch = pytest.importorskip("torch")
    opt, params = optbridge_optimizer("sgd")
    topt = torch_optimizer(torch, "sgd")
    ours = [obs.StepLR(opt, step_size=4, gamma=0.5), obs.ExponentialLR(opt, gamma=0.95),
            obs.MultiplicativeLR(opt, lr_lambda="1.01")]
    theirs = [torch.optim.lr_scheduler.StepLR(topt, step_size=4, gamma=0.5),
              torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.95),
              torch.optim.lr_scheduler.MultiplicativeLR(topt, lr_lambda=lambda e: 1.01)]
    for epoch in range(STEPS):
        assert opt.get_lr() == torch_lrs(topt), epoch
        assert [s.get_last_lr() for s in ours] == [s.get_last_lr() for s in theirs]
        for s in ours + theirs:
            s.step()


@pytest.mark.parametrize("name,kwargs", [("StepLR", {"step_size": 4}), ("CosineAnnealingLR", {"T_max": 9}),
                                         ("ExponentialLR", {"gamma": 0.9}), ("LinearLR", {"total_iters": 20})])
def test_last_epoch_resume_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt, _ = optbridge_optimizer("sgd")
    topt = torch_optimizer(torch, "sgd")
    so, st = getattr(obs, name)(opt, **kwargs), getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    for _ in range(12):
        so.step()
        st.step()
    # a new scheduler resuming at last_epoch=12 (initial_lr is kept in the groups, as in torch)
    so = getattr(obs, name)(opt, last_epoch=12, **kwargs)
    st = getattr(torch.optim.lr_scheduler, name)(topt, last_epoch=12, **kwargs)
    for epoch in range(STEPS):
        assert so.get_last_lr() == st.get_last_lr(), epoch
        so.step()
        st.step()


@pytest.mark.parametrize("name,kwargs", [("StepLR", {"step_size": 3, "gamma": 0.5}),
                                         ("MultiStepLR", {"milestones": [2, 5, 5]}),
                                         ("CosineAnnealingLR", {"T_max": 8, "eta_min": 0.01}),
                                         ("PolynomialLR", {"total_iters": 9}), ("LinearLR", {}),
                                         ("ConstantLR", {}), ("ExponentialLR", {"gamma": 0.8})])
def test_deprecated_step_epoch_uses_closed_forms_like_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt, _ = optbridge_optimizer("sgd")
    topt = torch_optimizer(torch, "sgd")
    so, st = getattr(obs, name)(opt, **kwargs), getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    for epoch in [3, 1, 7, 7, 12, 0, 20, 5]:
        so.step(epoch)
        st.step(epoch)
        assert so.get_last_lr() == st.get_last_lr(), epoch


def test_warm_restarts_fractional_epochs_match_torch():
    torch = pytest.importorskip("torch")
    iters = 7
    opt, _ = optbridge_optimizer("sgd")
    topt = torch_optimizer(torch, "sgd")
    so = obs.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=1e-3)
    st = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=3, T_mult=2, eta_min=1e-3)
    for epoch in range(10):
        for i in range(iters):
            so.step(epoch + i / iters)
            st.step(epoch + i / iters)
            assert so.get_last_lr() == st.get_last_lr(), (epoch, i)
    # the declared form with steps_per_epoch steps the same way after every optimizer step
    decl = obs.CosineAnnealingWarmRestarts.declare(lr=BASE_LRS[0], T_0=3, T_mult=2, eta_min=1e-3,
                                                   steps_per_epoch=iters)
    assert decl.interval == "step"
    params = {"w": np.zeros(2)}
    dopt = optbridge.build(optim.SGD([{"params": "w", "lr": decl}], lr=0.1), params)
    topt = torch_optimizer(torch, "sgd")
    st = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=3, T_mult=2, eta_min=1e-3)
    for epoch in range(10):
        for i in range(iters):
            assert dopt.get_lr()[0] == topt.param_groups[0]["lr"], (epoch, i)
            dopt.step({"w": np.zeros(2)})
            st.step(epoch + i / iters)


def test_bound_state_dict_resume_reproduces_the_sequence():
    opt, params = optbridge_optimizer("sgd")
    sched = obs.OneCycleLR(opt, max_lr=0.3, total_steps=STEPS)
    expected = []
    for i in range(STEPS):
        expected.append((opt.get_lr(), momenta_ob(opt, "sgd")))
        opt.step(zero_grads(params))
        sched.step()
        if i == 29:
            opt_state, sched_state = opt.state_dict(), sched.state_dict()
    opt2, params2 = optbridge_optimizer("sgd")
    opt2.load_state_dict(opt_state)
    sched2 = obs.OneCycleLR(opt2, max_lr=0.3, total_steps=STEPS, last_epoch=29)
    sched2.load_state_dict(sched_state)
    for i in range(30, STEPS):
        assert (opt2.get_lr(), momenta_ob(opt2, "sgd")) == expected[i], i
        opt2.step(zero_grads(params2))
        sched2.step()


# -- declared form, bit for bit ---------------------------------------------------------------
def per_group(kwargs: dict, index: int) -> dict:
    out = {}
    for k, v in kwargs.items():
        out[k] = v[index] if k in PER_GROUP and isinstance(v, (list, tuple)) else v
    return out


def declared_optimizer(kind: str, declarations):
    params = {"a.weight": np.zeros((2, 3)), "b.bias": np.zeros(4)}
    groups = [{"params": "a.*", "lr": declarations[0]}, {"params": "b.*", "lr": declarations[1]}]
    if kind == "sgd":
        spec = optim.SGD(groups, lr=0.1, momentum=0.9)
    else:
        spec = optim.Adam(groups, lr=0.1, betas=(0.9, 0.999))
    return optbridge.build(spec, params), params


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_declared_scheduler_matches_torch(case):
    torch = pytest.importorskip("torch")
    name, kwargs, kind = case
    cls = getattr(obs, name)
    sets_lr = name in ("CyclicLR", "OneCycleLR")
    decls = [cls.declare(None if sets_lr else BASE_LRS[i], interval="epoch", **per_group(kwargs, i))
             for i in range(2)]
    opt, params = declared_optimizer(kind, decls)
    topt = torch_optimizer(torch, kind)
    st = getattr(torch.optim.lr_scheduler, name)(topt, **torch_kwargs(kwargs))
    for epoch in range(STEPS):
        assert opt.get_lr() == torch_lrs(topt), (name, epoch)
        expected_m = momenta_torch(topt, kind)
        plan_algs = [b.algorithm for b in opt.engine.plan().buckets]
        got_m = [a.momentum if kind == "sgd" else a.beta1 for a in plan_algs]
        if kwargs.get("cycle_momentum", True) and sets_lr:
            assert got_m == expected_m, (name, epoch)
        opt.step(zero_grads(params))
        topt.step()
        if name == "ReduceLROnPlateau":
            opt.end_epoch(METRICS[epoch])
            st.step(METRICS[epoch])
        else:
            opt.end_epoch()
            st.step()


@pytest.mark.parametrize("nested", NESTED, ids=lambda n: n[0])
def test_declared_sequential_and_chained_match_torch(nested):
    torch = pytest.importorskip("torch")
    outer, inner, kwargs = nested
    decls = [getattr(obs, outer).declare(BASE_LRS[i], schedulers=[getattr(obs, n).declare(**kw) for n, kw in inner],
                                         **kwargs) for i in range(2)]
    opt, params = declared_optimizer("sgd", decls)
    topt = torch_optimizer(torch, "sgd")
    theirs = [getattr(torch.optim.lr_scheduler, n)(topt, **kw) for n, kw in inner]
    if outer == "SequentialLR":
        st = torch.optim.lr_scheduler.SequentialLR(topt, theirs, **kwargs)
    else:
        st = torch.optim.lr_scheduler.ChainedScheduler(theirs, topt)
    for epoch in range(STEPS):
        assert opt.get_lr() == torch_lrs(topt), epoch
        opt.step(zero_grads(params))
        opt.end_epoch()
        st.step()


def test_step_interval_onecycle_follows_the_per_batch_loop_and_stops_like_torch():
    torch = pytest.importorskip("torch")
    decl = obs.OneCycleLR.declare(max_lr=0.2, total_steps=30)
    assert decl.interval == "step"
    params = {"w": np.zeros(3)}
    opt = optbridge.build(optim.SGD([{"params": "w", "lr": decl}], lr=0.1, momentum=0.9), params)
    topt = torch.optim.SGD([torch.zeros(3, requires_grad=True)], lr=0.1, momentum=0.9)
    st = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.2, total_steps=30)
    for _ in range(31):  # torch allows total_steps + 1 optimizer steps in the per-batch loop
        assert opt.get_lr()[0] == topt.param_groups[0]["lr"]
        opt.step({"w": np.zeros(3)})
        topt.step()
        if _ < 30:
            st.step()
    with pytest.raises(ValueError, match="Tried to step 31 times. The specified number of total steps is 30"):
        st.step()
    before = params["w"].copy(), opt.global_step
    with pytest.raises(ValueError, match="Tried to step 31 times"):
        opt.step({"w": np.ones(3)})
    assert (params["w"] == before[0]).all() and opt.global_step == before[1]


# -- numpy only -------------------------------------------------------------------------------
def test_every_torch_scheduler_has_a_registered_declaration():
    for name in obs.__all__:
        if name in ("LRScheduler", "TorchSchedule"):
            continue
        kind = f"torch.optim.lr_scheduler.{name}"
        assert schedule_registry[kind] is getattr(obs, name).Declaration


def test_expression_strings_are_serialisable_and_callables_are_not():
    decl = obs.LambdaLR.declare(0.1, lr_lambda="0.95 ** epoch")
    data = decl.to_dict()
    assert data == {"schedule": "torch.optim.lr_scheduler.LambdaLR", "lr": 0.1, "lr_lambda": "0.95 ** epoch"}
    assert [decl.value(e) for e in range(4)] == [0.1 * 0.95**e for e in range(4)]
    with_callable = obs.LambdaLR.declare(0.1, lr_lambda=lambda epoch: 0.95**epoch)
    assert with_callable.value(3) == decl.value(3)
    with pytest.raises(TypeError, match="Python callable .* not serialisable; give an expression string"):
        with_callable.to_dict()
    with pytest.raises(TypeError, match="not serialisable"):
        optbridge.to_dict(optim.SGD([{"params": "*", "lr": with_callable}], lr=0.1))


@pytest.mark.parametrize("source,message", [
    ("__import__('os').system('true')", "this call"),
    ("epoch.real", "Attribute"),
    ("[1, 2][epoch]", "Subscript"),
    ("lambda: 1", "Lambda"),
    ("x * 2", "the name 'x'"),
    ("2 ** 10 ** 9", "too large"),
    ("0.9 **", "not valid"),
    ("True", "the constant True"),
])
def test_expressions_refuse_anything_outside_the_grammar(source, message):
    with pytest.raises(ValueError, match=message):
        Expression(source)(3)


def test_expression_semantics_are_pythons():
    cases = {"epoch // 30": lambda e: e // 30, "0.95 ** step": lambda e: 0.95**e,
             "max(0.1, 1 - epoch / 10)": lambda e: max(0.1, 1 - e / 10),
             "1 if epoch < 3 and epoch != 1 else -0.5": lambda e: 1 if e < 3 and e != 1 else -0.5,
             "floor(epoch / 4) + cos(pi * epoch / 8) + exp(-epoch) % 0.3": None}
    for source, fn in cases.items():
        expr = Expression(source)
        for e in range(12):
            expected = fn(e) if fn else math.floor(e / 4) + math.cos(math.pi * e / 8) + math.exp(-e) % 0.3
            assert expr(e) == expected and type(expr(e)) is type(expected), (source, e)


def test_binding_errors():
    with pytest.raises(TypeError, match="^dict is not an Optimizer"):
        obs.StepLR({"lr": 0.1}, step_size=3)
    params = {"w": np.zeros(2)}
    opt = optbridge.build(optim.SGD([{"params": "w", "lr": [0.1, 0.2]}], lr=0.1), params)
    with pytest.raises(StaticLearningRateError, match=r"groups\[0\] \('w'\): 'lr' is dynamic"):
        obs.StepLR(opt, step_size=3)
    opt = optbridge.build(optim.SGD(None, lr=0.1), params)
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups"):
        obs.StepLR(opt, step_size=3, last_epoch=4)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):  # ASGD has neither
        obs.CyclicLR(optbridge.build(nn.ASGD(None, learning_rate=0.1), {"w": np.zeros(2, np.float32)}), 0.01, 0.1)
    with pytest.raises(ValueError, match="changes the state slots"):
        obs.CyclicLR(optbridge.build(optim.SGD(None, lr=0.1), params), 0.01, 0.1)  # momentum=0: no buffer


def test_warnings_follow_torch():
    params = {"w": np.zeros(2)}
    opt = optbridge.build(optim.SGD(None, lr=0.1), params)
    sched = obs.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        sched.step(4)


@pytest.mark.parametrize("build,message", [
    (lambda: obs.StepLR.declare(0.1, step_siz=3), "unexpected argument"),
    (lambda: obs.StepLR.declare(0.1, step_size=3, interval="batch"), "'interval' must be 'step' or 'epoch'"),
    (lambda: obs.ConstantLR.declare(0.1, factor=2.0), "Constant multiplicative factor expected to be between 0 and 1"),
    (lambda: obs.CyclicLR.declare(0.1, base_lr=0.01, max_lr=0.1), "takes no 'lr'"),
    (lambda: obs.SequentialLR.declare(0.1, schedulers=[obs.StepLR.declare(0.1, step_size=2)], milestones=[]),
     "must not set 'lr' or 'interval'"),
    (lambda: obs.SequentialLR.declare(0.1, schedulers=[obs.ReduceLROnPlateau.declare()], milestones=[]),
     "does not support `ReduceLROnPlateau`"),
    (lambda: obs.CosineAnnealingWarmRestarts.declare(0.1, T_0=0), "Expected positive integer T_0, but got 0"),
    (lambda: obs.CosineAnnealingWarmRestarts.declare(0.1, T_0=2, steps_per_epoch=3, interval="epoch"),
     "needs interval='step'"),
    (lambda: obs.OneCycleLR.declare(max_lr=0.1), "You must define either total_steps OR"),
    (lambda: obs.ReduceLROnPlateau.declare(0.1, mode="mean"), "mode mean is unknown!"),
])
def test_declaration_errors(build, message):
    with pytest.raises((TypeError, ValueError), match=message):
        build()


def test_declaration_without_lr_is_refused_at_build():
    params = {"w": np.zeros(2)}
    with pytest.raises(ValueError, match=r"groups\[0\] \('w'\): 'lr': StepLR.declare needs lr="):
        optbridge.build(optim.SGD([{"params": "w", "lr": obs.StepLR.declare(step_size=2)}], lr=0.1), params)


def test_plateau_needs_a_metric_and_end_epoch_changes_nothing_when_it_fails():
    params = {"a": np.zeros(2), "b": np.zeros(2)}
    spec = optim.SGD([{"params": "a", "lr": obs.StepLR.declare(0.1, step_size=1, gamma=0.5)},
                      {"params": "b", "lr": obs.ReduceLROnPlateau.declare(0.1, patience=0)}], lr=0.1)
    opt = optbridge.build(spec, params)
    with pytest.raises(ValueError, match=r"groups\[1\] \('b'\): 'lr' is a ReduceLROnPlateau schedule that reacts"):
        opt.end_epoch()
    assert opt.get_lr() == [0.1, 0.1]
    with pytest.raises(TypeError, match="'metric' must be a number or None"):
        opt.end_epoch("0.5")
    opt.end_epoch(1.0)
    opt.end_epoch(2.0)
    assert opt.get_lr() == [0.025, 0.1 * 0.1]


def test_declarations_round_trip_through_configs(tmp_path):
    decl = obs.SequentialLR.declare(0.1, schedulers=[obs.LinearLR.declare(start_factor=0.1, total_iters=5),
                                                     obs.CosineAnnealingLR.declare(T_max=30, eta_min=1e-4)],
                                    milestones=[5])
    spec = optim.SGD([{"params": "conv*", "lr": decl},
                      {"params": "*", "lr": obs.OneCycleLR.declare(max_lr=0.05, total_steps=100)},
                      ], lr=0.1, momentum=0.9)
    for suffix in CONFIG_FORMATS:
        path = optbridge.save(spec, tmp_path / f"spec.{suffix}")
        assert optbridge.load(path) == spec, suffix
    data = json.loads((tmp_path / "spec.json").read_text())
    assert data["params"][0]["lr"]["schedulers"][1] == {
        "schedule": "torch.optim.lr_scheduler.CosineAnnealingLR", "T_max": 30, "eta_min": 0.0001}
    data["params"][0]["lr"]["schedulers"][0]["start_factr"] = 0.1
    with pytest.raises(ConfigError, match=r"params\[0\]\.lr.*unexpected argument"):
        optbridge.from_dict(data)


def test_declared_schedules_work_per_group_in_the_mindspore_dialect():
    """A torch declaration as one group's lr and another's weight decay, next to MindSpore's own."""
    params = {"conv.weight": np.ones((2, 16, 3, 3), np.float32), "fc.bias": np.ones(4, np.float32)}
    wd = obs.ExponentialLR.declare(0.01, gamma=0.5)
    spec = nn.Momentum([{"params": "conv*", "lr": obs.StepLR.declare(0.1, step_size=2, gamma=0.1),
                         "weight_decay": wd},
                        {"params": "*", "lr": nn.ExponentialDecayLR(0.05, 0.9, 2)}], learning_rate=0.1, momentum=0.9)
    opt = optbridge.build(spec, params)
    engine = opt.engine
    seen = []
    for epoch in range(5):
        for _ in range(3):
            g0 = engine.groups[0]
            seen.append((opt.get_lr()[0], engine.weight_decay_at(g0, opt.global_step)))
            opt.step({k: np.zeros_like(v) for k, v in params.items()})
        opt.end_epoch()
    expected_lr = [float(np.float32(0.1 * 0.1 ** (e // 2))) for e in range(5) for _ in range(3)]
    expected_wd = [float(np.float32(np.float32(0.01 * 0.5**e) * np.float32(1.0))) for e in range(5) for _ in range(3)]
    assert [s[0] for s in seen] == expected_lr
    assert [s[1] for s in seen] == expected_wd
    assert opt.get_lr()[1] == nn.ExponentialDecayLR(0.05, 0.9, 2)(15)
