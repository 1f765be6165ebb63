"""Configs: round trips through dicts, JSON, TOML and YAML; errors carry the path."""
from __future__ import annotations

import json

import numpy as np
import pytest

import optbridge
from optbridge.conformance import layouts, streams
from optbridge.config import dumps_toml
from optbridge.dialects.mindspore import nn
from optbridge.errors import ConfigError

SPECS = [
    nn.Momentum(None, 0.1, 0.9),
    nn.Momentum("fc.*", 0.1, 0.9, weight_decay=0.01, loss_scale=64.0, use_nesterov=True, unassigned="frozen"),
    nn.Momentum(
        [{"params": {"ndim": 4}, "weight_decay": 1e-4, "lr": nn.cosine_decay_lr(0.0, 1e-3, 20, 5, 2)},
         {"params": {"name_contains": ["gamma", "beta"]}, "weight_decay": 0.0, "lr": 1e-4},
         {"params": ["fc.weight"], "weight_decay": 1e-5, "lr": 1e-3, "grad_centralization": True},
         {"params": "*"},
         {"order_params": "*"}],
        learning_rate=1e-3, momentum=0.9),
    nn.SGD([{"params": "conv*", "lr": 0.2}, {"params": "*", "weight_decay": 0.05}], momentum=0.5, dampening=0.1),
    nn.ASGD(None, nn.PolynomialDecayLR(0.1, 0.01, 4, 0.5), lambd=1e-3, t0=5.0),
    nn.Adam(None, nn.WarmUpLR(0.01, 5), use_amsgrad=True, weight_decay=nn.ExponentialDecayLR(0.01, 0.9, 2)),
    nn.Adam({"regex": "conv.*"}, 0.01, use_lazy=True, unassigned="frozen"),
    nn.AdamWeightDecay([{"params": "conv*", "lr": nn.CosineDecayLR(0.0, 0.1, 5)}, {"params": "*"}],
                       weight_decay=0.01, eps=1e-8),
]
IDS = [f"{type(s).__name__}-{i}" for i, s in enumerate(SPECS)]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_dict_round_trip(spec):
    data = optbridge.to_dict(spec)
    assert data["format_version"] == 1 and data["optimizer"] == spec.qualname
    again = optbridge.from_dict(json.loads(json.dumps(data)))
    assert again == spec
    assert again.to_canonical() == spec.to_canonical()


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_file_round_trip(spec, fmt, tmp_path):
    if fmt == "yaml":
        pytest.importorskip("yaml")
    path = optbridge.save(spec, tmp_path / f"opt.{fmt}")
    again = optbridge.load(path)
    assert again == spec


def test_loaded_config_gives_the_same_numbers(tmp_path):
    spec = SPECS[2]
    again = optbridge.load(optbridge.save(spec, tmp_path / "opt.toml"))
    runs = []
    for s in (spec, again):
        params = streams.as_dtype(streams.initial_params(layouts.tiny, 1), "float32")
        opt = optbridge.build(s, params)
        for step in range(4):
            opt.step(streams.as_dtype(streams.gradients(layouts.tiny, step, 1), "float32"))
        runs.append(params)
    for n in runs[0]:
        np.testing.assert_array_equal(runs[0][n], runs[1][n])


BASE = {"format_version": 1, "optimizer": "mindspore.nn.Momentum", "learning_rate": 0.1, "momentum": 0.9}


@pytest.mark.parametrize(
    "change,path",
    [
        ({"momentun": 0.9}, "momentun: unknown argument for mindspore.nn.Momentum"),
        ({"params": [{"params": "*", "lrr": 0.1}]}, r"params\[0\]\.lrr: unknown group key"),
        ({"params": [{"params": "*", "lr": {"schedule": "mindspore.nn.WarmUpLR", "learning_rate": 0.1,
                                             "warmup_stepz": 3}}]},
         r"params\[0\]\.lr\.warmup_stepz: unknown argument for schedule"),
        ({"learning_rate": {"schedule": "os.system", "command": "echo hi"}},
         r"learning_rate\.schedule: unknown schedule 'os\.system'"),
        ({"optimizer": "mindspore.nn.Adamm"}, "optimizer: unknown optimizer 'mindspore.nn.Adamm'"),
        ({"format_version": 2}, "format_version: expected 1"),
    ],
)
def test_config_errors_carry_the_path(change, path):
    with pytest.raises(ConfigError, match=path):
        optbridge.from_dict({**BASE, **change})


def test_missing_format_version_is_refused():
    data = dict(BASE)
    del data["format_version"]
    with pytest.raises(ConfigError, match="format_version"):
        optbridge.from_dict(data)


def test_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        optbridge.load(bad)
    with pytest.raises(ConfigError, match="unknown config format"):
        optbridge.load(tmp_path / "opt.ini")


def test_toml_writer_escapes_and_special_floats():
    text = dumps_toml({"a": 'quote " and \\', "b": float("inf"), "c": [1, 2.5, True], "d": {"x y": 1e-05}})
    import tomllib

    assert tomllib.loads(text) == {"a": 'quote " and \\', "b": float("inf"), "c": [1, 2.5, True], "d": {"x y": 1e-05}}


def test_to_dict_refuses_non_dialect_objects():
    with pytest.raises(TypeError, match="dialect optimizer"):
        optbridge.to_dict(SPECS[0].to_canonical())


def test_missing_argument_is_a_config_error():
    data = dict(BASE)
    del data["momentum"]
    with pytest.raises(ConfigError, match="<root>: arguments do not fit mindspore.nn.Momentum: missing a required argument: 'momentum'"):
        optbridge.from_dict(data)


def test_unserialisable_schedule_says_so():
    class ConstantLR(nn.LearningRateSchedule):
        def value(self, step):
            return 0.1

    with pytest.raises(NotImplementedError, match="ConstantLR is not serialisable: implement get_config"):
        optbridge.to_dict(nn.Momentum(None, ConstantLR(), 0.9))
