"""Every documented MindSpore bad input raises MindSpore's exception type and message.

The expected type and message of each record in ``goldens/error_records.py`` were
recorded from MindSpore 2.10 itself (``goldens/gen_mindspore_errors.py``). optbridge's
messages additionally name the group at fault (``groups[1] ('conv*'): ``); that insertion
is removed before comparing. The ``step_records`` are inputs MindSpore accepts and refuses
while training: optbridge refuses them at the same step with the same builtin type.
"""
from __future__ import annotations

import builtins
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import optbridge
from optbridge.conformance import layouts, streams
from optbridge.dialects.mindspore import nn
from optbridge.errors import DuplicateParameterError, GroupError, ScheduleExhaustedError, SpecValueError

sys.path.insert(0, str(Path(__file__).parent / "goldens"))
from error_records import RECORDS, STEP_RECORDS  # noqa: E402

GOLDENS = json.loads((Path(__file__).parent / "goldens" / "mindspore_errors.json").read_text())
GOLDEN = GOLDENS["records"]

# Inputs MindSpore accepts but optbridge refuses at construction, with the reason.
STRICTER = {
    "lr_2d_table": "MindSpore keeps a 2-D learning-rate table and fails only when the graph runs",
    "lr_str_digits": "MindSpore iterates the str '12' into the per-step table [1.0, 2.0]",
    "lr_str_empty": "MindSpore iterates the str '' into an empty per-step table",
    "lr_bytes": "MindSpore iterates b'12' into the per-step table of byte values [49.0, 50.0]",
}
# MindSpore's message is the tail of optbridge's, which first says what the argument must be.
EXTENDED = {"lr_str", "group_lr_str", "lr_str_space", "ftrl_lr_str", "adafactor_lr_str"}
# MindSpore's message names state it creates from Parameter objects (``moments.conv1.weight``
# and its shape) or lengths known only once groups resolve: optbridge refuses at construction,
# from names alone, with its own words (checked in the tests below).
OWN_WORDS = {"params_duplicate", "adam_params_duplicate", "order_params_duplicate"}
LOCATION = re.compile(r"groups\[\d+\](?: \(.*?\))?(?: '[a-z_]+')?: ")


def normalise(message: str) -> str:
    return LOCATION.sub("", message).strip('"')


@pytest.mark.parametrize("record_id,optimizer,kwargs", RECORDS, ids=[r[0] for r in RECORDS])
def test_same_exception_as_mindspore(record_id, optimizer, kwargs):
    expected = GOLDEN[record_id]
    cls = getattr(nn, optimizer)
    if expected["type"] is None:
        if record_id in STRICTER:
            with pytest.raises((TypeError, ValueError)):
                cls(**kwargs)
        else:
            cls(**kwargs)
        return
    assert record_id not in STRICTER, f"{record_id}: MindSpore refuses this input now"
    with pytest.raises(getattr(builtins, expected["type"])) as info:
        cls(**kwargs)
    message = normalise(str(info.value.args[0] if info.value.args else ""))
    if record_id in OWN_WORDS:
        return
    if record_id in EXTENDED:
        assert message.endswith(normalise(expected["message"])), message
    else:
        assert message == normalise(expected["message"])


def _tiny_params(kwargs) -> dict[str, np.ndarray]:
    """The ``tiny`` parameters a record's ``params`` names (a group list names all of them)."""
    init = streams.as_dtype(streams.initial_params(layouts.tiny, 0), "float32")
    params = kwargs["params"]
    names = [n for g in params for n in g.get("params", ())] if isinstance(params[0], dict) else list(params)
    return {name: init[name].copy() for name in names}


@pytest.mark.parametrize("record_id,optimizer,kwargs,steps", STEP_RECORDS, ids=[r[0] for r in STEP_RECORDS])
def test_same_exception_at_the_same_step_as_mindspore(record_id, optimizer, kwargs, steps):
    expected = GOLDENS["step_records"][record_id]
    params = _tiny_params(kwargs)
    opt = optbridge.build(getattr(nn, optimizer)(**kwargs), params, backend="numpy")
    for step in range(expected["step"]):
        opt.step(streams.as_dtype(streams.gradients(layouts.tiny, step, 0), "float32"))
    before = {name: p.copy() for name, p in params.items()}
    state = opt.state_dict()
    grads = streams.as_dtype(streams.gradients(layouts.tiny, expected["step"], 0), "float32")
    with pytest.raises(getattr(builtins, expected["type"])) as info:
        opt.step({name: grads[name] for name in params})
    assert isinstance(info.value, ScheduleExhaustedError)
    assert re.match(r"groups\[\d+\] \(.*\): 'lr': per-step value list has \d+ entries", str(info.value))
    assert opt.global_step == expected["step"]
    for name, p in params.items():
        np.testing.assert_array_equal(p, before[name])
    assert repr(opt.state_dict()) == repr(state)


def test_list_exhaustion_is_a_runtime_error_and_an_index_error():
    assert issubclass(ScheduleExhaustedError, RuntimeError) and issubclass(ScheduleExhaustedError, IndexError)


def test_repeated_parameter_messages_name_the_parameter_and_place():
    with pytest.raises(GroupError, match=r"^For 'Optimizer', the argument parameters list 'fc\.weight' twice "
                                          r"\(entries 1 and 2\)") as info:
        nn.Momentum(["conv1.weight", "fc.weight", "fc.weight"], 0.1, 0.9)
    assert not isinstance(info.value, RuntimeError)
    with pytest.raises(DuplicateParameterError, match=r"^For 'Optimizer', groups\[1\] \(\['fc\.\*', 'fc\.\*'\]\): "
                                                       r"the fc\.\* parameter already exists"):
        nn.Adam([{"params": "conv*"}, {"params": ["fc.*", "fc.*"]}, {"params": "*"}])
    with pytest.raises(GroupError, match=r"^For 'Optimizer', groups\[2\] 'order_params': lists 'a' twice "
                                          r"\(entries 0 and 2\)"):
        nn.SGD([{"params": ["a"]}, {"params": ["b"]}, {"order_params": ["a", "b", "a"]}])


def test_overlapping_globs_in_one_group_are_a_union_not_a_repeat():
    params = {"fc.weight": np.ones(2, np.float32), "fc.bias": np.ones(2, np.float32)}
    opt = optbridge.build(nn.Momentum([{"params": ["fc.*", "fc.weight"]}], 0.1, 0.9), params)
    opt.step({name: np.ones(2, np.float32) for name in params})
    assert opt.global_step == 1


def test_str_learning_rate_messages_say_how_mindspore_reads_it():
    with pytest.raises(ValueError, match=r"groups\[0\] \('conv\*'\): the argument 'learning_rate' must be .* but got "
                                         r"the str 'abc': MindSpore reads a str as a per-step table of its characters: "
                                         r"could not convert string to float: 'a'"):
        nn.Momentum([{"params": "conv*", "lr": "abc"}, {"params": "*"}], 0.1, 0.9)
    with pytest.raises(ValueError, match=r"but got the str '12': MindSpore would take it as the per-step table "
                                         r"\[1\.0, 2\.0\]"):
        nn.Adam(None, learning_rate="12")
    with pytest.raises(ValueError, match=r"but got the bytes b'12': MindSpore would take it as the per-step table "
                                         r"\[49\.0, 50\.0\]"):
        nn.SGD(None, learning_rate=b"12")


def test_tuple_arguments_come_from_config_lists():
    spec = optbridge.from_dict({"format_version": 1, "optimizer": "mindspore.nn.Rprop",
                                "etas": [0.3, 1.5], "step_sizes": [1e-3, 0.03]})
    assert spec.arguments["etas"] == (0.3, 1.5) and spec.arguments["step_sizes"] == (1e-3, 0.03)
    assert optbridge.from_dict(spec.to_dict()) == spec
    with pytest.raises(TypeError, match=r"^For Rprop, etas must be a tuple, but got <class 'list'>\.$"):
        nn.Rprop(None, etas=[0.3, 1.5])


def test_group_errors_name_the_group():
    with pytest.raises(ValueError, match=r"groups\[1\] \('fc\.\*'\): the 'weight_decay' must be float"):
        nn.Momentum([{"params": "conv*"}, {"params": "fc.*", "weight_decay": -0.1}], 0.1, 0.9)
    with pytest.raises(KeyError, match=r"groups\[0\]: the key in group params"):
        nn.Adam([{"params": "*", "betas": (0.9, 0.99)}])


HUGE = 10**400  # float(HUGE) raises OverflowError


@pytest.mark.parametrize("build", [
    lambda: nn.Momentum(None, learning_rate=HUGE, momentum=0.9),
    lambda: nn.Momentum(None, learning_rate=[0.1, HUGE], momentum=0.9),
    lambda: nn.Momentum(None, learning_rate=0.1, momentum=0.9, weight_decay=HUGE),
    lambda: nn.Momentum(None, learning_rate=0.1, momentum=0.9, loss_scale=HUGE),
    lambda: nn.Momentum([{"params": "*", "lr": HUGE}], learning_rate=0.1, momentum=0.9),
    lambda: nn.Momentum([{"params": "*", "weight_decay": HUGE}], learning_rate=0.1, momentum=0.9),
    lambda: nn.exponential_decay_lr(0.1, 0.9, HUGE, 5, 2),
    lambda: nn.warmup_lr(0.1, HUGE, 5, 2),
    lambda: nn.learning_rate_schedule.PolynomialDecayLR(0.1, 0.01, HUGE, 1.0),
    lambda: nn.learning_rate_schedule.ExponentialDecayLR(0.1, 0.9, HUGE),
], ids=["lr", "lr_list", "weight_decay", "loss_scale", "group_lr", "group_weight_decay", "exponential_decay_lr",
        "warmup_lr", "PolynomialDecayLR", "ExponentialDecayLR"])
def test_an_integer_too_large_for_a_float_is_a_spec_value_error(build):
    with pytest.raises(SpecValueError, match=r"must fit a float \(\|x\| < 2\*\*1024\)"):
        build()
