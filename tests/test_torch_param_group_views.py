"""``param_groups`` of the torch backend are views of the engine (one home per live value).

Every way torch and Python read a dict sees the engine's current value; torch's own
schedulers, ``state_dict``, ``GradScaler`` and ``torch.compile`` work on the views, and a
user loop that reads and writes ``param_groups`` runs as on ``torch.optim`` (numbers
compared against the real torch.optim optimizer each step).
"""
from __future__ import annotations

import copy
import io
import json
import pickle

import pytest

torch = pytest.importorskip("torch")

import optbridge  # noqa: E402
from optbridge.backends.torch import Optimizer  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.dialects.torch.optim import lr_scheduler as obs  # noqa: E402
from optbridge.errors import SpecValueError  # noqa: E402

SHAPES = {"a.weight": (4, 3), "a.bias": (4,), "b.weight": (2, 4)}


def tensors(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {n: torch.randn(s, generator=g, dtype=torch.float64).requires_grad_(True) for n, s in SHAPES.items()}


def gradient(t: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + t)
    return {n: torch.randn(s, generator=g, dtype=torch.float64) for n, s in SHAPES.items()}


def pair(kind: str, **options):
    """Ours (reference path: torch's op order in float64) and torch.optim's, on equal tensors."""
    ours_t, theirs_t = tensors(), tensors()
    groups = [{"params": "a.*"}, {"params": "*", "lr": 0.05}]
    torch_groups = [{"params": [theirs_t["a.weight"], theirs_t["a.bias"]]},
                    {"params": [theirs_t["b.weight"]], "lr": 0.05}]
    if kind == "sgd":
        ours = Optimizer(ours_t, optim.SGD(groups, lr=0.1, momentum=0.9, **options), path="reference")
        theirs = torch.optim.SGD(torch_groups, lr=0.1, momentum=0.9, foreach=False, **options)
    else:
        ours = Optimizer(ours_t, optim.Adam(groups, lr=0.1, **options), path="reference")
        theirs = torch.optim.Adam(torch_groups, lr=0.1, foreach=False, **options)
    return ours, ours_t, theirs, theirs_t


def step_both(t, ours, ours_t, theirs, theirs_t):
    for n, g in gradient(t).items():
        ours_t[n].grad = g.clone()
        theirs_t[n].grad = g.clone()
    ours.step()
    theirs.step()


def assert_close(ours_t, theirs_t):
    for n in SHAPES:
        torch.testing.assert_close(ours_t[n], theirs_t[n], rtol=1e-12, atol=1e-14, msg=n)


OPTIONS = ("lr", "momentum", "betas", "weight_decay")


def options(group) -> dict:
    return {k: group[k] for k in OPTIONS if k in group}


# -- every access pattern sees the live value --------------------------------------------------
ACCESS = {
    "getitem": lambda g, o: g["lr"],
    "get": lambda g, o: g.get("lr"),
    "dict()": lambda g, o: dict(g)["lr"],
    "unpack": lambda g, o: {**g}["lr"],
    "copy": lambda g, o: g.copy()["lr"],
    "items": lambda g, o: dict(g.items())["lr"],
    "values": lambda g, o: list(g.values())[list(g.keys()).index("lr")],
    "iter": lambda g, o: [g[k] for k in g if k == "lr"][0],
    "kwargs": lambda g, o: (lambda **kw: kw["lr"])(**g),
    "or": lambda g, o: (g | {})["lr"],
    "ror": lambda g, o: ({} | g)["lr"],
    "dict.update": lambda g, o: (lambda d: (d.update(g), d)[1])({})["lr"],
    "deepcopy": lambda g, o: copy.deepcopy(g)["lr"],
    "copy.copy": lambda g, o: copy.copy(g)["lr"],
    "pickle": lambda g, o: pickle.loads(pickle.dumps(g))["lr"],
    "json": lambda g, o: json.loads(json.dumps({k: v for k, v in g.items() if k != "params"}))["lr"],
    "repr": lambda g, o: float(repr(g).split("'lr': ")[1].split(",")[0]),
    "setdefault": lambda g, o: g.setdefault("lr", 123.0),
    "torch pack_group": lambda g, o: torch.optim.Optimizer.state_dict(o)["param_groups"][1]["lr"],
    "torch repr": lambda g, o: float(torch.optim.Optimizer.__repr__(o).split("Parameter Group 1")[1]
                                     .split("lr: ")[1].split("\n")[0]),
    "our state_dict": lambda g, o: o.state_dict()["param_groups"][1]["lr"],
}


@pytest.mark.parametrize("pattern", sorted(ACCESS))
def test_every_access_pattern_sees_the_engines_value(pattern):
    ours, _, _, _ = pair("sgd")
    group = ours.param_groups[1]
    assert isinstance(group, dict)
    ours.engine.set_lr(0.025, group=1)  # in the engine alone: no optimizer method copies it anywhere
    assert ACCESS[pattern](group, ours) == 0.025
    assert ours.engine.get_lr() == [0.1, 0.025]  # reading changed nothing (setdefault included)


def test_a_finished_per_step_list_shows_its_last_value():
    ts = tensors()
    opt = Optimizer(ts, optim.SGD(None, lr=[0.3, 0.2, 0.1]), path="reference")
    seen = []
    for t in range(3):
        seen.append(opt.param_groups[0]["lr"])
        for n, g in gradient(t).items():
            ts[n].grad = g
        opt.step()
    assert seen == [0.3, 0.2, 0.1] and opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(IndexError, match="per-step value list has 3 entries"):
        opt.step()


def test_keys_len_contains_and_equality_agree():
    ours, _, _, _ = pair("adam")
    group = ours.param_groups[0]
    keys = list(group)
    assert keys[0] == "params" and keys[-1] == "param_names"
    assert len(group) == len(keys) == len(set(keys)) == len(group.keys()) == len(group.items())
    assert all(k in group for k in keys) and "nope" not in group
    assert {"lr", "betas", "beta1", "beta2", "eps", "weight_decay"} <= set(keys)
    assert group == dict(group) and dict(group) == group and not (group != dict(group))
    ours.param_groups[0]["betas"] = (0.5, 0.9)
    assert group["betas"] == (0.5, 0.9) and dict(group)["beta1"] == 0.5


def test_stored_keys_and_options_have_one_home_each():
    ours, _, _, _ = pair("sgd")
    group = ours.param_groups[0]
    group["initial_lr"] = 0.3  # torch scheduler bookkeeping: stored in the group
    group.setdefault("swa_lr", 0.01)
    assert dict.get(group, "lr") is None  # the option is not stored: the engine is its one home
    assert group["initial_lr"] == 0.3 and group.pop("swa_lr") == 0.01 and "swa_lr" not in group
    with pytest.raises(SpecValueError, match=r"param_groups\[0\]\['lr'\] is an option"):
        del group["lr"]
    with pytest.raises(SpecValueError, match=r"param_groups\[0\]\['momentum'\] is an option"):
        group.pop("momentum")
    group.clear()  # removes the stored keys only
    assert list(group)[:1] == ["lr"] and group["lr"] == 0.1


# -- torch's own schedulers in a user loop, against torch.optim -----------------------------------
def _step_count_check(ours, sched, theirs, their_sched):
    """get_lr(), param_groups, the plan the step uses and torch.optim agree before a step."""
    lrs = [g["lr"] for g in ours.param_groups]
    assert lrs == ours.get_lr() == [g["lr"] for g in theirs.param_groups]
    assert sched.get_last_lr() == their_sched.get_last_lr()
    plan = ours.engine.plan()
    assert [bs.scalars["lr"] for bs in plan.buckets] == [lrs[bs.bucket.group] for bs in plan.buckets]
    for ours_g, their_g in zip(ours.param_groups, theirs.param_groups):
        assert options(ours_g) == {k: their_g[k] for k in options(ours_g)}


SCHEDULERS = {
    "steplr": ("sgd", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    "onecycle_sgd": ("sgd", lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=[0.2, 0.1], total_steps=12)),
    "onecycle_adam": ("adam", lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.2, total_steps=12,
                                                                            three_phase=True)),
    "cyclic": ("sgd", lambda o: torch.optim.lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3)),
    "sequential": ("sgd", lambda o: torch.optim.lr_scheduler.SequentialLR(
        o, [torch.optim.lr_scheduler.LinearLR(o, start_factor=0.5, total_iters=3),
            torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)], milestones=[3])),
    "cosine": ("adam", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5)),
    "swalr": ("sgd", lambda o: torch.optim.swa_utils.SWALR(o, swa_lr=0.02, anneal_epochs=3)),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_torch_schedulers_in_a_user_loop_match_torch_optim(name):
    kind, make = SCHEDULERS[name]
    ours, ours_t, theirs, theirs_t = pair(kind)
    sched, their_sched = make(ours), make(theirs)
    for t in range(12):
        _step_count_check(ours, sched, theirs, their_sched)
        if t == 4:  # the user reads and writes param_groups between steps, as on torch.optim
            for o in (ours, theirs):
                o.param_groups[1]["lr"] = o.param_groups[1]["lr"] * 0.5
        step_both(t, ours, ours_t, theirs, theirs_t)
        sched.step()
        their_sched.step()
    _step_count_check(ours, sched, theirs, their_sched)
    assert_close(ours_t, theirs_t)


def test_reduce_lr_on_plateau_in_a_user_loop_matches_torch_optim():
    ours, ours_t, theirs, theirs_t = pair("sgd")
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(ours, factor=0.5, patience=1)
    their_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, factor=0.5, patience=1)
    for t in range(10):
        step_both(t, ours, ours_t, theirs, theirs_t)
        sched.step(1.0)  # no improvement: the lr halves every other epoch
        their_sched.step(1.0)
        assert [g["lr"] for g in ours.param_groups] == ours.get_lr() == [g["lr"] for g in theirs.param_groups]
        assert sched.get_last_lr() == their_sched.get_last_lr() == ours.get_lr()
    assert ours.get_lr()[0] < 0.1 / 8
    assert_close(ours_t, theirs_t)


def test_a_bound_optbridge_scheduler_is_seen_in_param_groups_at_once():
    ours, _, _, _ = pair("sgd")
    sched = obs.OneCycleLR(ours, max_lr=0.2, total_steps=10)
    assert [g["lr"] for g in ours.param_groups] == sched.get_last_lr() == ours.get_lr()
    assert ours.param_groups[0]["momentum"] == 0.95 == ours.engine.groups[0].algorithm.momentum
    # the scheduler's bookkeeping lives in the engine (neutral state), not in the torch group
    assert "initial_lr" not in ours.param_groups[0]
    assert ours.engine.groups[0].scheduler_values["max_lr"] == 0.2


def test_state_dict_round_trip_keeps_a_torch_schedulers_bookkeeping():
    ours, ours_t, theirs, theirs_t = pair("sgd")
    sched = torch.optim.lr_scheduler.StepLR(ours, step_size=2, gamma=0.5)
    for t in range(3):
        step_both(t, ours, ours_t, theirs, theirs_t)
        sched.step()
    buf = io.BytesIO()
    torch.save(ours.state_dict(), buf)
    buf.seek(0)
    fresh_t = {n: v.detach().clone().requires_grad_(True) for n, v in ours_t.items()}
    fresh = Optimizer(fresh_t, optim.SGD([{"params": "a.*"}, {"params": "*", "lr": 0.05}], lr=0.1, momentum=0.9),
                      path="reference")
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert [options(g) for g in fresh.param_groups] == [options(g) for g in ours.param_groups]
    assert [g["initial_lr"] for g in fresh.param_groups] == [0.1, 0.05]
    assert fresh.get_lr() == ours.get_lr()


# -- GradScaler and torch.compile ----------------------------------------------------------------
def test_grad_scaler_steps_the_views_like_torch_optim():
    ours, ours_t, theirs, theirs_t = pair("sgd")
    scalers = [torch.amp.GradScaler("cpu", init_scale=2.0 ** 4) for _ in range(2)]
    sched = torch.optim.lr_scheduler.StepLR(ours, step_size=2, gamma=0.5)
    their_sched = torch.optim.lr_scheduler.StepLR(theirs, step_size=2, gamma=0.5)
    for t in range(5):
        for opt, ts, scaler in ((ours, ours_t, scalers[0]), (theirs, theirs_t, scalers[1])):
            opt.zero_grad()
            loss = sum((ts[n] * g).sum() for n, g in gradient(t).items())
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        sched.step()
        their_sched.step()
        assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups]
    assert_close(ours_t, theirs_t)


def test_a_compiled_training_step_runs_the_optimizer_and_sees_the_schedulers_lr():
    torch.manual_seed(0)
    model, twin = torch.nn.Linear(4, 3).double(), torch.nn.Linear(4, 3).double()
    twin.load_state_dict(model.state_dict())
    ours = optbridge.build(optim.SGD(None, lr=0.1, momentum=0.9), model.named_parameters())
    theirs = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    scheds = [torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5) for o in (ours, theirs)]

    def make_step(m, opt):
        def train_step(x, y):
            loss = torch.nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss
        return train_step

    compiled = torch.compile(make_step(model, ours))
    eager = make_step(twin, theirs)
    g = torch.Generator().manual_seed(3)
    for _ in range(5):
        x, y = torch.randn(8, 4, generator=g, dtype=torch.float64), torch.randn(8, 3, generator=g, dtype=torch.float64)
        compiled(x, y)
        eager(x, y)
        for s in scheds:
            s.step()
        assert ours.param_groups[0]["lr"] == theirs.param_groups[0]["lr"] == ours.get_lr()[0]
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    assert ours.global_step == 5
