"""add_param_group, load_state_dict and param_groups writes of the torch backend: all or nothing.

Each refusal is checked bit for bit: parameters, state tensors, ``param_groups`` (stored
keys and options), the engine's state and group structure, and the units stay exactly
as they were — including a failure injected after the engine took the new group.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import optbridge.backends.torch.optimizer as optimizer_module  # noqa: E402
from optbridge.backends.torch import Optimizer  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.errors import SpecTypeError, SpecValueError, StateDictError  # noqa: E402

SHAPES = {"a.weight": (4, 3), "a.bias": (4,), "b.weight": (2, 4)}


def tensors(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {n: torch.randn(s, generator=g).requires_grad_(True) for n, s in SHAPES.items()}


def trained(kind: str = "sgd", flat: bool = False):
    ts = tensors()
    spec = (optim.SGD([{"params": "a.*"}, {"params": "*", "lr": 0.05}], lr=0.1, momentum=0.9) if kind == "sgd"
            else optim.Adam([{"params": "a.*"}, {"params": "*", "lr": 0.05}], lr=0.1))
    opt = Optimizer(ts, spec, flat=flat)
    torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)  # stores initial_lr in each group
    for t in range(3):
        g = torch.Generator().manual_seed(10 + t)
        for p in ts.values():
            p.grad = torch.randn(p.shape, generator=g)
        opt.step()
    return opt, ts


def bits(t: torch.Tensor) -> bytes:
    return t.detach().cpu().contiguous().numpy().tobytes()


def fingerprint(opt, params: dict[str, torch.Tensor]) -> dict:
    """Everything a refusal must leave alone, as bytes and plain values."""
    engine = opt.engine
    groups = []
    for g in opt.param_groups:
        stored = {k: ([id(p) for p in v] if k == "params" else v) for k, v in dict.items(g)}
        groups.append((g.index, stored, g.options()))
    return {
        "params": {n: bits(p) for n, p in params.items()},
        "state": {id(p): {k: bits(v) for k, v in s.items()} for p, s in opt.state.items()},
        "state_ids": {id(v) for s in opt.state.values() for v in s.values()},
        "param_groups": groups,
        "engine": repr(engine.state_dict({})),
        "structure": (engine.spec, tuple(engine.params), engine.resolution, tuple(map(id, engine.groups))),
        "units": [id(u) for units in opt._units for u in units],
        "named": dict(opt._named_params),
        "get_lr": opt.get_lr(),
    }


def new_tensor(shape=(3,), seed=5) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).requires_grad_(True)


BAD_GROUPS = {
    "duplicate tensor": (lambda ts: {"params": [("c.weight", ts["a.bias"])]}, SpecValueError, "already in a group"),
    "duplicate name": (lambda ts: {"params": [("a.bias", new_tensor())]}, SpecValueError, "already in a group"),
    "one name twice": (lambda ts: {"params": [("c", new_tensor()), ("c", new_tensor(seed=6))]}, SpecValueError,
                       "appears twice"),
    "momentum not a number": (lambda ts: {"params": [("c", new_tensor())], "momentum": "0.9"}, SpecTypeError,
                              r"groups\[2\].*'momentum' must be a number"),
    "momentum nan": (lambda ts: {"params": [("c", new_tensor())], "momentum": float("nan")}, SpecValueError,
                     "'momentum' must be a finite number"),
    "negative lr": (lambda ts: {"params": [("c", new_tensor())], "lr": -0.1}, SpecValueError,
                    r"'lr' must be a finite number >= 0"),
    "unknown key": (lambda ts: {"params": [("c", new_tensor())], "mom": 0.9}, SpecValueError, "unknown keys"),
    "nesterov not a bool": (lambda ts: {"params": [("c", new_tensor())], "nesterov": 1.0}, SpecTypeError,
                            "'nesterov' must be a bool"),
    "int dtype": (lambda ts: {"params": [("c", torch.zeros(3, dtype=torch.int64))]}, SpecTypeError, "dtype"),
    "bare tensor already in a group": (lambda ts: {"params": [new_tensor(), ts["a.bias"]]}, SpecValueError,
                                       r"'param_groups\.2\.1' is already in a group"),
    "param_names of another length": (lambda ts: {"params": [new_tensor()], "param_names": ["c", "d"]},
                                      SpecValueError, "2 param_names for 1 params"),
}


@pytest.mark.parametrize("flat", [False, True])
@pytest.mark.parametrize("case", sorted(BAD_GROUPS))
def test_a_refused_add_param_group_changes_nothing(case, flat):
    opt, ts = trained(flat=flat)
    make, error, message = BAD_GROUPS[case]
    group = make(ts)
    before = fingerprint(opt, ts)
    with pytest.raises(error, match=message):
        opt.add_param_group(group)
    assert fingerprint(opt, ts) == before


def test_a_failure_after_the_engine_took_the_group_is_undone(monkeypatch):
    opt, ts = trained()
    before = fingerprint(opt, ts)
    engine_groups = list(opt.engine.groups)

    def fail(*args, **kwargs):
        raise MemoryError("injected: no memory for the new state")

    monkeypatch.setattr(optimizer_module, "allocate_state", fail)
    extra = new_tensor()
    with pytest.raises(MemoryError, match="injected"):
        opt.add_param_group({"params": [("c", extra)], "lr": 0.2})
    assert fingerprint(opt, ts) == before
    assert opt.engine.groups == engine_groups and len(opt.param_groups) == 2 and extra not in opt.state
    monkeypatch.undo()
    # the optimizer works on: the same group is added and trained
    opt.add_param_group({"params": [("c", extra)], "lr": 0.2})
    extra.grad = torch.ones(3)
    for p in ts.values():
        p.grad = None
    opt.step()
    assert opt.param_groups[2]["lr"] == 0.2 == opt.get_lr()[2]
    torch.testing.assert_close(extra.detach(), new_tensor().detach() - 0.2)


def test_add_param_group_takes_the_group_into_the_engine_in_place():
    opt, ts = trained("adam")
    engine = opt.engine
    extra = new_tensor()
    opt.add_param_group({"params": [("c", extra)], "betas": (0.5, 0.9), "lr": 0.3})
    assert opt.engine is engine and len(engine.groups) == 3 and engine.param_names[-1] == "c"
    assert opt.param_groups[2]["betas"] == (0.5, 0.9) and opt.get_lr()[2] == 0.3
    assert opt.global_step == 3 and engine.groups[2].host_state == engine.groups[2].algorithm.init_host_state()


def test_a_refused_load_state_dict_changes_nothing():
    opt, ts = trained("adam")
    other, other_ts = trained("adam")
    for p in other_ts.values():
        p.grad = torch.ones(p.shape)
    other.step()
    good = other.state_dict()
    before = fingerprint(opt, ts)
    bad_slot = dict(good, state=dict(good["state"], **{"b.weight": {"exp_avg": torch.zeros(2, 4),
                                                                    "exp_avg_sq": torch.zeros(3)}}))
    bad_group = dict(good, param_groups=[dict(good["param_groups"][0], lr="fast"), good["param_groups"][1]])
    bad_extra = dict(good, param_groups=[dict(good["param_groups"][0], initial_lr=object()),
                                         good["param_groups"][1]])
    bad_engine = dict(good, groups=[dict(good["groups"][0], lr_override=-1.0), good["groups"][1]])
    for sd, message in ((bad_slot, r"state\['b.weight'\]"), (bad_group, r"param_groups\[0\]\['lr'\]"),
                        (bad_extra, r"param_groups\[0\]\['initial_lr'\]"), (bad_engine, r"groups\[0\].lr_override")):
        with pytest.raises(StateDictError, match=message):
            opt.load_state_dict(sd)
        assert fingerprint(opt, ts) == before
    opt.load_state_dict(good)
    assert opt.global_step == 4 and fingerprint(opt, ts)["state"] != before["state"]


def test_a_refused_write_of_several_keys_changes_nothing():
    opt, ts = trained("sgd")
    before = fingerprint(opt, ts)
    with pytest.raises(SpecValueError, match="changes the state slots"):
        opt.param_groups[0].update({"lr": 0.5, "swa_lr": 0.1, "momentum": 0.0})
    with pytest.raises(SpecValueError, match=r"param_groups\[0\]\['lr'\] must be a finite number >= 0"):
        opt.param_groups[0].update(momentum=0.5, lr=float("inf"))
    assert fingerprint(opt, ts) == before
    opt.param_groups[0].update({"lr": 0.5, "swa_lr": 0.1, "momentum": 0.8})
    assert opt.get_lr()[0] == 0.5 and opt.engine.groups[0].algorithm.momentum == 0.8
    assert opt.param_groups[0]["swa_lr"] == 0.1
