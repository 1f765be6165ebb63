"""Record MindSpore's learning-rate schedules as goldens for optbridge's MindSpore dialect.

Run with a Python that has MindSpore 2.10 (CPU) and numpy<2, from the repository root:

    /opt/msvenv/bin/python tests/goldens/gen_mindspore_schedules.py

It writes ``tests/goldens/mindspore_schedules.json`` (deterministic: same MindSpore, same
bytes) holding

* ``dynamic_lr``: for each ``mindspore.nn.dynamic_lr`` function and argument set, the list
  MindSpore returns;
* ``schedules``: for each ``mindspore.nn.LearningRateSchedule`` class and argument set, the
  float32 learning rate at global steps ``0..N``, obtained by calling the cell with
  ``Tensor(step, mstype.int32)`` as MindSpore's optimizers do (PyNative mode), stored as
  float32 bit patterns and as decimals; the same cells are also run in GRAPH_MODE and
  ``graph_mode_identical`` says whether the bits agree;
* ``signatures``: each function's and class constructor's parameters and defaults;
* ``errors``: argument sets MindSpore refuses (with the exception type and message it
  raises) or accepts (``exception`` null), so the tests check optbridge's validation
  against MindSpore's real behaviour rather than its documentation.

Values that JSON cannot hold are tagged: ``{"$float": "nan"}``, ``{"$tuple": [...]}``,
``{"$set": [...]}``, ``{"$float32": x}``.
"""
from __future__ import annotations

import inspect
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

import mindspore
from mindspore import Tensor, context, nn
from mindspore.common import dtype as mstype

OUTPUT = Path(__file__).with_name("mindspore_schedules.json")
LAST_STEP = 30

DYNAMIC_LR_CASES: list[tuple[str, dict[str, Any]]] = [
    ("piecewise_constant_lr", {"milestone": [2, 5, 10], "learning_rates": [0.1, 0.05, 0.01]}),
    ("piecewise_constant_lr", {"milestone": (3, 3, 7, 12), "learning_rates": (0.2, 0.3, 0.02, 0.002)}),
    ("piecewise_constant_lr", {"milestone": [1, 4], "learning_rates": [1e-3, -5e-4]}),
    ("exponential_decay_lr", {"learning_rate": 0.1, "decay_rate": 0.9, "total_step": 20,
                              "step_per_epoch": 2, "decay_epoch": 1}),
    ("exponential_decay_lr", {"learning_rate": 0.1, "decay_rate": 0.9, "total_step": 20,
                              "step_per_epoch": 2, "decay_epoch": 3, "is_stair": True}),
    ("exponential_decay_lr", {"learning_rate": 0.05, "decay_rate": 0.7, "total_step": 25,
                              "step_per_epoch": 3, "decay_epoch": 2, "is_stair": False}),
    ("natural_exp_decay_lr", {"learning_rate": 0.1, "decay_rate": 0.9, "total_step": 20,
                              "step_per_epoch": 2, "decay_epoch": 2, "is_stair": True}),
    ("natural_exp_decay_lr", {"learning_rate": 0.1, "decay_rate": 0.9, "total_step": 20,
                              "step_per_epoch": 2, "decay_epoch": 2}),
    ("natural_exp_decay_lr", {"learning_rate": 0.3, "decay_rate": 0.15, "total_step": 25,
                              "step_per_epoch": 3, "decay_epoch": 4, "is_stair": True}),
    ("inverse_decay_lr", {"learning_rate": 0.1, "decay_rate": 0.5, "total_step": 20,
                          "step_per_epoch": 1, "decay_epoch": 1, "is_stair": True}),
    ("inverse_decay_lr", {"learning_rate": 0.1, "decay_rate": 0.5, "total_step": 20,
                          "step_per_epoch": 2, "decay_epoch": 3}),
    ("inverse_decay_lr", {"learning_rate": 0.2, "decay_rate": 0.3, "total_step": 25,
                          "step_per_epoch": 3, "decay_epoch": 2, "is_stair": True}),
    ("cosine_decay_lr", {"min_lr": 0.01, "max_lr": 0.1, "total_step": 20, "step_per_epoch": 2,
                         "decay_epoch": 4}),
    ("cosine_decay_lr", {"min_lr": 0.0, "max_lr": 1e-3, "total_step": 30, "step_per_epoch": 3,
                         "decay_epoch": 10}),
    ("cosine_decay_lr", {"min_lr": 1e-4, "max_lr": 0.05, "total_step": 25, "step_per_epoch": 1,
                         "decay_epoch": 7}),
    ("polynomial_decay_lr", {"learning_rate": 0.1, "end_learning_rate": 0.01, "total_step": 20,
                             "step_per_epoch": 2, "decay_epoch": 4, "power": 0.5}),
    ("polynomial_decay_lr", {"learning_rate": 0.1, "end_learning_rate": 0.01, "total_step": 20,
                             "step_per_epoch": 2, "decay_epoch": 4, "power": 0.5,
                             "update_decay_epoch": True}),
    ("polynomial_decay_lr", {"learning_rate": 0.05, "end_learning_rate": 0.0, "total_step": 25,
                             "step_per_epoch": 3, "decay_epoch": 3, "power": 2.0,
                             "update_decay_epoch": True}),
    ("warmup_lr", {"learning_rate": 0.1, "total_step": 20, "step_per_epoch": 2, "warmup_epoch": 4}),
    ("warmup_lr", {"learning_rate": 0.05, "total_step": 25, "step_per_epoch": 3, "warmup_epoch": 10}),
    ("warmup_lr", {"learning_rate": 0.3, "total_step": 12, "step_per_epoch": 1, "warmup_epoch": 5}),
]

SCHEDULE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("ExponentialDecayLR", {"learning_rate": 0.1, "decay_rate": 0.9, "decay_steps": 4}),
    ("ExponentialDecayLR", {"learning_rate": 0.1, "decay_rate": 0.9, "decay_steps": 4, "is_stair": True}),
    ("ExponentialDecayLR", {"learning_rate": 0.05, "decay_rate": 0.75, "decay_steps": 7, "is_stair": False}),
    ("NaturalExpDecayLR", {"learning_rate": 0.1, "decay_rate": 0.9, "decay_steps": 4, "is_stair": True}),
    ("NaturalExpDecayLR", {"learning_rate": 0.1, "decay_rate": 0.1, "decay_steps": 4}),
    ("NaturalExpDecayLR", {"learning_rate": 0.2, "decay_rate": 0.05, "decay_steps": 7, "is_stair": False}),
    ("InverseDecayLR", {"learning_rate": 0.1, "decay_rate": 0.9, "decay_steps": 4, "is_stair": True}),
    ("InverseDecayLR", {"learning_rate": 0.1, "decay_rate": 0.5, "decay_steps": 6}),
    ("InverseDecayLR", {"learning_rate": 0.3, "decay_rate": 0.2, "decay_steps": 5, "is_stair": True}),
    ("CosineDecayLR", {"min_lr": 0.01, "max_lr": 0.1, "decay_steps": 4}),
    ("CosineDecayLR", {"min_lr": 0.0, "max_lr": 1e-3, "decay_steps": 20}),
    ("CosineDecayLR", {"min_lr": 1e-4, "max_lr": 0.05, "decay_steps": 7}),
    ("PolynomialDecayLR", {"learning_rate": 0.1, "end_learning_rate": 0.01, "decay_steps": 4, "power": 0.5}),
    ("PolynomialDecayLR", {"learning_rate": 0.1, "end_learning_rate": 0.01, "decay_steps": 4, "power": 0.5,
                           "update_decay_steps": True}),
    ("PolynomialDecayLR", {"learning_rate": 0.05, "end_learning_rate": 0.0, "decay_steps": 10, "power": 2.0,
                           "update_decay_steps": True}),
    ("PolynomialDecayLR", {"learning_rate": 1e-3, "end_learning_rate": 1e-5, "decay_steps": 25, "power": 0.9}),
    ("WarmUpLR", {"learning_rate": 0.1, "warmup_steps": 2}),
    ("WarmUpLR", {"learning_rate": 0.1, "warmup_steps": 8}),
    ("WarmUpLR", {"learning_rate": 3e-4, "warmup_steps": 25}),
]

NAN = float("nan")
INF = float("inf")

_DECAY_FN = {"learning_rate": 0.1, "decay_rate": 0.9, "total_step": 6, "step_per_epoch": 2, "decay_epoch": 1}
_DECAY_FN_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"total_step": 0}, "total_step"),
    ({"total_step": 2.5}, "total_step"),
    ({"total_step": True}, "total_step"),
    ({"step_per_epoch": -1}, "step_per_epoch"),
    ({"step_per_epoch": 2.0}, "step_per_epoch"),
    ({"decay_epoch": 0}, "decay_epoch"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"learning_rate": 1}, "learning_rate"),
    ({"learning_rate": INF}, "learning_rate"),
    ({"learning_rate": NAN}, "learning_rate"),
    ({"learning_rate": np.float32(0.1)}, "learning_rate"),
    ({"decay_rate": 0.0}, "decay_rate"),
    ({"decay_rate": 1}, "decay_rate"),
    ({"is_stair": 1}, "is_stair"),
    ({"is_stair": "yes"}, "is_stair"),
    ({"is_stair": None}, "is_stair"),
]
_DECAY_CLS = {"learning_rate": 0.1, "decay_rate": 0.9, "decay_steps": 4}
_DECAY_CLS_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"decay_steps": 0}, "decay_steps"),
    ({"decay_steps": -3}, "decay_steps"),
    ({"decay_steps": 4.0}, "decay_steps"),
    ({"decay_steps": True}, "decay_steps"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"learning_rate": 1}, "learning_rate"),
    ({"learning_rate": NAN}, "learning_rate"),
    ({"decay_rate": -0.5}, "decay_rate"),
    ({"decay_rate": 1}, "decay_rate"),
    ({"decay_rate": INF}, "decay_rate"),
    ({"is_stair": 0}, "is_stair"),
]


def _variants(base: dict[str, Any], changes: list[tuple[dict[str, Any], str]]) -> list[tuple[dict[str, Any], str]]:
    return [({**base, **change}, arg) for change, arg in changes]


# (target, kwargs, offending argument or None for an argument set MindSpore accepts)
ERROR_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("piecewise_constant_lr", {"milestone": 5, "learning_rates": [0.1]}, "milestone"),
    ("piecewise_constant_lr", {"milestone": {2, 5}, "learning_rates": [0.1, 0.05]}, "milestone"),
    ("piecewise_constant_lr", {"milestone": [2, 5], "learning_rates": 0.1}, "learning_rates"),
    ("piecewise_constant_lr", {"milestone": [2, 5], "learning_rates": [0.1]}, "milestone"),
    ("piecewise_constant_lr", {"milestone": [0, 5], "learning_rates": [0.1, 0.05]}, "milestone[0]"),
    ("piecewise_constant_lr", {"milestone": [2, -5], "learning_rates": [0.1, 0.05]}, "milestone[1]"),
    ("piecewise_constant_lr", {"milestone": [2, 5.0], "learning_rates": [0.1, 0.05]}, "milestone[1]"),
    ("piecewise_constant_lr", {"milestone": [True, 5], "learning_rates": [0.1, 0.05]}, "milestone[0]"),
    ("piecewise_constant_lr", {"milestone": [2, 5], "learning_rates": [0.1, 1]}, "learning_rates[1]"),
    ("piecewise_constant_lr", {"milestone": [2, 5], "learning_rates": [NAN, 0.05]}, "learning_rates[0]"),
    ("piecewise_constant_lr", {"milestone": [2, 5], "learning_rates": [np.float32(0.1), 0.05]},
     "learning_rates[0]"),
    ("piecewise_constant_lr", {"milestone": [5, 2], "learning_rates": [0.1, 0.05]}, "milestone[1]"),
    ("piecewise_constant_lr", {"milestone": [2, 2], "learning_rates": [0.1, 0.05]}, None),
    ("piecewise_constant_lr", {"milestone": [], "learning_rates": []}, None),
    ("piecewise_constant_lr", {"milestone": [3], "learning_rates": [-0.1]}, None),
    *[(name, kwargs, arg)
      for name in ("exponential_decay_lr", "natural_exp_decay_lr", "inverse_decay_lr")
      for kwargs, arg in _variants(_DECAY_FN, _DECAY_FN_ERRORS)],
    ("exponential_decay_lr", {**_DECAY_FN, "decay_rate": 1.5}, None),
    ("cosine_decay_lr", {"min_lr": 0, "max_lr": 0.1, "total_step": 6, "step_per_epoch": 2, "decay_epoch": 2},
     "min_lr"),
    ("cosine_decay_lr", {"min_lr": -0.01, "max_lr": 0.1, "total_step": 6, "step_per_epoch": 2,
                         "decay_epoch": 2}, "min_lr"),
    ("cosine_decay_lr", {"min_lr": NAN, "max_lr": 0.1, "total_step": 6, "step_per_epoch": 2,
                         "decay_epoch": 2}, "min_lr"),
    ("cosine_decay_lr", {"min_lr": 0.01, "max_lr": 0.0, "total_step": 6, "step_per_epoch": 2,
                         "decay_epoch": 2}, "max_lr"),
    ("cosine_decay_lr", {"min_lr": 0.01, "max_lr": 1, "total_step": 6, "step_per_epoch": 2,
                         "decay_epoch": 2}, "max_lr"),
    ("cosine_decay_lr", {"min_lr": 0.2, "max_lr": 0.1, "total_step": 6, "step_per_epoch": 2,
                         "decay_epoch": 2}, "max_lr"),
    ("cosine_decay_lr", {"min_lr": 0.1, "max_lr": 0.1, "total_step": 6, "step_per_epoch": 2,
                         "decay_epoch": 2}, "max_lr"),
    ("cosine_decay_lr", {"min_lr": 0.01, "max_lr": 0.1, "total_step": 0, "step_per_epoch": 2,
                         "decay_epoch": 2}, "total_step"),
    ("cosine_decay_lr", {"min_lr": 0.01, "max_lr": 0.1, "total_step": 6, "step_per_epoch": 0,
                         "decay_epoch": 2}, "step_per_epoch"),
    ("cosine_decay_lr", {"min_lr": 0.01, "max_lr": 0.1, "total_step": 6, "step_per_epoch": 2,
                         "decay_epoch": 1.5}, "decay_epoch"),
    ("cosine_decay_lr", {"min_lr": 0.0, "max_lr": 0.1, "total_step": 6, "step_per_epoch": 2,
                         "decay_epoch": 2}, None),
    *[("polynomial_decay_lr",
       {"learning_rate": 0.1, "end_learning_rate": 0.01, "total_step": 6, "step_per_epoch": 2,
        "decay_epoch": 2, "power": 0.5, **change}, arg)
      for change, arg in [
          ({"learning_rate": 0.0}, "learning_rate"),
          ({"learning_rate": 1}, "learning_rate"),
          ({"end_learning_rate": 0}, "end_learning_rate"),
          ({"end_learning_rate": -0.01}, "end_learning_rate"),
          ({"end_learning_rate": INF}, "end_learning_rate"),
          ({"power": 0.0}, "power"),
          ({"power": 1}, "power"),
          ({"total_step": 0}, "total_step"),
          ({"step_per_epoch": 0}, "step_per_epoch"),
          ({"decay_epoch": -2}, "decay_epoch"),
          ({"update_decay_epoch": 0}, "update_decay_epoch"),
          ({"update_decay_epoch": None}, "update_decay_epoch"),
      ]],
    ("polynomial_decay_lr", {"learning_rate": 0.1, "end_learning_rate": 0.2, "total_step": 6,
                             "step_per_epoch": 2, "decay_epoch": 2, "power": 0.5}, None),
    *[("warmup_lr", {"learning_rate": 0.1, "total_step": 6, "step_per_epoch": 2, "warmup_epoch": 2, **change}, arg)
      for change, arg in [
          ({"learning_rate": 1}, "learning_rate"),
          ({"learning_rate": -0.1}, "learning_rate"),
          ({"learning_rate": INF}, "learning_rate"),
          ({"warmup_epoch": 0}, "warmup_epoch"),
          ({"warmup_epoch": 2.0}, "warmup_epoch"),
          ({"total_step": 1.0}, "total_step"),
          ({"step_per_epoch": 0}, "step_per_epoch"),
      ]],
    ("warmup_lr", {"learning_rate": 0.0, "total_step": 6, "step_per_epoch": 2, "warmup_epoch": 2}, None),
    *[(name, kwargs, arg)
      for name in ("ExponentialDecayLR", "NaturalExpDecayLR", "InverseDecayLR")
      for kwargs, arg in _variants(_DECAY_CLS, _DECAY_CLS_ERRORS)],
    *[("CosineDecayLR", {"min_lr": 0.01, "max_lr": 0.1, "decay_steps": 4, **change}, arg)
      for change, arg in [
          ({"min_lr": 0}, "min_lr"),
          ({"min_lr": -0.01}, "min_lr"),
          ({"min_lr": NAN}, "min_lr"),
          ({"max_lr": 0.0}, "max_lr"),
          ({"max_lr": 1}, "max_lr"),
          ({"max_lr": INF}, "max_lr"),
          ({"min_lr": 0.2}, "max_lr"),
          ({"min_lr": 0.1}, "max_lr"),
          ({"decay_steps": 0}, "decay_steps"),
          ({"decay_steps": 2.0}, "decay_steps"),
      ]],
    ("CosineDecayLR", {"min_lr": 0.0, "max_lr": 0.1, "decay_steps": 4}, None),
    *[("PolynomialDecayLR",
       {"learning_rate": 0.1, "end_learning_rate": 0.01, "decay_steps": 4, "power": 0.5, **change}, arg)
      for change, arg in [
          ({"learning_rate": 0.0}, "learning_rate"),
          ({"learning_rate": 1}, "learning_rate"),
          ({"end_learning_rate": 0}, "end_learning_rate"),
          ({"end_learning_rate": -0.01}, "end_learning_rate"),
          ({"decay_steps": 0}, "decay_steps"),
          ({"decay_steps": 4.0}, "decay_steps"),
          ({"update_decay_steps": 1}, "update_decay_steps"),
          ({"power": 0.0}, "power"),
          ({"power": -1.0}, "power"),
          ({"power": 1}, "power"),
          ({"power": INF}, "power"),
      ]],
    ("PolynomialDecayLR", {"learning_rate": 0.1, "end_learning_rate": 0.2, "decay_steps": 4, "power": 0.5},
     None),
    *[("WarmUpLR", {"learning_rate": 0.1, "warmup_steps": 2, **change}, arg)
      for change, arg in [
          ({"learning_rate": 1}, "learning_rate"),
          ({"learning_rate": -0.1}, "learning_rate"),
          ({"learning_rate": NAN}, "learning_rate"),
          ({"warmup_steps": 0}, "warmup_steps"),
          ({"warmup_steps": 2.0}, "warmup_steps"),
          ({"warmup_steps": True}, "warmup_steps"),
      ]],
    ("WarmUpLR", {"learning_rate": 0.0, "warmup_steps": 2}, None),
]


def encode(value: Any) -> Any:
    """Make ``value`` JSON data, tagging what JSON cannot hold."""
    if isinstance(value, np.float32):
        return {"$float32": float(value)}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$set": [encode(v) for v in sorted(value)]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def signature(target: Any) -> list[list[Any]]:
    """``[[name, default], ...]`` of a function or constructor; a required one has ``{"$required": true}``."""
    function = target.__init__ if isinstance(target, type) else target
    params = list(inspect.signature(function).parameters.values())
    if isinstance(target, type):
        params = params[1:]
    return [[p.name, {"$required": True} if p.default is p.empty else encode(p.default)] for p in params]


def float32_values(cell: nn.Cell) -> tuple[list[int], list[float]]:
    values = [cell(Tensor(step, mstype.int32)).asnumpy() for step in range(LAST_STEP + 1)]
    as_float32 = np.array(values, dtype=np.float32)
    assert as_float32.shape == (LAST_STEP + 1,)
    return [int(b) for b in as_float32.view(np.uint32)], [float(v) for v in as_float32]


def main() -> None:
    context.set_context(mode=context.PYNATIVE_MODE, device_target="CPU")
    dynamic = []
    for name, kwargs in DYNAMIC_LR_CASES:
        values = getattr(nn.dynamic_lr, name)(**kwargs)
        assert all(type(v) is float for v in values), name
        dynamic.append({"function": name, "kwargs": encode(kwargs), "values": values})

    schedules = []
    for name, kwargs in SCHEDULE_CASES:
        bits, decimals = float32_values(getattr(nn.learning_rate_schedule, name)(**kwargs))
        schedules.append({"class": name, "kwargs": encode(kwargs), "steps": [0, LAST_STEP],
                          "float32_bits": bits, "values": decimals})

    signatures = {name: signature(getattr(nn.dynamic_lr, name)) for name in nn.dynamic_lr.__all__}
    signatures.update({name: signature(getattr(nn.learning_rate_schedule, name))
                       for name in nn.learning_rate_schedule.__all__})

    errors = []
    for target, kwargs, arg in ERROR_CASES:
        module = nn.learning_rate_schedule if target[0].isupper() else nn.dynamic_lr
        record: dict[str, Any] = {"target": target, "kwargs": encode(kwargs), "arg": arg}
        try:
            getattr(module, target)(**kwargs)
        except (TypeError, ValueError) as exc:
            assert arg is not None, f"MindSpore refused {target}({kwargs}): {exc}"
            record["exception"] = type(exc).__name__
            record["message"] = str(exc)
        else:
            assert arg is None, f"MindSpore accepted {target}({kwargs})"
            record["exception"] = None
        errors.append(record)

    context.set_context(mode=context.GRAPH_MODE)
    for case, (name, kwargs) in zip(schedules, SCHEDULE_CASES):
        bits, _ = float32_values(getattr(nn.learning_rate_schedule, name)(**kwargs))
        case["graph_mode_identical"] = bits == case["float32_bits"]
        if bits != case["float32_bits"]:
            case["graph_mode_float32_bits"] = bits

    lines = [
        "{",
        f' "mindspore_version": {json.dumps(mindspore.__version__)},',
        f' "numpy_version": {json.dumps(np.__version__)},',
        ' "generator": "tests/goldens/gen_mindspore_schedules.py",',
        ' "context": {"mode": "PYNATIVE_MODE", "device_target": "CPU"},',
        ' "global_step": "Tensor(step, mstype.int32) for step in range(steps[0], steps[1] + 1)",',
        f' "signatures": {json.dumps(signatures)},',
    ]
    for key, cases in (("dynamic_lr", dynamic), ("schedules", schedules), ("errors", errors)):
        body = ",\n".join("  " + json.dumps(case, allow_nan=False) for case in cases)
        lines.append(f' "{key}": [\n{body}\n ]' + ("," if key != "errors" else ""))
    lines.append("}")
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes) with MindSpore {mindspore.__version__}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
