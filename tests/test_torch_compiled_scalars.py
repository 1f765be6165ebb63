"""The torch backend's compiled path updates 0-d parameters and slots (torch 2.13 work-around).

torch 2.13's ``torch.compile`` drops in-place updates of a 0-d float64 CPU input that
does not require grad; ``optbridge.backends.torch.paths`` passes 0-d tensors as
1-element views. Each spec here steps a 0-d parameter (plain tensor and Parameter) next
to a 1-d one on the compiled and the reference path; the results must agree.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from optbridge.backends.torch import Optimizer  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402

SPECS = {
    "sgd_nesterov": lambda: optim.SGD(None, lr=0.1, momentum=0.9, nesterov=True),
    "adam_amsgrad": lambda: optim.Adam(None, lr=0.1, amsgrad=True),
    "asgd": lambda: nn.ASGD(None, 0.05, t0=2.0),
    "adafactor": lambda: optim.Adafactor(None, lr=0.1),
}


def run(spec, path: str, dtype: torch.dtype, parameter: bool) -> dict[str, torch.Tensor]:
    params = {"scale": torch.tensor(0.5, dtype=dtype), "bias": torch.tensor([0.25, -1.0], dtype=dtype)}
    if parameter:
        params = {k: torch.nn.Parameter(v) for k, v in params.items()}
    opt = Optimizer(params, spec, path=path, compile_threshold=0)
    for step in range(4):
        params["scale"].grad = torch.tensor(0.3 * (step + 1) - 0.5, dtype=dtype)
        params["bias"].grad = torch.tensor([0.1 * step, -0.2], dtype=dtype)
        opt.step()
    return {k: v.detach().clone() for k, v in params.items()}


@pytest.mark.parametrize("parameter", [False, True], ids=["tensor", "parameter"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_compiled_path_updates_a_0d_parameter(name, dtype, parameter):
    reference = run(SPECS[name](), "reference", dtype, parameter)
    compiled = run(SPECS[name](), "compiled", dtype, parameter)
    assert reference["scale"].item() != 0.5
    for key in reference:
        torch.testing.assert_close(compiled[key], reference[key], rtol=4e-7 if dtype == torch.float32 else 1e-14,
                                   atol=0.0, msg=f"{name}: {key}")
