"""The neutral state dict across backends: NumPy → torch → MindSpore and back, and a
MindSpore run resumed from a torch checkpoint (``torch.save``/``torch.load``): it
continues bit for bit as the NumPy reference resumed from the same checkpoint does, and
as the torch run itself within float32 rounding (the torch backend's AdamW rounds a few
elements differently from the NumPy reference: 11 of 120 values one ulp apart after 6
steps here, the same with or without the MindSpore backend)."""
import numpy as np
import pytest
from mindspore import Parameter, Tensor

import optbridge
from optbridge.conformance import layouts, streams
from optbridge.dialects.torch import optim

torch = pytest.importorskip("torch")

LAYOUT = layouts.tiny
SEED = 5


def spec():
    """AdamW (amsgrad) with per-group settings and torch's StepLR on one group: slots, host
    state and schedule state."""
    step_lr = optim.lr_scheduler.StepLR.declare(0.02, step_size=1, gamma=0.5)
    groups = [{"params": "conv*", "lr": step_lr, "weight_decay": 0.0}, {"params": "*"}]
    return optim.AdamW(groups, lr=0.01, weight_decay=0.05, amsgrad=True)


def grads(step):
    return streams.as_dtype(streams.gradients(LAYOUT, step, SEED), "float32")


def initial():
    return streams.as_dtype(streams.initial_params(LAYOUT, SEED), "float32")


def mindspore_params(values):
    return {n: Parameter(Tensor(np.array(v)), name=n) for n, v in values.items()}


def torch_params(values):
    return {n: torch.nn.Parameter(torch.from_numpy(np.array(v))) for n, v in values.items()}


def assert_states_equal(a, b):
    assert a["global_step"] == b["global_step"] and a["groups"] == b["groups"]
    assert a["state"].keys() == b["state"].keys()
    for name, slots in a["state"].items():
        assert slots.keys() == b["state"][name].keys()
        for slot, value in slots.items():
            np.testing.assert_array_equal(np.asarray(value), np.asarray(b["state"][name][slot]), strict=True)


def test_the_state_dict_round_trips_numpy_torch_mindspore():
    values = initial()
    numpy_opt = optbridge.build(spec(), {n: v.copy() for n, v in values.items()}, backend="numpy")
    for step in range(3):
        numpy_opt.step(grads(step))
    numpy_opt.end_epoch()
    original = numpy_opt.state_dict()

    torch_opt = optbridge.build(spec(), list(torch_params(values).items()))
    torch_opt.load_state_dict(original)
    ms_opt = optbridge.build(spec(), mindspore_params(values))
    ms_opt.load_state_dict(torch_opt.neutral_state_dict())
    back = optbridge.build(spec(), {n: v.copy() for n, v in values.items()}, backend="numpy")
    back.load_state_dict(ms_opt.state_dict())
    for state in (torch_opt.neutral_state_dict(), ms_opt.state_dict(), back.state_dict()):
        assert_states_equal(state, original)


def test_a_mindspore_run_resumed_from_a_torch_checkpoint_continues_with_the_same_numbers(tmp_path):
    model = torch_params(initial())
    torch_opt = optbridge.build(spec(), list(model.items()))

    def torch_step(step):
        for n, g in grads(step).items():
            model[n].grad = torch.from_numpy(g)
        torch_opt.step()

    for step in range(3):
        torch_step(step)
    torch_opt.end_epoch()
    torch.save({"model": {n: p.detach().clone() for n, p in model.items()}, "optimizer": torch_opt.state_dict()},
               tmp_path / "checkpoint.pt")
    for step in range(3, 6):
        torch_step(step)

    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    resumed = {n: t.numpy() for n, t in checkpoint["model"].items()}
    params = mindspore_params(resumed)
    ms_opt = optbridge.build(spec(), params)
    ms_opt.load_state_dict(checkpoint["optimizer"])
    reference = {n: v.copy() for n, v in resumed.items()}
    numpy_opt = optbridge.build(spec(), reference, backend="numpy")
    numpy_opt.load_state_dict(checkpoint["optimizer"])
    assert ms_opt.global_step == 3 and ms_opt.get_lr() == numpy_opt.get_lr() == [0.01, 0.01]
    for step in range(3, 6):
        ms_opt({n: Tensor(g) for n, g in grads(step).items()})
        numpy_opt.step(grads(step))
    for n, value in reference.items():
        np.testing.assert_array_equal(params[n].asnumpy(), value, err_msg=n, strict=True)
        np.testing.assert_allclose(params[n].asnumpy(), model[n].detach().numpy(), rtol=1e-6, atol=1e-7)
    assert_states_equal(ms_opt.state_dict(), numpy_opt.state_dict())


def test_a_refused_state_dict_changes_nothing():
    params = mindspore_params(initial())
    ms_opt = optbridge.build(spec(), params)
    ms_opt({n: Tensor(g) for n, g in grads(0).items()})
    before = ms_opt.state_dict()
    bad = dict(before, state={**before["state"], "fc.weight": {**before["state"]["fc.weight"],
                                                               "exp_avg": np.zeros(3, np.float32)}})
    with pytest.raises(ValueError, match=r"fc\.weight"):
        ms_opt.load_state_dict(bad)
    assert_states_equal(ms_opt.state_dict(), before)
