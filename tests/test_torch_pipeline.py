"""The stateful gradient pipeline in torch loops: a spec with torch-form loss scaling, clipping
and an EMA gives, on the torch backend, exactly what ``GradScaler`` + ``clip_grad_norm_`` +
``torch.optim`` + ``AveragedModel(get_ema_multi_avg_fn)`` give in a torch training loop,
skipped steps included; a user's own ``GradScaler`` with such a spec is refused."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import optbridge  # noqa: E402
from optbridge import transforms as T  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.errors import SpecValueError, StepInputError  # noqa: E402

STEPS = 14
OVERFLOW = {3, 4, 9}  # steps whose loss overflows once scaled (inf gradients): skipped


def _same_bits(a, b) -> bool:
    return torch.equal(a.detach().view(torch.int32), b.detach().view(torch.int32))


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))


def _loss(net, step):
    g = torch.Generator().manual_seed(100 + step)
    x, y = torch.randn(16, 12, generator=g), torch.randint(0, 3, (16,), generator=g)
    loss = torch.nn.functional.cross_entropy(net(x), y)
    return loss * 1e38 if step in OVERFLOW else loss


@pytest.mark.parametrize("algorithm,kwargs", [("AdamW", dict(lr=1e-2, weight_decay=0.1)),
                                              ("SGD", dict(lr=0.1, momentum=0.9))])
def test_spec_equals_gradscaler_clip_and_averaged_model(algorithm, kwargs):
    scaling = dict(init_scale=2.0 ** 6, growth_factor=2.0, backoff_factor=0.5, growth_interval=3)
    ours, theirs = _model(), _model()
    spec = getattr(optim, algorithm)(None, **kwargs).with_transforms(
        T.LossScale(form="torch", initial_scale=scaling["init_scale"], growth_interval=scaling["growth_interval"]),
        T.ClipByGlobalNorm(0.5, form="torch"),
        T.ExponentialMovingAverage(0.9, form="torch"))
    opt = optbridge.build(spec, ours.named_parameters(), backend="torch")
    native = getattr(torch.optim, algorithm)(theirs.parameters(), **kwargs, fused=True)
    scaler = torch.amp.GradScaler("cpu", **scaling)
    averaged = torch.optim.swa_utils.AveragedModel(theirs, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.9))
    scales = []
    for step in range(STEPS):
        assert opt.loss_scale == scaler.get_scale()
        scales.append(opt.loss_scale)
        opt.zero_grad()
        opt.scale_loss(_loss(ours, step)).backward()
        native.zero_grad()
        scaler.scale(_loss(theirs, step)).backward()
        before = [p.grad.clone() for p in ours.parameters()]
        opt.step()
        assert all(_same_bits(p.grad, g) for p, g in zip(ours.parameters(), before))  # .grad not written
        scaler.unscale_(native)
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.5)
        scaler.step(native)
        scaler.update()
        averaged.update_parameters(theirs)
        for a, b in zip(ours.parameters(), theirs.parameters()):
            assert torch.equal(a, b), step
        for p, avg in zip(ours.parameters(), averaged.module.parameters()):
            assert torch.equal(opt.state[p]["average"], avg), step
    assert len(set(scales)) > 2  # the scale grew and backed off
    assert opt.global_step == STEPS - len(OVERFLOW)
    if algorithm == "AdamW":
        assert native.state[next(theirs.parameters())]["step"].item() == opt.global_step
    transforms = opt.state_dict()["transforms"] if "transforms" in opt.state_dict() else \
        opt.neutral_state_dict()["transforms"]
    assert transforms[0]["state"] == {"scale": scaler.get_scale(), "growth_tracker": scaler._get_growth_tracker()}
    assert transforms[2]["state"] == {"n_averaged": int(averaged.n_averaged)}


def test_a_users_gradscaler_with_a_loss_scaling_spec_is_refused_and_changes_nothing():
    model = _model()
    spec = optim.SGD(None, lr=0.1, momentum=0.9).with_transforms(T.LossScale(form="torch"))
    opt = optbridge.build(spec, model.named_parameters(), backend="torch")
    scaler = torch.amp.GradScaler("cpu")
    scaler.scale(_loss(model, 0)).backward()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    state = opt.neutral_state_dict()
    with pytest.raises(StepInputError, match="scales the loss itself"):
        scaler.step(opt)
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    after = opt.neutral_state_dict()
    assert after["global_step"] == state["global_step"] == 0 and after["transforms"] == state["transforms"]
    for name, slots in state["state"].items():
        assert all(np.array_equal(v, after["state"][name][k]) for k, v in slots.items())


def test_a_users_gradscaler_still_works_without_loss_scaling_in_the_spec():
    model = _model()
    opt = optbridge.build(optim.SGD(None, lr=0.1), model.named_parameters(), backend="torch")
    assert not opt._step_supports_amp_scaling
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 4)
    scaler.scale(_loss(model, 0)).backward()
    scaler.step(opt)
    scaler.update()
    assert opt.global_step == 1


def test_accumulation_and_ema_on_torch_follow_the_numpy_reference():
    """Accumulators bit for bit (sums of the same gradients); parameters and averages within
    the float32 tolerance (torch's fused SGD kernel rounds its update differently)."""
    spec = optim.SGD(None, lr=0.1, momentum=0.9).with_transforms(T.AccumulateGradients(3),
                                                      T.ExponentialMovingAverage(0.8, overwrite_frequency=2))
    model = _model()
    opt = optbridge.build(spec, model.named_parameters(), backend="torch")
    arrays = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    ref = optbridge.build(spec, arrays, backend="numpy")
    for step in range(10):
        opt.zero_grad()
        _loss(model, step % 3).backward()
        grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
        opt.step()
        ref.step(grads)
        for n, p in model.named_parameters():
            assert np.array_equal(opt.state[p]["gradient_accumulator"].numpy(), ref.slots[n]["gradient_accumulator"])
            np.testing.assert_allclose(p.detach().numpy(), ref.params[n], rtol=1e-6, atol=1e-7, err_msg=f"{step} {n}")
            np.testing.assert_allclose(opt.state[p]["average"].numpy(), ref.slots[n]["average"], rtol=1e-6,
                                       atol=1e-7, err_msg=f"{step} {n}")
    assert opt.global_step == ref.global_step == 3


def test_stateful_transforms_are_refused_where_they_cannot_run():
    params = [("w", torch.nn.Parameter(torch.ones(3)))]
    spec = optim.SGD(None, lr=0.1).with_transforms(T.LossScale())
    with pytest.raises(SpecValueError, match="capturable=True does not run"):
        optbridge.build(spec, params, backend="torch", capturable=True)
    from optbridge.backends.torch import Optimizer
    with pytest.raises(SpecValueError, match="partition=True"):
        Optimizer(params, spec, partition=True, names=params)


def test_finalize_averages_writes_the_averages():
    model = _model()
    spec = optim.SGD(None, lr=0.1).with_transforms(T.ExponentialMovingAverage(0.5, form="torch"))
    opt = optbridge.build(spec, model.named_parameters(), backend="torch")
    for step in range(3):
        opt.zero_grad()
        _loss(model, step).backward()
        opt.step()
    averages = [opt.state[p]["average"].clone() for p in model.parameters()]
    assert not all(torch.equal(p, a) for p, a in zip(model.parameters(), averages))
    opt.finalize_averages()
    assert all(torch.equal(p, a) for p, a in zip(model.parameters(), averages))
    plain = optbridge.build(optim.SGD(None, lr=0.1), _model().named_parameters(), backend="torch")
    with pytest.raises(SpecValueError, match="keeps no moving average"):
        plain.finalize_averages()
    assert math.isfinite(opt.loss_scale) and opt.loss_scale == 1.0


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
def test_stateful_transforms_round_trip_through_configs(tmp_path, fmt):
    if fmt == "yaml":
        pytest.importorskip("yaml")
    spec = optim.AdamW(None, lr=1e-3).with_transforms(
        T.LossScale(form="torch", initial_scale=1024.0, growth_interval=100), T.AccumulateGradients(2),
        T.ExponentialMovingAverage(0.9, form="torch"))
    again = optbridge.load(optbridge.save(spec, tmp_path / f"spec.{fmt}"))
    assert again == spec and again.to_canonical().transforms == spec.to_canonical().transforms
