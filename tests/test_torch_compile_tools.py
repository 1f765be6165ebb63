"""The torch backend under the user's ``torch.compile``, and ``optbridge.build``'s options.

* ``torch.compile(opt.step)`` on the default path: float32 layers large enough for torch's
  fused kernels (``_fused_sgd_`` / ``_fused_adam(w)_``, which have no fake tensor kernel, so
  tracing them crashed dynamo). The step runs eagerly inside the compiled function and gives
  the uncompiled step's numbers bit for bit.
* A model wrapped by ``torch.compile`` names its parameters ``_orig_mod.<name>``: selectors
  written for the plain model resolve on it, and a state dict saved with the plain model's
  optimizer loads into the compiled model's and continues with the same numbers.
* ``optbridge.build(spec, params, names=model)`` (the call the torch backend's error
  suggests) works; an option a backend does not take is refused by name before anything
  is built.
"""
from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

import optbridge  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.errors import SpecTypeError  # noqa: E402

SPECS = {
    "sgd_momentum": lambda: optim.SGD(None, lr=0.1, momentum=0.9),
    "adam": lambda: optim.Adam(None, lr=1e-3),
    "adamw": lambda: optim.AdamW(None, lr=1e-3, weight_decay=0.1),
    "ms_momentum": lambda: nn.Momentum("*", learning_rate=0.1, momentum=0.9),
    "ms_adam": lambda: nn.Adam("*", learning_rate=1e-3),
}


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))


def set_grads(models: list[torch.nn.Module], t: int) -> None:
    g = torch.Generator().manual_seed(50 + t)
    grads = [torch.randn(p.shape, generator=g) for p in models[0].parameters()]
    for m in models:
        for p, grad in zip(m.parameters(), grads):
            p.grad = grad.clone()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_compiling_opt_step_on_the_default_path_gives_the_eager_numbers(name):
    eager_model, compiled_model = mlp(), mlp()
    eager = optbridge.build(SPECS[name](), eager_model.named_parameters())
    ours = optbridge.build(SPECS[name](), compiled_model.named_parameters())
    compiled_step = torch.compile(ours.step)
    for t in range(3):
        set_grads([eager_model, compiled_model], t)
        eager.step()
        compiled_step()
    assert ours.global_step == eager.global_step == 3
    for (n, a), b in zip(eager_model.named_parameters(), compiled_model.parameters()):
        assert torch.equal(a, b), n
    theirs = ours.state_dict()["state"]
    for key, entry in eager.state_dict()["state"].items():
        for slot, value in entry.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(theirs[key][slot])), (key, slot)


def small() -> torch.nn.Module:
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))


GROUPED = lambda: optim.AdamW([{"params": ["0.*"], "lr": 0.1}, {"params": "*"}], lr=0.01)  # noqa: E731


def test_selectors_for_the_plain_model_resolve_on_the_compiled_model():
    plain, wrapped = small(), torch.compile(small())
    assert next(iter(dict(wrapped.named_parameters()))).startswith("_orig_mod.")
    mine = optbridge.build(GROUPED(), wrapped.named_parameters())
    reference = optbridge.build(GROUPED(), plain.named_parameters())
    assert [g["param_names"] for g in mine.param_groups] == [g["param_names"] for g in reference.param_groups]
    assert mine.param_groups[0]["param_names"] == ["0.weight", "0.bias"]


def test_a_plain_model_checkpoint_resumes_on_the_compiled_model():
    plain, continued, twin = small(), small(), small()
    first = optbridge.build(GROUPED(), plain.named_parameters())
    straight = optbridge.build(GROUPED(), twin.named_parameters())
    for t in range(2):
        set_grads([plain, twin], t)
        first.step()
        straight.step()
    continued.load_state_dict(plain.state_dict())
    wrapped = torch.compile(continued)
    resumed = optbridge.build(GROUPED(), wrapped.named_parameters())
    resumed.load_state_dict(copy.deepcopy(first.state_dict()))
    for t in range(2, 5):
        set_grads([continued, twin], t)
        resumed.step()
        straight.step()
    for (n, a), b in zip(twin.named_parameters(), continued.parameters()):
        assert torch.equal(a, b), n


def test_build_takes_the_names_module_its_error_suggests():
    model = small()
    with pytest.raises(SpecTypeError, match=r"names=model"):
        optbridge.build(GROUPED(), model.parameters())
    opt = optbridge.build(GROUPED(), model.parameters(), names=model)
    assert [g["param_names"] for g in opt.param_groups] == [["0.weight", "0.bias"], ["2.weight", "2.bias"]]
    assert opt.param_groups[0]["params"][0] is model[0].weight


def test_build_refuses_an_option_the_backend_does_not_take_before_building():
    model = small()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(SpecTypeError, match=r"backend 'torch' takes no build option 'nmes'; its options: .*names"):
        optbridge.build(GROUPED(), model.parameters(), nmes=model)
    numpy = pytest.importorskip("numpy")
    with pytest.raises(SpecTypeError, match=r"backend 'numpy' takes no build option 'names'; its options: none"):
        optbridge.build(GROUPED(), {"0.weight": numpy.zeros((3, 4))}, backend="numpy", names=model)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
