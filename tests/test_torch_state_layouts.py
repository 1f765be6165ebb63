"""One process: the torch layout alone as a whole state (what torch.distributed.checkpoint
keeps), the state entries the kernels hold, and optimizers on a partition of a model
(ZeroRedundancyOptimizer's local optimizer). The multi-process runs are in
tests/test_torch_fsdp.py."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from optbridge.backends.torch import Optimizer  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.errors import SpecValueError, StateDictError  # noqa: E402


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))


def trained(spec, steps: int = 3) -> tuple[torch.nn.Module, Optimizer]:
    net = model()
    opt = Optimizer(net.named_parameters(), spec)
    for step in range(steps):
        opt.zero_grad()
        net(torch.full((2, 3), 0.1 * (step + 1))).square().sum().backward()
        opt.step()
    return net, opt


def spec():
    return nn.Adam([{"params": "0.*", "lr": [0.1, 0.05, 0.02, 0.01]}, {"params": "*"}], 0.01)


def torch_layout_only(sd: dict, by_position: bool) -> dict:
    """What torch.distributed.checkpoint's get_optimizer_state_dict keeps of a state dict:
    ``state`` and ``param_groups``, keyed by position (or by name)."""
    names = [n for g in sd["param_groups"] for n in g["params"]]
    key = {n: (i if by_position else n) for i, n in enumerate(names)}
    return {"state": {key[n]: dict(s) for n, s in sd["state"].items()},
            "param_groups": [{**g, "params": [key[n] for n in g["params"]]} for g in sd["param_groups"]]}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("by_position", [True, False], ids=["by position", "by name"])
def test_the_torch_layout_alone_is_a_whole_state(by_position):
    _, opt = trained(spec())
    sd = opt.state_dict()
    for group, host in zip(sd["param_groups"], sd["groups"]):
        assert group["optbridge"] == {"format": "optbridge.state", "format_version": sd["format_version"],
                                      "algorithm": "adam", "global_step": 3, "transforms": [], "group": host}
    _, fresh = trained(spec(), steps=0)
    fresh.load_state_dict(torch_layout_only(sd, by_position))
    assert fresh.global_step == 3 and fresh.engine.get_lr() == opt.engine.get_lr()
    loaded = fresh.state_dict()
    assert loaded["groups"] == sd["groups"]
    for name, slots in sd["state"].items():
        assert same(slots, loaded["state"][name]), name


def test_a_torch_layout_whose_groups_disagree_is_refused_and_changes_nothing():
    _, opt = trained(spec())
    layout = torch_layout_only(opt.state_dict(), by_position=True)
    layout["param_groups"][1]["optbridge"] = {**layout["param_groups"][1]["optbridge"], "global_step": 7}
    _, fresh = trained(spec(), steps=1)
    before = fresh.state_dict()
    before_state = {n: {k: v.clone() for k, v in s.items()} for n, s in before["state"].items()}
    with pytest.raises(StateDictError, match=r"param_groups\[1\]\['optbridge'\].global_step"):
        fresh.load_state_dict(layout)
    after = fresh.state_dict()
    assert after["global_step"] == 1 and after["groups"] == before["groups"]
    assert all(same(before_state[n], after["state"][n]) for n in before_state)


def test_replacing_a_state_entry_is_refused_and_changes_nothing():
    net, opt = trained(optim.Adam(None, lr=0.01))
    p = next(net.parameters())
    entry = opt.state[p]
    kept = {k: v.clone() for k, v in entry.items()}
    with pytest.raises(StateDictError, match="would replace the state tensors"):
        opt.state[p] = {k: torch.zeros_like(v) for k, v in entry.items()}
    assert opt.state[p] is entry and same(kept, entry)


def test_a_partition_has_the_whole_models_groups_and_steps_as_the_whole_optimizer():
    net, reference = model(), model()
    share = [(n, p) for n, p in net.named_parameters() if n.startswith("2.")]
    with pytest.raises(SpecValueError, match="partition=True needs names="):
        Optimizer(share, spec(), partition=True)
    # resolved over the share alone, the group of 0.* would be empty (GroupError)
    local = Optimizer([{"params": [p for _, p in share]}], spec(), names=net, partition=True)
    assert [g["param_names"] for g in local.param_groups] == [[], ["2.weight", "2.bias"]]
    whole = Optimizer(reference.named_parameters(), spec())
    for step in range(3):
        for m, o in ((net, local), (reference, whole)):
            for i, p in enumerate(m.parameters()):
                p.grad = torch.full_like(p, 0.1 * (step + 1) * (i + 1))
            o.step()
    assert local.global_step == whole.global_step == 3 and local.engine.get_lr() == whole.engine.get_lr()
    for (n, p), q in zip(share, list(reference.parameters())[2:]):
        assert torch.equal(p, q), n
