"""The torch backend: a real torch.optim.Optimizer, its paths, lr ownership, state, AMP."""
from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import optbridge  # noqa: E402
from optbridge.backends.torch import Optimizer  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.errors import SpecTypeError, SpecValueError, StateDictError, StaticLearningRateError, StepInputError  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self, dtype=torch.float32):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(4, 3).to(dtype)
        self.bn = torch.nn.BatchNorm1d(3).to(dtype)
        self.head = torch.nn.Linear(3, 2).to(dtype)

    def forward(self, x):
        # the non-linearity comes before the batch norm, so fc.bias gets a real gradient (a bias
        # right before a batch norm gets rounding noise, which Adam would amplify)
        return self.head(self.bn(torch.tanh(self.fc(x))))


def batch(step, dtype=torch.float32):
    g = torch.Generator().manual_seed(100 + step)
    return torch.randn(8, 4, generator=g, dtype=dtype), torch.randn(8, 2, generator=g, dtype=dtype)


def train(model, opt, steps, dtype=torch.float32, start=0):
    for s in range(start, start + steps):
        x, y = batch(s, dtype)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def values(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


SPECS = {
    "momentum": lambda: nn.Momentum(None, 0.1, 0.9, weight_decay=1e-3),
    "momentum_nesterov": lambda: nn.Momentum(None, 0.1, 0.9, use_nesterov=True),
    "sgd_dampening": lambda: nn.SGD(None, 0.1, momentum=0.9, dampening=0.2, nesterov=False, weight_decay=1e-2),
    "sgd_nesterov": lambda: nn.SGD(None, 0.1, momentum=0.9, nesterov=True),
    "adam": lambda: nn.Adam(None, 1e-2, weight_decay=1e-3),
    "adam_amsgrad": lambda: nn.Adam(None, 1e-2, use_amsgrad=True),
    "adam_nesterov": lambda: nn.Adam(None, 1e-2, use_nesterov=True),
    "adam_weight_decay": lambda: nn.AdamWeightDecay(None, 1e-2, weight_decay=0.01),
    "asgd": lambda: nn.ASGD(None, 0.05, t0=3.0),
}


def test_build_returns_a_torch_optimizer_detected_from_the_tensors():
    model = Net()
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), model.named_parameters())
    assert isinstance(opt, Optimizer) and isinstance(opt, torch.optim.Optimizer)
    assert [len(g["params"]) for g in opt.param_groups] == [6]
    assert opt.param_groups[0]["param_names"] == [n for n, _ in model.named_parameters()]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


# (spec, dtype, path, flat): every spec compiled in float32 (where inductor's arithmetic could differ
# in the last bit), every spec on auto (torch's fused SGD where exact), flat buffers compiled and eager.
FAST_CASES = (
    [(n, torch.float32, "compiled", False) for n in sorted(SPECS)]
    + [(n, torch.float64, "auto", False) for n in sorted(SPECS)]
    + [(n, torch.float32, "auto", False) for n in ("momentum", "sgd_dampening", "sgd_nesterov")]
    + [(n, torch.float64, "compiled", True) for n in ("adam", "momentum_nesterov", "asgd")]
    + [(n, torch.float32, "auto", True) for n in ("adam_amsgrad", "sgd_nesterov")]
)


@pytest.mark.parametrize("name,dtype,path,flat", FAST_CASES,
                         ids=[f"{n}-{str(d)[6:]}-{p}{'-flat' if f else ''}" for n, d, p, f in FAST_CASES])
def test_fast_paths_equal_the_reference_path_over_eight_steps(name, path, flat, dtype):
    ref_model, fast_model = Net(dtype), Net(dtype)
    ref = Optimizer(ref_model.named_parameters(), SPECS[name](), path="reference")
    fast = Optimizer(fast_model.named_parameters(), SPECS[name](), path=path, flat=flat, compile_threshold=0)
    train(ref_model, ref, 8, dtype)
    train(fast_model, fast, 8, dtype)
    # torch's fused SGD and inductor may contract a·b + c into one FMA: allow a few ulp.
    rtol, atol = (1e-12, 1e-14) if dtype == torch.float64 else (2e-6, 1e-7)
    for (n, a), b in zip(values(ref_model).items(), values(fast_model).values()):
        torch.testing.assert_close(b, a, rtol=rtol, atol=atol, msg=f"{name} {path} flat={flat}: {n}")
    sd_ref, sd_fast = ref.state_dict(), fast.state_dict()
    for n in sd_ref["state"]:
        for slot, v in sd_ref["state"][n].items():
            torch.testing.assert_close(sd_fast["state"][n][slot], v, rtol=rtol, atol=atol)


def test_compiled_path_in_chunks_equals_the_reference(monkeypatch):
    import optbridge.backends.torch.dispatch as module

    monkeypatch.setattr(module, "COMPILE_CHUNK", 4)
    ref_model, fast_model = Net(), Net()
    ref = Optimizer(ref_model.named_parameters(), SPECS["asgd"](), path="reference")
    fast = Optimizer(fast_model.named_parameters(), SPECS["asgd"](), path="compiled")
    train(ref_model, ref, 7)
    train(fast_model, fast, 7)
    for (n, a), b in zip(values(ref_model).items(), values(fast_model).values()):
        torch.testing.assert_close(b, a, rtol=2e-6, atol=1e-7, msg=n)


def _peak_bytes(step):
    """The most CPU memory ``step`` allocates beyond what it started with: the memory
    benchmark's own measurement (``benchmarks/memory.py``: the profiler's allocation events)."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "benchmarks" / "memory.py"
    spec = importlib.util.spec_from_file_location("optbridge_memory_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.peak_torch(step)


def test_a_compiled_rule_that_reduces_per_tensor_keeps_one_large_update_at_a_time(monkeypatch):
    # Adafactor needs each tensor's whole update before its RMS clip; compiled as one C++ function
    # every tensor's update was alive at once (1.004 parameter bytes, torch.optim 1.001): the
    # sequence points between runs of tensors free one before the next, with the same numbers
    import optbridge.backends.torch.paths as paths
    from optbridge.backends.torch import sequence
    from optbridge.dialects.torch import optim

    calls = []
    monkeypatch.setattr(sequence, "sequence_point", lambda after, before: calls.append((len(after), len(before))))
    params = {"a": torch.zeros(4, 4), "b": torch.zeros(70000), "c": torch.zeros(70000), "d": torch.zeros(3)}
    sequence.in_turn(lambda ps, gs, slots: None, list(params.values()), list(params.values()),
                     {"row_var": [None, None, None, None], "variance": list(params.values())})
    assert calls == [(2, 6)]  # runs [a, b] and [c, d]: after a and b, before c, d, their gradients and state
    monkeypatch.undo()

    torch.manual_seed(0)
    shapes = [(512, 256), (512, 256), (256,), (256,)]
    init = [torch.randn(s) for s in shapes]
    grads = [[torch.randn(s) for s in shapes] for _ in range(4)]
    param_bytes = sum(t.numel() * 4 for t in init)
    runs = {}
    for in_turn in (True, False):
        monkeypatch.setattr(paths, "_cache", {})
        if not in_turn:
            monkeypatch.setattr(paths, "runs_in_turn", lambda alg: False)
        ps = {f"p{i}": torch.nn.Parameter(t.clone()) for i, t in enumerate(init)}
        opt = Optimizer(ps, optim.Adafactor(None, lr=1e-2, weight_decay=0.1), path="compiled")
        peaks = []
        for g in grads:
            for p, gi in zip(ps.values(), g):
                p.grad = gi.clone()
            peaks.append(_peak_bytes(opt.step))
        runs[in_turn] = ([p.detach().clone() for p in ps.values()], max(peaks[1:]) / param_bytes)
    (turned, turned_peak), (together, together_peak) = runs[True], runs[False]
    assert all(torch.equal(a, b) for a, b in zip(turned, together))
    assert turned_peak < 0.6 < 0.9 < together_peak, (turned_peak, together_peak)


def test_params_whose_grad_is_none_are_skipped():
    model = Net()
    opt = optbridge.build(nn.Adam(None, 0.1), model.named_parameters())
    before = values(model)
    x, y = batch(0)
    torch.nn.functional.mse_loss(model(x), y).backward()
    model.head.weight.grad = None
    opt.step()
    after = values(model)
    assert torch.equal(after["head.weight"], before["head.weight"])
    assert torch.count_nonzero(opt.state[model.head.weight]["exp_avg"]) == 0
    assert not torch.equal(after["fc.weight"], before["fc.weight"])


def test_zero_grad_sets_to_none_or_zeros():
    model = Net()
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), model.named_parameters())
    x, y = batch(0)
    torch.nn.functional.mse_loss(model(x), y).backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and torch.count_nonzero(p.grad) == 0 for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_flat_mode_keeps_autograd_model_state_dict_and_forbids_replaced_data():
    model = Net()
    opt = Optimizer(model.named_parameters(), nn.Adam(None, 0.01), flat=True)
    unit = opt._units[0][0]
    assert unit.flat is not None
    base = unit.flat.param.data_ptr()
    assert all(p.data_ptr() >= base for p in model.parameters())
    train(model, opt, 3)
    msd = model.state_dict()
    twin = Net()
    twin.load_state_dict(msd)
    for (n, a), b in zip(values(model).items(), values(twin).values()):
        assert torch.equal(a, b), n
    # load_state_dict on the model writes through the views into the flat buffer
    model.load_state_dict(Net().state_dict())
    assert torch.equal(unit.flat.param[:12].view(3, 4), Net().fc.weight.detach())
    opt.zero_grad()
    assert all(p.grad is not None for p in model.parameters())
    model.fc.weight.data = model.fc.weight.data.clone()
    with pytest.raises(StepInputError, match="fc.weight"):
        opt.step()


def test_lr_rule_torch_scheduler_and_manual_assignment_win_over_a_static_spec_lr():
    model, twin = Net(), Net()
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), model.named_parameters())
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    ref = optbridge.build(nn.Momentum(None, 0.1, 0.9), twin.named_parameters())
    for s in range(6):
        assert opt.get_lr() == pytest.approx([0.1 * 0.5 ** (s // 2)])
        train(model, opt, 1, start=s)
        sched.step()
        ref.set_lr(0.1 * 0.5 ** (s // 2))
        train(twin, ref, 1, start=s)
    for (n, a), b in zip(values(model).items(), values(twin).values()):
        assert torch.equal(a, b), n
    # MindSpore's Momentum computes host scalars in float32
    opt.param_groups[0]["lr"] = 0.01
    assert opt.get_lr() == [float(np.float32(0.01))]
    opt.set_lr(0.02)
    assert opt.param_groups[0]["lr"] == float(np.float32(0.02))


def test_lr_rule_an_optbridge_schedule_owns_the_lr_and_is_published():
    model = Net()
    opt = optbridge.build(nn.Momentum(None, [0.3, 0.2, 0.1], 0.9), model.named_parameters())
    seen = []
    for s in range(3):
        seen.append(opt.param_groups[0]["lr"])
        train(model, opt, 1, start=s)
    assert seen == pytest.approx([0.3, 0.2, 0.1])
    model2 = Net()
    opt2 = optbridge.build(nn.Momentum(None, nn.WarmUpLR(0.1, 4), 0.9), model2.named_parameters())
    with pytest.raises(StaticLearningRateError, match="groups\\[0\\]"):
        opt2.param_groups[0]["lr"] = 0.5  # refused at the assignment, before anything is written
    assert opt2.param_groups[0]["lr"] == opt2.get_lr()[0]


def test_read_only_group_keys_raise_when_changed():
    model = Net()
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), model.named_parameters())
    with pytest.raises(SpecValueError, match=r"param_groups\[0\]\['nesterov'\]"):
        opt.param_groups[0]["nesterov"] = True  # refused at the assignment
    assert opt.param_groups[0]["nesterov"] is False
    opt.param_groups[0]["nesterov"] = False  # writing the value it has is allowed (torch code writes options back)


def test_state_dict_round_trips_through_torch_load_weights_only_into_a_fresh_model():
    model, twin = Net(), Net()
    opt = optbridge.build(nn.Adam(None, 0.01), model.named_parameters())
    ref = optbridge.build(nn.Adam(None, 0.01), twin.named_parameters())
    train(model, opt, 3)
    train(twin, ref, 7)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "optim": opt.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    fresh = Net()
    fresh.load_state_dict(ckpt["model"])
    fresh_opt = optbridge.build(nn.Adam(None, 0.01), fresh.named_parameters())
    fresh_opt.load_state_dict(ckpt["optim"])
    assert fresh_opt.global_step == 3
    train(fresh, fresh_opt, 4, start=3)
    for (n, a), b in zip(values(twin).items(), values(fresh).values()):
        assert torch.equal(a, b), n


def test_a_run_checkpointed_on_torch_resumes_on_numpy_with_the_same_numbers():
    dtype = torch.float64
    model = Net(dtype)
    spec = nn.Momentum(None, 0.1, 0.9, weight_decay=1e-3)
    # the reference path runs NumPy's op order exactly (torch's fused SGD may use an FMA: 1 ulp)
    opt = Optimizer(model.named_parameters(), spec, path="reference")
    train(model, opt, 3, dtype)
    arrays = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    np_opt = optbridge.build(spec, arrays)
    np_opt.load_state_dict(opt.neutral_state_dict())
    for s in range(3, 7):
        x, y = batch(s, dtype)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        np_opt.step({n: p.grad.numpy().copy() for n, p in model.named_parameters()})
        opt.step()
        for n, p in model.named_parameters():
            np.testing.assert_array_equal(arrays[n], p.detach().numpy(), err_msg=n)
    assert np_opt.global_step == opt.global_step == 7


def test_load_state_dict_rejects_a_torch_optim_state_and_changes_nothing():
    model = Net()
    opt = optbridge.build(nn.Adam(None, 0.01), model.named_parameters())
    train(model, opt, 1)
    before = {k: v.clone() for k, v in opt.state[model.fc.weight].items()}
    plain = torch.optim.Adam(model.parameters()).state_dict()
    with pytest.raises(StateDictError, match="not an optbridge state dict"):
        opt.load_state_dict(plain)
    sd = opt.state_dict()
    sd = dict(sd, state=dict(sd["state"]))
    sd["state"]["fc.weight"] = {"exp_avg": torch.zeros(3), "exp_avg_sq": torch.zeros(3, 4)}
    with pytest.raises(StateDictError, match="fc.weight"):
        opt.load_state_dict(sd)
    for k, v in before.items():
        assert torch.equal(opt.state[model.fc.weight][k], v)
    assert opt.global_step == 1


def test_grad_scaler_unscales_and_skips_steps_with_inf():
    model, twin = Net(), Net()
    opt = optbridge.build(nn.Adam(None, 0.01), model.named_parameters())
    ref = optbridge.build(nn.Adam(None, 0.01), twin.named_parameters())
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
    for s in range(4):
        x, y = batch(s)
        opt.zero_grad()
        scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
        if s == 2:
            model.fc.weight.grad[0, 0] = float("inf")
        scaler.step(opt)
        scaler.update()
        if s != 2:
            train(twin, ref, 1, start=s)
    assert opt.global_step == 3
    for (n, a), b in zip(values(twin).items(), values(model).values()):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7, msg=n)


def test_static_loss_scale_matches_the_numpy_reference():
    spec = nn.Momentum(None, 0.1, 0.9, weight_decay=1e-3, loss_scale=128.0)
    model = Net(torch.float64)
    opt = optbridge.build(spec, model.named_parameters())
    arrays = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    np_opt = optbridge.build(spec, arrays)
    for s in range(3):
        x, y = batch(s, torch.float64)
        opt.zero_grad()
        (128.0 * torch.nn.functional.mse_loss(model(x), y)).backward()
        np_opt.step({n: p.grad.numpy().copy() for n, p in model.named_parameters()})
        opt.step()
    for n, p in model.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), arrays[n], rtol=1e-13, err_msg=n)


def test_add_param_group_trains_the_new_group_with_its_options():
    model = Net()
    frozen = list(model.head.named_parameters(prefix="head"))
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), list(model.fc.named_parameters(prefix="fc"))
                          + list(model.bn.named_parameters(prefix="bn")))
    train(model, opt, 2)
    before = values(model)
    opt.add_param_group({"params": frozen, "lr": 0.5})
    assert len(opt.param_groups) == 2 and opt.get_lr() == pytest.approx([0.1, 0.5])
    assert opt.global_step == 2
    train(model, opt, 1, start=2)
    after = values(model)
    x, y = batch(2)
    assert not torch.equal(after["head.weight"], before["head.weight"])
    with pytest.raises(SpecValueError, match="already in a group"):
        opt.add_param_group({"params": frozen})
    with pytest.raises(SpecValueError, match="unknown keys"):
        opt.add_param_group({"params": [("extra", torch.nn.Parameter(torch.ones(2)))], "betas": (0.1, 0.2)})


def test_half_precision_params_need_explicit_float32_state():
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float16))
    with pytest.raises(SpecValueError, match="state_dtype=torch.float32"):
        optbridge.build(nn.Adam(None, 0.01), [("w", p)])
    for dtype in (torch.float16, torch.bfloat16):
        p = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0], dtype=dtype))
        q = torch.nn.Parameter(p.detach().float())
        opt = Optimizer([("w", p)], nn.Adam(None, 0.01), state_dtype=torch.float32)
        ref = Optimizer([("w", q)], nn.Adam(None, 0.01), path="reference")
        assert opt.state[p]["exp_avg"].dtype == torch.float32
        for s in range(3):
            g = torch.tensor([0.5, -1.0, 2.0]) * (s + 1)
            p.grad = g.to(dtype)
            q.grad = p.grad.float()
            opt.step()
            ref.step()
            # the float32 update of the rounded parameter, rounded back
            assert torch.equal(p.detach(), q.detach().to(dtype))
            q.data = p.detach().float()


def test_bad_inputs_raise_clear_errors():
    model = Net()
    with pytest.raises(SpecTypeError, match="names"):
        Optimizer(model.parameters(), nn.Adam(None, 0.01))
    with pytest.raises(SpecValueError, match="path"):
        Optimizer(model.named_parameters(), nn.Adam(None, 0.01), path="fast")
    opt = Optimizer(model.parameters(), nn.Adam(None, 0.01), names=model)
    model.fc.weight.grad = torch.zeros(3, 4).to_sparse()
    with pytest.raises(StepInputError, match="fc.weight.*sparse"):
        opt.step()
    assert opt.global_step == 0


def test_closure_is_called_with_grad_enabled_and_its_loss_returned():
    model = Net()
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), model.named_parameters())
    x, y = batch(0)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, torch.Tensor) and opt.global_step == 1


def test_flat_mode_copies_a_hand_assigned_gradient_and_refuses_none_or_a_moved_gradient():
    model, twin = Net(), Net()
    opt = Optimizer(model.named_parameters(), nn.Momentum(None, 0.1, 0.9), flat=True)
    ref = Optimizer(twin.named_parameters(), nn.Momentum(None, 0.1, 0.9))
    for m in (model, twin):
        for p in m.parameters():
            p.grad = torch.full_like(p, 0.5)
    opt.step()
    ref.step()
    unit = opt._units[0][0]
    assert all(p.grad.data_ptr() >= unit.flat.grad.data_ptr() for p in model.parameters())
    for (n, a), b in zip(values(model).items(), values(twin).values()):
        assert torch.equal(a, b), n
    model.fc.weight.grad.set_(torch.ones_like(model.fc.weight))
    twin.fc.weight.grad = torch.ones_like(twin.fc.weight)
    opt.step()
    ref.step()
    for (n, a), b in zip(values(model).items(), values(twin).values()):
        assert torch.equal(a, b), n
    assert model.fc.weight.grad.data_ptr() == unit.flat.grad.data_ptr()
    model.fc.weight.grad = None
    with pytest.raises(StepInputError, match="fc.weight.*grad None"):
        opt.step()
