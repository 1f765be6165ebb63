"""Who owns the learning rate on the torch backend: torch's own lr_scheduler vs the spec.

A group whose lr is a number may be driven by a torch ``lr_scheduler`` (it writes
``param_groups[i]['lr']``); a group whose lr the spec gives as a per-step list or a
schedule is owned by the spec, and a torch scheduler attached to it is refused where it
binds, with nothing written (issue 16, item 1).
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from optbridge.backends.torch import Optimizer  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.errors import StaticLearningRateError  # noqa: E402

LR_LIST = [0.1, 0.05, 0.02, 0.01, 0.01, 0.01]


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(4, 3)
        self.head = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.head(torch.tanh(self.fc(x)))


def train_step(model, opt, step):
    g = torch.Generator().manual_seed(100 + step)
    x, y = torch.randn(8, 4, generator=g), torch.randn(8, 2, generator=g)
    opt.zero_grad()
    torch.nn.functional.mse_loss(model(x), y).backward()
    opt.step()


def snapshot(opt, model):
    groups = [{k: (v if k != "params" else [id(p) for p in v]) for k, v in g.items()} for g in opt.param_groups]
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    state = {id(p): {k: v.clone() for k, v in s.items()} for p, s in opt.state.items()}
    return groups, params, state, opt.get_lr(), opt.global_step


def assert_same(a, b):
    assert a[0] == b[0] and a[3] == b[3] and a[4] == b[4]
    assert a[1].keys() == b[1].keys() and all(torch.equal(a[1][n], b[1][n]) for n in a[1])
    assert a[2].keys() == b[2].keys()
    for k in a[2]:
        assert all(torch.equal(a[2][k][s], b[2][k][s]) for s in a[2][k])


def mixed_spec():
    """group 0 ('fc.*') has a static lr; group 1 ('*') a per-step list."""
    return optim.SGD([{"params": "fc.*", "lr": 0.1}, {"params": "*", "lr": LR_LIST}], lr=0.1, momentum=0.9)


@pytest.mark.parametrize("make_scheduler, name", [
    (lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5), "StepLR"),
    (lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda epoch: 0.9 ** epoch), "LambdaLR"),
    (lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.2, total_steps=6), "OneCycleLR"),
    (lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=2), "CyclicLR"),
])
def test_torch_scheduler_on_a_spec_owned_lr_is_refused_at_construction(make_scheduler, name):
    model = Net()
    opt = Optimizer(model.named_parameters(), mixed_spec())
    train_step(model, opt, 0)
    before = snapshot(opt, model)
    with pytest.raises(StaticLearningRateError) as info:
        make_scheduler(opt)
    message = str(info.value)
    assert message.startswith("param_groups[1] ('*'): torch.optim.lr_scheduler." + name)
    assert f"a per-step list of {len(LR_LIST)} values" in message
    assert "static lr in the spec" in message and ".declare(" in message and "Nothing was changed" in message
    assert isinstance(info.value, TypeError)
    assert_same(snapshot(opt, model), before)  # no 'initial_lr', no lr, no momentum written
    for s in range(1, 4):  # the spec keeps owning the lr: training goes on along the list
        assert opt.param_groups[1]["lr"] == pytest.approx(LR_LIST[s])
        train_step(model, opt, s)


def test_schedule_name_is_given_for_a_declared_schedule():
    model = Net()
    opt = Optimizer(model.named_parameters(), nn.Momentum(None, nn.WarmUpLR(0.1, 4), 0.9))
    with pytest.raises(StaticLearningRateError, match=r"param_groups\[0\] \('\*'\): torch\.optim\.lr_scheduler\."
                                                      r"StepLR .*the schedule 'WarmUpLR'"):
        torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    assert "initial_lr" not in opt.param_groups[0]


def test_reduce_lr_on_plateau_is_refused_when_it_reduces_and_writes_no_group():
    model = Net()
    opt = Optimizer(model.named_parameters(), mixed_spec())
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    train_step(model, opt, 0)
    plateau.step(1.0)
    before = snapshot(opt, model)
    with pytest.raises(StaticLearningRateError, match=r"param_groups\[1\] \('\*'\): torch\.optim\.lr_scheduler\."
                                                      r"ReduceLROnPlateau .*per-step list"):
        plateau.step(2.0)  # no improvement: it would halve every group, group 0 first
    assert_same(snapshot(opt, model), before)  # group 0 kept its lr too


def test_assigning_a_spec_owned_lr_by_hand_is_refused_at_the_assignment():
    model = Net()
    opt = Optimizer(model.named_parameters(), mixed_spec())
    before = snapshot(opt, model)
    with pytest.raises(StaticLearningRateError, match=r"param_groups\[1\] \('\*'\): code assigning "
                                                      r"param_groups\[1\]\['lr'\]"):
        opt.param_groups[1]["lr"] = 0.5
    assert_same(snapshot(opt, model), before)
    opt.param_groups[1]["lr"] = opt.param_groups[1]["lr"]  # the same value changes nothing: allowed
    opt.param_groups[0]["lr"] = 0.3  # a static group stays the user's to change
    train_step(model, opt, 0)
    assert opt.get_lr() == pytest.approx([0.3, LR_LIST[1]])


def test_torch_schedulers_drive_static_groups_as_on_torch_sgd():
    """The same StepLR on torch.optim.SGD and on the optbridge optimizer: same lrs, same weights."""
    model, reference = Net(), Net()
    opt = Optimizer(model.named_parameters(),
                    optim.SGD([{"params": "fc.*", "lr": 0.1}, {"params": "*", "lr": 0.05}], lr=0.1, momentum=0.9))
    torch_opt = torch.optim.SGD([{"params": reference.fc.parameters(), "lr": 0.1},
                                 {"params": reference.head.parameters(), "lr": 0.05}], lr=0.1, momentum=0.9)
    schedulers = [torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5) for o in (opt, torch_opt)]
    for s in range(5):
        train_step(model, opt, s)
        train_step(reference, torch_opt, s)
        for sched in schedulers:
            sched.step()
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in torch_opt.param_groups]
    for (n, p), q in zip(model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=n)

