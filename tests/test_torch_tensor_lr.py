"""torch 2.13 accepts a 1-element tensor ``lr`` (its own optimizer test inputs use
``torch.tensor(0.001)`` for SGD and Adagrad); the torch dialect does too, recording the
float, and refuses a larger tensor with torch's message."""
from __future__ import annotations

import numpy as np
import pytest

import optbridge
from optbridge.dialects.torch import optim
from optbridge.errors import SpecValueError

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["SGD", "Adagrad"])
def test_tensor_lr_is_recorded_as_a_float_and_steps_like_torch(name):
    lr = torch.tensor(0.001)
    spec = getattr(optim, name)(None, lr=lr)
    data = spec.to_dict()
    assert type(data["lr"]) is float and data["lr"] == lr.item()
    assert optbridge.from_dict(data).to_dict() == data
    rng = np.random.default_rng(0)
    w, g = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    ref = torch.nn.Parameter(torch.from_numpy(w.copy()))
    native = getattr(torch.optim, name)([ref], lr=torch.tensor(0.001))
    params = {"w": w.copy()}
    opt = optbridge.build(spec, params)
    for _ in range(3):
        ref.grad = torch.from_numpy(g.copy())
        native.step()
        opt.step({"w": g})
    np.testing.assert_allclose(params["w"], ref.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_a_tensor_lr_of_two_elements_is_refused_as_torch_refuses_it():
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=torch.tensor([0.001, 0.001]))
    with pytest.raises(SpecValueError, match="Tensor lr must be 1-element"):
        optim.SGD(None, lr=torch.tensor([0.001, 0.001]))
    with pytest.raises(SpecValueError, match=r"groups\[0\].*Tensor lr must be 1-element"):
        optim.Adagrad([{"params": "*", "lr": torch.tensor([0.1, 0.2])}])
    spec = optim.Adagrad([{"params": "*", "lr": torch.tensor(0.25)}])
    assert spec.to_dict()["params"][0]["lr"] == 0.25
