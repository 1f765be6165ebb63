"""Momentum and beta1 cycling on the torch backend against torch.optim with torch's own scheduler.

``CyclicLR``/``OneCycleLR`` with ``cycle_momentum=True`` change each group's ``momentum``
(SGD) or ``betas[0]`` (Adam) every step. Each case runs 70 float64 steps on two groups
with different base learning rates, on every path of the torch backend (reference, auto
— torch's fused SGD/Adam —, flat, compiled), scheduled three ways: optbridge's bound
scheduler, torch's own ``torch.optim.lr_scheduler`` class bound to the optbridge
optimizer, and (OneCycleLR) a declaration inside the spec. The reference is
``torch.optim.SGD``/``Adam`` (``foreach=False``) with torch's scheduler: parameters within
1e-12 relative, the published ``lr``/``momentum``/``betas`` equal every step. The compiled
path must not recompile as the values cycle (``torch._dynamo`` counters).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from optbridge.backends.torch import Optimizer  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.dialects.torch.optim import lr_scheduler as obs  # noqa: E402
from optbridge.errors import SpecTypeError, SpecValueError  # noqa: E402

STEPS = 70
BASE_LRS = (0.05, 0.02)
SHAPES = {"a.weight": (4, 6), "b.bias": (7,)}

#: (id, scheduler, kwargs, optimizer kind)
CASES = [
    ("onecycle_cos_sgd", "OneCycleLR", {"max_lr": [0.3, 0.2], "total_steps": STEPS}, "sgd"),
    ("onecycle_linear_three_phase_sgd", "OneCycleLR",
     {"max_lr": 0.1, "total_steps": STEPS, "anneal_strategy": "linear", "three_phase": True,
      "base_momentum": 0.8, "max_momentum": 0.92}, "sgd"),
    ("onecycle_cos_adam", "OneCycleLR", {"max_lr": [0.01, 0.02], "total_steps": STEPS, "pct_start": 0.4}, "adam"),
    ("onecycle_linear_three_phase_adam", "OneCycleLR",
     {"max_lr": 0.01, "total_steps": STEPS, "anneal_strategy": "linear", "three_phase": True}, "adam"),
    ("cyclic_triangular_sgd", "CyclicLR", {"base_lr": 0.01, "max_lr": [0.1, 0.05], "step_size_up": 9}, "sgd"),
    ("cyclic_exp_range_adam", "CyclicLR",
     {"base_lr": [0.001, 0.002], "max_lr": 0.01, "step_size_up": 5, "step_size_down": 11, "mode": "exp_range",
      "gamma": 0.99, "base_momentum": 0.8, "max_momentum": 0.95}, "adam"),
]
PATHS = [("reference", False), ("auto", False), ("auto", True), ("compiled", False)]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def initial() -> dict[str, torch.Tensor]:
    rng = np.random.RandomState(3)
    return {n: torch.tensor(rng.standard_normal(s)) for n, s in SHAPES.items()}


def gradient(t: int) -> dict[str, torch.Tensor]:
    rng = np.random.RandomState(1000 + t)
    return {n: torch.tensor(rng.standard_normal(s)) for n, s in SHAPES.items()}


def spec_groups(lrs=BASE_LRS):
    return [{"params": "a.*", "lr": lrs[0]}, {"params": "*", "lr": lrs[1]}]


def ours(kind: str, path: str, flat: bool, lrs=BASE_LRS):
    tensors = {n: t.clone().requires_grad_(True) for n, t in initial().items()}
    if kind == "sgd":
        spec = optim.SGD(spec_groups(lrs), lr=0.1, momentum=0.9)
    else:
        spec = optim.Adam(spec_groups(lrs), lr=0.1, betas=(0.9, 0.999))
    return Optimizer(tensors, spec, path=path, flat=flat, compile_threshold=0), tensors


def theirs(kind: str):
    tensors = {n: t.clone().requires_grad_(True) for n, t in initial().items()}
    groups = [{"params": [tensors["a.weight"]], "lr": BASE_LRS[0]}, {"params": [tensors["b.bias"]], "lr": BASE_LRS[1]}]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9, foreach=False), tensors
    return torch.optim.Adam(groups, lr=0.1, betas=(0.9, 0.999), foreach=False), tensors


def momenta(opt, kind: str) -> list[float]:
    return [g["momentum"] if kind == "sgd" else g["betas"][0] for g in opt.param_groups]


def max_rel_dev(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> float:
    return max(float(((got[n] - want[n]).abs() / want[n].abs()).max()) for n in want)


def run_pair(opt, tensors, sched, ref, ref_tensors, ref_sched, kind: str, steps: int = STEPS) -> float:
    """Step both side by side; published values must match torch's every step."""
    for t in range(steps):
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in ref.param_groups], t
        assert momenta(opt, kind) == momenta(ref, kind), t
        for n, g in gradient(t).items():
            tensors[n].grad = g.clone()
            ref_tensors[n].grad = g.clone()
        opt.step()
        ref.step()
        if sched is not None:
            sched.step()
        ref_sched.step()
    return max_rel_dev({n: t.detach() for n, t in tensors.items()}, {n: t.detach() for n, t in ref_tensors.items()})


def _ids(cases):
    return [c[0] for c in cases]


@pytest.mark.parametrize("path,flat", PATHS, ids=[f"{p}{'-flat' if f else ''}" for p, f in PATHS])
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_optbridge_scheduler_bound_to_the_torch_backend_matches_torch(case, path, flat):
    _, name, kwargs, kind = case
    opt, tensors = ours(kind, path, flat)
    sched = getattr(obs, name)(opt, **kwargs)
    ref, ref_tensors = theirs(kind)
    ref_sched = getattr(torch.optim.lr_scheduler, name)(ref, **kwargs)
    assert run_pair(opt, tensors, sched, ref, ref_tensors, ref_sched, kind) <= 1e-12


@pytest.mark.parametrize("path,flat", PATHS, ids=[f"{p}{'-flat' if f else ''}" for p, f in PATHS])
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_torchs_own_scheduler_bound_to_the_torch_backend_matches_torch(case, path, flat):
    _, name, kwargs, kind = case
    opt, tensors = ours(kind, path, flat)
    sched = getattr(torch.optim.lr_scheduler, name)(opt, **kwargs)
    ref, ref_tensors = theirs(kind)
    ref_sched = getattr(torch.optim.lr_scheduler, name)(ref, **kwargs)
    assert run_pair(opt, tensors, sched, ref, ref_tensors, ref_sched, kind) <= 1e-12


DECLARED = [c for c in CASES if c[1] == "OneCycleLR"]


@pytest.mark.parametrize("path,flat", PATHS, ids=[f"{p}{'-flat' if f else ''}" for p, f in PATHS])
@pytest.mark.parametrize("case", DECLARED, ids=_ids(DECLARED))
def test_declared_onecycle_on_the_torch_backend_matches_torch(case, path, flat):
    _, name, kwargs, kind = case
    per_group = [{k: (v[i] if isinstance(v, list) else v) for k, v in kwargs.items()} for i in range(2)]
    declared = [getattr(obs, name).declare(**kw) for kw in per_group]
    opt, tensors = ours(kind, path, flat, lrs=declared)
    ref, ref_tensors = theirs(kind)
    ref_sched = getattr(torch.optim.lr_scheduler, name)(ref, **kwargs)
    assert run_pair(opt, tensors, None, ref, ref_tensors, ref_sched, kind) <= 1e-12


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_cycling_never_recompiles_the_compiled_path(kind):
    from torch._dynamo.utils import counters

    opt, tensors = ours(kind, "compiled", False)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=30)
    seen = set()
    graphs = []
    for t in range(30):
        for n, g in gradient(t).items():
            tensors[n].grad = g
        opt.step()
        sched.step()
        seen.add(momenta(opt, kind)[0])
        graphs.append(counters["stats"]["unique_graphs"])
    assert len(seen) > 20  # the value really changed every step
    # step 1 (first_step) and step 2 (later steps) trace; nothing after that
    assert graphs[2] == graphs[-1], graphs


# -- hand edits of param_groups ---------------------------------------------------------------
@pytest.mark.parametrize("path", ["reference", "auto", "compiled"])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_hand_edits_of_momentum_and_betas_apply_from_the_next_step_like_torch(kind, path):
    opt, tensors = ours(kind, path, False)
    ref, ref_tensors = theirs(kind)
    for t in range(20):
        if t == 5:
            for o in (opt, ref):
                if kind == "sgd":
                    o.param_groups[1]["momentum"] = 0.5
                else:
                    o.param_groups[1]["betas"] = (0.7, 0.99)
        if t == 12:
            for o in (opt, ref):
                o.param_groups[0]["lr"] = 0.01
                if kind == "sgd":
                    o.param_groups[0]["momentum"] = 0.95
                else:
                    o.param_groups[0]["betas"] = (0.95, 0.999)
        for n, g in gradient(t).items():
            tensors[n].grad = g.clone()
            ref_tensors[n].grad = g.clone()
        opt.step()
        ref.step()
    assert momenta(opt, kind) == momenta(ref, kind)
    assert max_rel_dev({n: v.detach() for n, v in tensors.items()},
                       {n: v.detach() for n, v in ref_tensors.items()}) <= 1e-12
    state = opt.state_dict()
    assert state["groups"][1]["hyperparameters"] == ({"momentum": 0.5} if kind == "sgd" else
                                                     {"beta1": 0.7, "beta2": 0.99})


def test_beta1_and_betas_are_two_names_for_one_value():
    opt, tensors = ours("adam", "reference", False)
    opt.param_groups[0]["beta1"] = 0.8  # in the engine at once: no step or get_lr needed
    assert opt.param_groups[0]["betas"] == (0.8, 0.999) and opt.param_groups[0]["beta1"] == 0.8
    assert opt.engine.groups[0].algorithm.beta1 == 0.8
    assert opt.defaults["betas"] == (0.9, 0.999)


def test_refused_edits_change_nothing():
    opt, tensors = ours("sgd", "reference", False)
    for t in range(2):
        for n, g in gradient(t).items():
            tensors[n].grad = g
        opt.step()
    params = {n: v.detach().clone() for n, v in tensors.items()}
    before = opt.state_dict()
    with pytest.raises(SpecValueError, match=r"groups\[1\].*changes the state slots"):
        opt.param_groups[1]["momentum"] = 0.0        # would drop the momentum buffer: refused at the assignment
    with pytest.raises(SpecTypeError, match=r"groups\[1\].*'momentum' must be a number"):
        opt.param_groups[1]["momentum"] = "0.5"
    with pytest.raises(SpecValueError, match=r"param_groups\[1\]\['dampening'\] was changed"):
        opt.param_groups[1]["dampening"] = 0.1
    with pytest.raises(SpecValueError, match=r"groups\[1\].*changes the state slots"):
        opt.param_groups[1].update({"lr": 0.5, "momentum": 0.0})  # several keys: all or none
    assert [g.algorithm.momentum for g in opt.engine.groups] == [0.9, 0.9] and opt.global_step == 2
    assert opt.param_groups[1]["lr"] == before["param_groups"][1]["lr"]
    assert str(opt.state_dict()) == str(before)
    assert all((tensors[n] == params[n]).all() for n in SHAPES)


def test_bad_betas_edits_raise_naming_the_group():
    opt, _ = ours("adam", "reference", False)
    with pytest.raises(SpecValueError, match=r"param_groups\[1\]\['betas'\] must be a pair"):
        opt.param_groups[1]["betas"] = 0.9
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    opt.param_groups[1]["betas"] = (0.8, 0.999)
    opt.param_groups[1]["beta1"] = 0.7  # one value, two names: the later write wins
    assert opt.param_groups[1]["betas"] == (0.7, 0.999)


def test_a_value_a_declared_schedule_cycles_cannot_be_written():
    decl = obs.OneCycleLR.declare(max_lr=0.1, total_steps=10)
    tensors = {n: t.clone().requires_grad_(True) for n, t in initial().items()}
    opt = Optimizer(tensors, optim.SGD([{"params": "a.*", "lr": decl}, {"params": "*", "lr": 0.1}], momentum=0.9))
    assert opt.param_groups[0]["momentum"] == 0.95  # the schedule's value for step 0
    opt.param_groups[1]["momentum"] = 0.5            # not scheduled: fine
    with pytest.raises(SpecValueError, match=r"param_groups\[0\]: \['momentum'\] is set every step by the group's "
                                             r"optbridge schedule"):
        opt.param_groups[0]["momentum"] = 0.5
    assert opt.engine.groups[0].algorithm.momentum == 0.9  # nothing applied
    assert opt.engine.groups[1].algorithm.momentum == 0.5


def test_add_param_group_takes_torchs_betas():
    tensors = {n: t.clone().requires_grad_(True) for n, t in initial().items()}
    extra = torch.zeros(3, requires_grad=True)
    opt = Optimizer({"a.weight": tensors["a.weight"]}, optim.Adam(None, lr=0.1))
    opt.add_param_group({"params": [("c", extra)], "betas": (0.5, 0.9)})
    assert opt.param_groups[1]["betas"] == (0.5, 0.9)
    assert opt.engine.groups[1].algorithm.beta1 == 0.5 and opt.engine.groups[1].algorithm.beta2 == 0.9
