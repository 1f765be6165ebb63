"""optbridge's MindSpore schedules against MindSpore 2.10 itself.

The expectations come from ``tests/goldens/mindspore_schedules.json``, recorded from real
MindSpore by ``tests/goldens/gen_mindspore_schedules.py``; these tests need only numpy and
pytest.
"""
from __future__ import annotations

import inspect
import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from optbridge.dialects.mindspore.nn import dynamic_lr
from optbridge.dialects.mindspore.nn import learning_rate_schedule as lrs
from optbridge.errors import SpecTypeError, SpecValueError
from optbridge.schedules.base import Schedule, schedule_from_config, schedule_registry

GOLDENS = json.loads(
    (Path(__file__).parent / "goldens" / "mindspore_schedules.json").read_text(encoding="utf-8")
)
SCHEDULE_CLASSES = [
    lrs.ExponentialDecayLR,
    lrs.NaturalExpDecayLR,
    lrs.InverseDecayLR,
    lrs.CosineDecayLR,
    lrs.PolynomialDecayLR,
    lrs.WarmUpLR,
]
DYNAMIC_LR_FUNCTIONS = [
    "piecewise_constant_lr",
    "exponential_decay_lr",
    "natural_exp_decay_lr",
    "inverse_decay_lr",
    "cosine_decay_lr",
    "polynomial_decay_lr",
    "warmup_lr",
]


def decode(value: Any) -> Any:
    """Inverse of the generator's ``encode``: rebuild tagged values."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "$float" in value:
            return float(value["$float"])
        if "$float32" in value:
            return np.float32(value["$float32"])
        if "$tuple" in value:
            return tuple(decode(v) for v in value["$tuple"])
        if "$set" in value:
            return {decode(v) for v in value["$set"]}
        return {k: decode(v) for k, v in value.items()}
    return value


def target(name: str) -> Callable[..., Any]:
    module = lrs if name[0].isupper() else dynamic_lr
    return getattr(module, name)


def case_id(name: str, kwargs: dict[str, Any]) -> str:
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


def float32_bits(values: list[float]) -> list[int]:
    as_float32 = np.array(values, dtype=np.float32)
    assert np.array_equal(as_float32.astype(np.float64), np.array(values)), "not float32 values"
    return [int(b) for b in as_float32.view(np.uint32)]


DYNAMIC_CASES = [
    pytest.param(c["function"], decode(c["kwargs"]), c["values"], id=case_id(c["function"], c["kwargs"]))
    for c in GOLDENS["dynamic_lr"]
]
SCHEDULE_CASES = [
    pytest.param(c["class"], decode(c["kwargs"]), c, id=case_id(c["class"], c["kwargs"]))
    for c in GOLDENS["schedules"]
]
ERROR_CASES = [
    pytest.param(e, id=f"{case_id(e['target'], e['kwargs'])}->{e['exception']}")
    for e in GOLDENS["errors"]
]


def test_goldens_come_from_mindspore_2_10() -> None:
    assert GOLDENS["mindspore_version"].startswith("2.10")
    assert GOLDENS["generator"] == "tests/goldens/gen_mindspore_schedules.py"
    assert {c["function"] for c in GOLDENS["dynamic_lr"]} == set(DYNAMIC_LR_FUNCTIONS)
    assert {c["class"] for c in GOLDENS["schedules"]} == {cls.__name__ for cls in SCHEDULE_CLASSES}


def test_guide_piecewise_constant_lr() -> None:
    lr = dynamic_lr.piecewise_constant_lr([2, 5, 10], [0.1, 0.05, 0.01])
    assert lr == [0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01]


def test_guide_polynomial_decay_lr() -> None:
    schedule = lrs.PolynomialDecayLR(learning_rate=0.1, end_learning_rate=0.01, decay_steps=4, power=0.5)
    result = schedule(2)
    assert type(result) is float
    assert float(np.float32(result)) == result
    assert f"{np.float32(result):.6g}" == "0.0736396"


@pytest.mark.parametrize(("name", "kwargs", "expected"), DYNAMIC_CASES)
def test_dynamic_lr_equals_mindspore(name: str, kwargs: dict[str, Any], expected: list[float]) -> None:
    result = target(name)(**kwargs)
    assert type(result) is list
    assert all(type(v) is float for v in result)
    assert [v.hex() for v in result] == [v.hex() for v in expected]


# Measured against MindSpore 2.10.0 (CPU, PyNative and GRAPH_MODE alike): every value of
# every case below is bit-identical, 19 cases x 31 steps = 589 of 589 values, so no ulp
# allowance exists; any differing bit fails.
@pytest.mark.parametrize(("name", "kwargs", "golden"), SCHEDULE_CASES)
def test_schedule_is_bit_identical_to_mindspore(name: str, kwargs: dict[str, Any], golden: dict[str, Any]) -> None:
    schedule = target(name)(**kwargs)
    first, last = golden["steps"]
    values = [schedule.value(step) for step in range(first, last + 1)]
    assert all(type(v) is float for v in values)
    assert float32_bits(values) == golden["float32_bits"]
    assert values == golden["values"]
    assert [schedule(step) for step in range(first, last + 1)] == values


def test_schedule_goldens_hold_in_graph_mode_too() -> None:
    assert all(c["graph_mode_identical"] for c in GOLDENS["schedules"])


@pytest.mark.parametrize("record", ERROR_CASES)
def test_validation_matches_mindspore(record: dict[str, Any]) -> None:
    kwargs = decode(record["kwargs"])
    build = target(record["target"])
    if record["exception"] is None:
        build(**kwargs)
        return
    builtin = {"TypeError": TypeError, "ValueError": ValueError}[record["exception"]]
    ours = {"TypeError": SpecTypeError, "ValueError": SpecValueError}[record["exception"]]
    with pytest.raises(builtin) as info:
        build(**kwargs)
    assert type(info.value) is ours
    message = str(info.value)
    assert record["arg"] in message
    assert f"'{record['target']}'" in message
    name, _, index = record["arg"].partition("[")
    value = kwargs[name][int(index.rstrip("]"))] if index else kwargs[name]
    if isinstance(value, (int, float, str, type(None))):
        assert str(value) in message


@pytest.mark.parametrize("name", [*DYNAMIC_LR_FUNCTIONS, *(cls.__name__ for cls in SCHEDULE_CLASSES)])
def test_signature_matches_mindspore(name: str) -> None:
    params = list(inspect.signature(target(name)).parameters.values())
    ours = [[p.name, {"$required": True} if p.default is p.empty else p.default] for p in params]
    assert ours == GOLDENS["signatures"][name]


def test_public_names() -> None:
    assert dynamic_lr.__all__ == DYNAMIC_LR_FUNCTIONS
    assert lrs.__all__ == ["LearningRateSchedule", *(cls.__name__ for cls in SCHEDULE_CLASSES)]


@pytest.mark.parametrize("cls", SCHEDULE_CLASSES, ids=lambda cls: cls.__name__)
def test_schedule_class_contract(cls: type[Schedule]) -> None:
    assert issubclass(cls, lrs.LearningRateSchedule)
    assert issubclass(cls, Schedule)
    assert cls.kind == f"mindspore.nn.{cls.__name__}"
    assert cls.precision == "float32"
    assert cls.interval == "step"
    assert schedule_registry[cls.kind] is cls


def test_learning_rate_schedule_base_is_abstract() -> None:
    class Custom(lrs.LearningRateSchedule):
        kind = "tests.Custom"

    schedule = Custom()
    assert isinstance(schedule, lrs.LearningRateSchedule)
    assert lrs.LearningRateSchedule.precision == "float32"
    with pytest.raises(NotImplementedError):
        schedule.value(0)
    with pytest.raises(NotImplementedError):
        schedule(3)


@pytest.mark.parametrize(("name", "kwargs", "golden"), SCHEDULE_CASES)
def test_config_round_trip(name: str, kwargs: dict[str, Any], golden: dict[str, Any]) -> None:
    cls = target(name)
    schedule = cls(**kwargs)
    config = schedule.get_config()
    defaults = {p: d for p, d in GOLDENS["signatures"][name] if d != {"$required": True}}
    assert config == {**defaults, **kwargs}
    assert list(config) == [p for p, _ in GOLDENS["signatures"][name]]
    rebuilt = cls.from_config(config)
    assert rebuilt == schedule and hash(rebuilt) == hash(schedule)
    data = schedule.to_dict()
    assert data["schedule"] == cls.kind
    assert schedule_from_config(data) == schedule
    from_json = schedule_from_config(json.loads(json.dumps(data)))
    assert from_json == schedule
    assert [from_json.value(s) for s in range(golden["steps"][1] + 1)] == golden["values"]
    assert schedule != cls(**{**kwargs, **{k: v * 2 for k, v in kwargs.items() if type(v) is int}})


def test_schedules_are_immutable() -> None:
    schedule = lrs.WarmUpLR(0.1, 4)
    with pytest.raises(AttributeError):
        schedule.learning_rate = 0.2
    assert schedule.value(2) == float(np.float32(0.1) * np.float32(0.5))


def test_mindspore_attribute_names() -> None:
    poly = lrs.PolynomialDecayLR(0.1, 0.01, 4, 0.5)
    assert (poly.start_learning_rate, poly.end_learning_rate, poly.decay_steps, poly.power) == (0.1, 0.01, 4, 0.5)
    assert poly.diff_learning_rate == 0.1 - 0.01 and poly.update_decay_steps is False
    cosine = lrs.CosineDecayLR(0.01, 0.1, 4)
    assert cosine.delta == 0.5 * (0.1 - 0.01)
    decay = lrs.ExponentialDecayLR(0.1, 0.9, 4, True)
    assert (decay.learning_rate, decay.decay_rate, decay.decay_steps, decay.is_stair) == (0.1, 0.9, 4, True)


def test_float64_subclass_is_accepted_like_mindspore() -> None:
    assert dynamic_lr.warmup_lr(np.float64(0.1), 4, 1, 2) == dynamic_lr.warmup_lr(0.1, 4, 1, 2)
    assert lrs.WarmUpLR(np.float64(0.1), 2) == lrs.WarmUpLR(0.1, 2)
    assert type(lrs.WarmUpLR(np.float64(0.1), 2).get_config()["learning_rate"]) is float


def test_natural_exp_decay_does_not_divide_by_decay_steps() -> None:
    # MindSpore's documentation says p = step / decay_steps; its graph uses p = step.
    schedule = lrs.NaturalExpDecayLR(0.1, 0.9, 4)
    assert math.isclose(schedule(2), 0.1 * math.exp(-0.9 * 2), rel_tol=1e-6)
