"""Selectors and group resolution (DESIGN.md section 3)."""
from __future__ import annotations

import numpy as np
import pytest

import optbridge
from optbridge.conformance import layouts
from optbridge.dialects.mindspore import nn
from optbridge.errors import DuplicateParameterError, GroupError, SelectorTypeError
from optbridge.groups import ParamInfo, resolve_groups, select

PARAMS = [ParamInfo(n, s) for n, s in layouts.guide]
NAMES = [p.name for p in PARAMS]


@pytest.mark.parametrize(
    "selector,expected",
    [
        ("fc.weight", ["fc.weight"]),
        ("layer1.*", ["layer1.0.weight", "layer1.1.gamma", "layer1.1.beta"]),
        ("*.gamma", ["layer1.1.gamma", "layer2.1.gamma"]),
        (["fc.bias", "fc.weight"], ["fc.bias", "fc.weight"]),
        (["fc.*", "fc.bias"], ["fc.weight", "fc.bias"]),
        ({"regex": r"layer\d\.0\.weight"}, ["layer1.0.weight", "layer2.0.weight"]),
        ({"regex": "layer"}, []),
        ({"name_contains": ["gamma", "beta"]}, ["layer1.1.gamma", "layer1.1.beta", "layer2.1.gamma", "layer2.1.beta"]),
        ({"name_contains": "fc"}, ["fc.weight", "fc.bias"]),
        ({"ndim": 4}, ["layer1.0.weight", "layer2.0.weight"]),
        ({"max_ndim": 1}, [n for n in NAMES if "gamma" in n or "beta" in n or n == "fc.bias"]),
        ({"min_ndim": 2, "name_contains": "fc"}, ["fc.weight"]),
        ("*", NAMES),
    ],
)
def test_selector_forms(selector, expected):
    assert select(selector, PARAMS) == expected


def test_unknown_exact_name_suggests_close_matches():
    with pytest.raises(GroupError, match=r"groups\[0\]: there is no parameter named 'fc.weigth'. Did you mean 'fc.weight'"):
        select("fc.weigth", PARAMS, "groups[0]")


@pytest.mark.parametrize(
    "selector,error",
    [
        (3, SelectorTypeError),
        (["fc.weight", 3], SelectorTypeError),
        ({"regex": "("}, GroupError),
        ({"ndim": -1}, GroupError),
        ({"ndim": True}, GroupError),
        ({"shape": [1]}, GroupError),
        ({"name_contains": []}, GroupError),
        ("", GroupError),
        ([], GroupError),
    ],
)
def test_malformed_selectors(selector, error):
    with pytest.raises(error):
        select(selector, PARAMS)


def test_star_takes_what_earlier_groups_left():
    res = resolve_groups(["fc.*", "*"], PARAMS)
    assert res.groups[0].names == ("fc.weight", "fc.bias")
    assert res.groups[1].names == tuple(n for n in NAMES if not n.startswith("fc."))
    assert res.order == res.groups[0].names + res.groups[1].names


def test_star_first_then_more_is_a_duplicate_with_a_hint():
    with pytest.raises(DuplicateParameterError, match=r"groups\[1\] \('fc\.\*'\).*already in groups\[0\] \('\*'\).*put it last"):
        resolve_groups(["*", "fc.*"], PARAMS)


def test_duplicate_is_runtime_and_value_error():
    with pytest.raises(RuntimeError):
        resolve_groups(["fc.*", "fc.weight"], PARAMS)
    with pytest.raises(ValueError):
        resolve_groups(["fc.*", "fc.weight"], PARAMS)


def test_empty_group_is_an_error_naming_it():
    with pytest.raises(GroupError, match=r"groups\[1\] \(\{'ndim': 3\}\): the selector matches no parameter"):
        resolve_groups(["*", {"ndim": 3}], PARAMS)


def test_unassigned_error_and_frozen():
    with pytest.raises(GroupError, match=r"6 parameter\(s\) belong to no group.*unassigned='frozen'"):
        resolve_groups(["fc.*"], PARAMS)
    res = resolve_groups(["fc.*"], PARAMS, unassigned="frozen")
    assert res.frozen == tuple(n for n in NAMES if not n.startswith("fc."))


def test_order_params_must_match_grouped_set():
    res = resolve_groups(["layer*", "fc.*"], PARAMS, order_params=NAMES[::-1])
    assert res.order == tuple(NAMES[::-1])
    with pytest.raises(GroupError, match="order_params must hold exactly the grouped parameters"):
        resolve_groups(["layer*", "fc.*"], PARAMS, order_params=["fc.weight"])
    with pytest.raises(GroupError, match="not in any group"):
        resolve_groups(["fc.*"], PARAMS, order_params="*", unassigned="frozen")


def test_duplicate_model_names_are_refused():
    with pytest.raises(GroupError, match="share the name"):
        resolve_groups(None, [ParamInfo("a", (1,)), ParamInfo("a", (2,))])


def test_guide_grouping_with_selectors():
    """The reference guide's conv / bn / dense grouping, written as selectors."""
    conv_lr = nn.cosine_decay_lr(0.0, 1e-3, total_step=1000, step_per_epoch=100, decay_epoch=10)
    spec = nn.Momentum(
        [
            {"order_params": "*"},
            {"params": {"ndim": 4}, "weight_decay": 1e-4, "lr": conv_lr},
            {"params": {"name_contains": ["gamma", "beta"]}, "weight_decay": 0.0, "lr": 1e-4},
            {"params": ["fc.weight"], "weight_decay": 1e-5, "lr": 1e-3},
            {"params": "*"},
        ],
        learning_rate=1e-3, weight_decay=0.0, momentum=0.9,
    )
    params = {n: np.zeros(s, np.float32) for n, s in layouts.guide}
    opt = optbridge.build(spec, params)
    assert opt.param_names == tuple(NAMES)
    names = [g.names for g in opt.engine.groups]
    assert names == [("layer1.0.weight", "layer2.0.weight"),
                     ("layer1.1.gamma", "layer1.1.beta", "layer2.1.gamma", "layer2.1.beta"),
                     ("fc.weight",), ("fc.bias",)]
    assert [g.index for g in opt.engine.groups] == [1, 2, 3, 4]


def test_engine_resolving_over_the_whole_model_keeps_a_partition_in_its_order():
    from optbridge.engine import Engine

    whole = [ParamInfo(n, (2,)) for n in ("a.w", "a.b", "b.w", "b.b")]
    spec = nn.Momentum([{"params": "a.*", "lr": 0.5}, {"params": "*"}], 0.1, 0.9).to_canonical()
    # a process holding b.w then a.b (ZeRO's own order): both groups, one parameter each
    engine = Engine(spec, [whole[2], whole[1]], resolve_over=whole)
    assert [g.names for g in engine.groups] == [("a.b",), ("b.w",)]
    assert engine.param_names == ("b.w", "a.b")
    # a process holding only b.*: the first group is empty here, and keeps its index and lr
    engine = Engine(spec, whole[2:], resolve_over=whole)
    assert [g.names for g in engine.groups] == [(), ("b.w", "b.b")]
    assert engine.get_lr() == Engine(spec, whole).get_lr()
    # resolving over the partition alone: the empty group is an error, as always
    with pytest.raises(GroupError, match="matches no parameter"):
        Engine(spec, whole[2:])
    with pytest.raises(GroupError, match="not among the parameters"):
        Engine(spec, [ParamInfo("c.w", (2,))], resolve_over=whole)
