"""Edge cases of the torch backend's compiled path, each against the reference path.

* 0-d parameters and slots: torch 2.13's ``torch.compile`` drops in-place updates of a
  0-d float64 CPU input that does not require grad; ``optbridge.backends.torch.paths``
  passes 0-d tensors as 1-element views. Each spec steps a 0-d parameter (plain tensor
  and Parameter) next to a 1-d one.
* LARS: its inner algorithm's host scalars (a nested mapping) travel in the scalar
  vector, so a learning rate that changes every step never recompiles (dynamo's
  recompile limit is 8); a ``lars_filter`` selector given as a dict (unhashable) still
  keys the compiled-function cache.
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


LARS_STEPS = 12


def run_lars(path: str, lars_filter) -> dict[str, torch.Tensor]:
    params = {"conv.weight": torch.linspace(-1.0, 1.0, 24, dtype=torch.float64).reshape(2, 3, 4),
              "conv.bias": torch.tensor([0.5, -0.25], dtype=torch.float64)}
    lrs = [0.1 / (1 + step) for step in range(LARS_STEPS)]
    spec = nn.LARS(nn.Momentum(None, lrs, 0.9, weight_decay=1e-3), lars_filter=lars_filter)
    opt = Optimizer(params, spec, path=path, compile_threshold=0)
    for step in range(LARS_STEPS):
        params["conv.weight"].grad = torch.cos(params["conv.weight"] * (step + 1))
        params["conv.bias"].grad = torch.tensor([0.1 * step, -0.3], dtype=torch.float64)
        opt.step()
    return params


@pytest.mark.parametrize("lars_filter", [None, {"min_ndim": 2}], ids=["default_filter", "dict_filter"])
def test_compiled_lars_follows_a_per_step_lr_without_recompiling(lars_filter):
    import warnings

    reference = run_lars("reference", lars_filter)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a compile failure would fall back with a warning
        compiled = run_lars("compiled", lars_filter)
    for key in reference:
        torch.testing.assert_close(compiled[key], reference[key], rtol=1e-14, atol=0.0, msg=key)
