"""torch-dialect RMSprop, Adagrad, Adadelta, Adamax, Rprop and Adafactor against torch.optim (torch 2.13).

Each case builds the optbridge spec and the torch optimizer from the same arguments (two
parameter groups with different hyperparameters, ``foreach=False``: torch's single-tensor
path), feeds both the deterministic gradient streams of :mod:`optbridge.conformance.streams`
for 25 steps and compares every parameter after every step:

* float64: max |ours − torch| ≤ 1e-12 · max |torch| per tensor;
* float32: |ours − torch| ≤ 1e-6 + 1e-5·|torch| per element.

The bit-identical share and the worst float32 ulp distance are printed
(``pytest -s -k report``); the share is asserted at the level measured (torch's CPU kernels
fuse ``lerp_``/``addcmul_``/``add(alpha=)`` into FMAs, the canonical op order rounds each
operation). Also here: dialect classes of two frameworks that lower to one canonical
algorithm, and torch's own messages for the catalog's ``construct`` records.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import optbridge  # noqa: E402
import torch_live  # noqa: E402
from optbridge.conformance import streams  # noqa: E402
from optbridge.conformance.catalog import CONSTRUCT_ERRORS  # noqa: E402
from optbridge.dialects.base import dialect_registry  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from torch_live import LAYOUT, STEPS  # noqa: E402

SEED = 13

#: (id, class name, group-0 overrides, group-1 overrides, constructor arguments)
CASES = [
    ("rmsprop", "RMSprop", {"lr": 0.005, "alpha": 0.9}, {"weight_decay": 0.0}, dict(lr=0.01, weight_decay=1e-2)),
    ("rmsprop_momentum_centered", "RMSprop", {"centered": False, "maximize": True}, {"momentum": 0.5, "eps": 1e-6},
     dict(lr=0.01, momentum=0.9, centered=True, weight_decay=1e-3)),
    ("rmsprop_centered_plain", "RMSprop", {"alpha": 0.5}, {"lr": 0.002}, dict(lr=0.01, centered=True)),
    ("adagrad", "Adagrad", {"lr": 0.05}, {"eps": 1e-6, "weight_decay": 0.0}, dict(lr=0.1, weight_decay=1e-2)),
    ("adagrad_lr_decay_initial", "Adagrad", {"lr_decay": 0.0, "maximize": True}, {"initial_accumulator_value": 1.0},
     dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1)),
    ("adadelta", "Adadelta", {"rho": 0.5, "lr": 0.5}, {"weight_decay": 0.0}, dict(weight_decay=1e-2)),
    ("adadelta_maximize", "Adadelta", {"maximize": True}, {"eps": 1e-4}, dict(lr=2.0, rho=0.95)),
    ("adamax", "Adamax", {"betas": (0.8, 0.5), "lr": 0.01}, {"weight_decay": 0.0}, dict(lr=0.02, weight_decay=1e-2)),
    ("adamax_maximize", "Adamax", {"maximize": True}, {"eps": 1e-3}, dict(lr=0.01, betas=(0.5, 0.9))),
    ("rprop", "Rprop", {"lr": 0.05}, {"etas": (0.3, 1.5)}, dict(lr=0.01)),
    ("rprop_steps_maximize", "Rprop", {"step_sizes": (1e-3, 0.02)}, {"maximize": True},
     dict(lr=0.01, etas=(0.4, 1.3), step_sizes=(1e-4, 1.0))),
    ("adafactor", "Adafactor", {"lr": 0.05, "weight_decay": 0.1}, {"beta2_decay": -0.5}, dict(lr=0.01)),
    ("adafactor_eps_d_maximize", "Adafactor", {"maximize": True, "d": 2.0}, {"eps": (1e-20, 1e-2)},
     dict(lr=0.5, weight_decay=1e-2, eps=(1e-10, 1e-3))),
]
CLASSES = sorted({c[1] for c in CASES})

#: Minimum float32 bit-identical share per class, as measured with torch 2.13 on x86-64.
MIN_IDENTICAL = {"RMSprop": 0.45, "Adagrad": 0.75, "Adadelta": 0.65, "Adamax": 0.9, "Rprop": 1.0, "Adafactor": 0.25}

_STATS: dict[str, dict[str, float]] = {}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_float64_matches_torch(case):
    torch_live.assert_float64_matches(case, SEED)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_float32_matches_torch(case):
    torch_live.assert_float32_matches(case, SEED, MIN_IDENTICAL[case[1]], _STATS)


def test_report_float32_agreement(capsys):
    """Print the per-class float32 agreement with torch.optim (run after the float32 cases)."""
    if set(_STATS) != set(CLASSES):
        pytest.skip("run together with test_float32_matches_torch to collect the numbers")
    with capsys.disabled():
        print("\n" + "\n".join(torch_live.report(_STATS, CLASSES)))


# -- one canonical algorithm for two dialects ---------------------------------------------------
#: (MindSpore class, its arguments, torch class, its arguments): the same numbers.
SAME_ALGORITHM = [
    ("Adadelta", dict(learning_rate=0.5, rho=0.75, epsilon=2.0 ** -10), "Adadelta", dict(lr=0.5, rho=0.75, eps=2.0 ** -10)),
    ("Rprop", dict(learning_rate=0.0625, etas=(0.5, 1.25), step_sizes=(2.0 ** -12, 2.0)),
     "Rprop", dict(lr=0.0625, etas=(0.5, 1.25), step_sizes=(2.0 ** -12, 2.0))),
]


@pytest.mark.parametrize("ms_name,ms_kwargs,torch_name,torch_kwargs", SAME_ALGORITHM, ids=[c[0] for c in SAME_ALGORITHM])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mindspore_and_torch_classes_are_one_algorithm(ms_name, ms_kwargs, torch_name, torch_kwargs, dtype):
    """Hyperparameters exact in float32, so MindSpore's float32 and torch's float64 host
    scalars agree and the two dialects give the same bits."""
    ms = getattr(nn, ms_name)(None, **ms_kwargs)
    th = getattr(optim, torch_name)(None, **torch_kwargs)
    assert ms.to_canonical().algorithm == th.to_canonical().algorithm
    runs = []
    for spec in (ms, th):
        params = streams.as_dtype(streams.initial_params(LAYOUT, SEED), dtype)
        opt = optbridge.build(spec, params, backend="numpy")
        for step in range(STEPS):
            opt.step(streams.as_dtype(streams.gradients(LAYOUT, step, SEED), dtype))
        runs.append(params)
    for name, _ in LAYOUT:
        assert runs[0][name].tobytes() == runs[1][name].tobytes(), name


def test_adagrad_ignores_a_group_initial_accumulator_value_like_torch():
    tensors = {n: torch.zeros(s) for n, s in LAYOUT}
    reference = torch.optim.Adagrad([{"params": [tensors["conv.weight"], tensors["conv.bias"]],
                                      "initial_accumulator_value": 1.0},
                                     {"params": [tensors["fc.weight"], tensors["fc.bias"]]}],
                                    initial_accumulator_value=0.25)
    assert float(reference.state[tensors["conv.weight"]]["sum"].max()) == 0.25
    spec = optim.Adagrad([{"params": ["conv.weight", "conv.bias"], "initial_accumulator_value": 1.0},
                          {"params": "*"}], initial_accumulator_value=0.25)
    opt = optbridge.build(spec, {n: np.zeros(s) for n, s in LAYOUT}, backend="numpy")
    assert float(opt.state_dict()["state"]["conv.weight"]["sum"].max()) == 0.25


# -- the catalog's construct records against torch itself --------------------------------------
#: Records about optbridge's stricter checks that torch does not raise itself.
OPTBRIDGE_ONLY = {"torch.rprop-etas_scalar"}
TORCH_RECORDS = [r for r in CONSTRUCT_ERRORS if r.optimizer.startswith("torch.optim.")
                 and r.optimizer.split(".")[-1] in CLASSES]


@pytest.mark.parametrize("record", TORCH_RECORDS, ids=[r.id for r in TORCH_RECORDS])
def test_construct_record(record):
    cls = dialect_registry[record.optimizer]
    kwargs = dict(record.kwargs)
    with pytest.raises(record.error_type, match=re.escape(record.message)):
        cls(**kwargs)
    if record.id in OPTBRIDGE_ONLY:
        return
    tensors = [torch.zeros(2, requires_grad=True)]
    del kwargs["params"]
    builtin = next(t for t in record.error_type.__mro__ if t.__module__ == "builtins")
    with pytest.raises(builtin, match=re.escape(record.message)):
        getattr(torch.optim, record.optimizer.split(".")[-1])(tensors, **kwargs)
