"""Fine-tuning recipes on the torch backend: ``add_param_group`` the torch way.

The loops users write (Lightning's ``BackboneFinetuning``, "train the head, then unfreeze the
backbone"): a model's block is added later with ``module.parameters()`` (bare tensors), its
own lr, and every other option filled from the optimizer's defaults. Each run is compared
with ``torch.optim`` doing the same calls on a twin model; a state dict saved after the
group was added loads into a fresh optimizer that made the same call, and resumes exactly.
"""
from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

import optbridge  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402

STEPS, UNFREEZE = 8, 3


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))


def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + t)
    return torch.randn(4, 6, generator=g), torch.randn(4, 3, generator=g)


def train(net: torch.nn.Module, opt: torch.optim.Optimizer, steps: range, unfreeze: dict | None) -> None:
    """SGD steps on the head; at ``UNFREEZE`` the backbone joins with ``unfreeze``'s options."""
    for t in steps:
        if t == UNFREEZE and unfreeze is not None:
            backbone = net[0]
            backbone.requires_grad_(True)
            known = {id(p) for g in opt.param_groups for p in g["params"]}  # Lightning's filter_on_optimizer
            fresh = [p for p in backbone.parameters() if id(p) not in known]
            opt.add_param_group({"params": fresh, **unfreeze})
        x, y = batch(t)
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()


@pytest.mark.parametrize("name, ours, theirs, unfreeze", [
    ("sgd momentum, own lr", optim.SGD(lr=0.1, momentum=0.9),
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), {"lr": 0.01}),
    ("sgd, defaults filled", optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2), {}),
    ("adamw, own betas", optim.AdamW(lr=1e-2, weight_decay=0.1),
     lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.1), {"lr": 1e-3, "betas": (0.8, 0.99)}),
])
def test_unfreezing_a_block_with_bare_tensors_matches_torch_optim(name, ours, theirs, unfreeze):
    net, twin = model(), model()
    for m in (net, twin):
        m[0].requires_grad_(False)
    opt = optbridge.build(ours, net[2].named_parameters(prefix="2"))
    ref = theirs(twin[2].parameters())
    train(net, opt, range(STEPS), dict(unfreeze))
    train(twin, ref, range(STEPS), dict(unfreeze))
    assert [g["param_names"] for g in opt.param_groups] == [["2.weight", "2.bias"],
                                                           ["param_groups.1.0", "param_groups.1.1"]]
    assert opt.param_groups[1]["lr"] == ref.param_groups[1]["lr"]
    for (n, p), q in zip(net.named_parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=f"{name}: {n}")


def test_names_from_the_module_given_at_construction():
    net = model()
    opt = optbridge.build(optim.SGD(lr=0.1), net[2].parameters(), names=net)
    opt.add_param_group({"params": net[0].parameters(), "lr": 0.01})
    assert [g["param_names"] for g in opt.param_groups] == [["2.weight", "2.bias"], ["0.weight", "0.bias"]]


def test_torch_named_groups_give_their_names():
    net = model()
    opt = optbridge.build(optim.SGD(lr=0.1), net[2].named_parameters(prefix="2"))
    opt.add_param_group({"params": list(net[0].parameters()), "param_names": ["enc.w", "enc.b"]})
    assert opt.param_groups[1]["param_names"] == ["enc.w", "enc.b"]


def test_the_existing_groups_state_is_untouched():
    net = model()
    opt = optbridge.build(optim.Adam(lr=1e-2), net[2].named_parameters(prefix="2"))
    train(net, opt, range(2), None)
    before = {n: {k: v.clone() for k, v in opt.state[p].items()} for n, p in net[2].named_parameters(prefix="2")}
    opt.add_param_group({"params": net[0].parameters(), "lr": 1e-3})
    for n, p in net[2].named_parameters(prefix="2"):
        for k, v in opt.state[p].items():
            assert torch.equal(v, before[n][k]), (n, k)
    assert opt.global_step == 2


def test_state_dict_round_trips_after_bare_tensors_were_added():
    spec = optim.AdamW(lr=1e-2)  # bias corrections count the added group's steps from its first
    net = model()
    net[0].requires_grad_(False)
    opt = optbridge.build(spec, net[2].named_parameters(prefix="2"))
    train(net, opt, range(UNFREEZE + 2), {"lr": 0.01})
    saved_net, saved_state = copy.deepcopy(net.state_dict()), copy.deepcopy(opt.state_dict())
    assert "param_groups.1.0" in saved_state["state"]
    assert [g["first_step"] for g in saved_state["groups"]] == [0, UNFREEZE]
    train(net, opt, range(UNFREEZE + 2, STEPS), None)

    resumed = model()
    resumed.load_state_dict(saved_net)
    again = optbridge.build(spec, resumed[2].named_parameters(prefix="2"))
    again.add_param_group({"params": resumed[0].parameters(), "lr": 0.01})
    again.load_state_dict(saved_state)
    assert again.engine.groups[1].first_step == UNFREEZE
    train(resumed, again, range(UNFREEZE + 2, STEPS), None)
    for (n, p), q in zip(net.named_parameters(), resumed.parameters()):
        assert torch.equal(p, q), n
