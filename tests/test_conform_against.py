"""``optbridge conform CONFIG --against torch|keras`` (:mod:`optbridge.conformance.against`): the
origin framework's own optimizer and schedule on the conformance stream, beside the backends.

The native column is judged against the real torch.optim / keras.optimizers runs; the live
comparison tests (``test_torch_optim_live_*``, ``test_keras_optimizers_live_*``) build their
native optimizers through the same functions.
"""
from __future__ import annotations

import json
import sys

import pytest

from optbridge.cli import main

TORCH_SGD = {"format_version": 1, "optimizer": "torch.optim.SGD",
             "params": [{"params": "layer1*", "lr": 0.05}, {"params": "*", "weight_decay": 0.01}],
             "lr": 0.1, "momentum": 0.9, "nesterov": True, "conform": {"steps": 6}}
TORCH_ADAMW_STEPLR = {"format_version": 1, "optimizer": "torch.optim.AdamW",
                      "lr": {"schedule": "torch.optim.lr_scheduler.StepLR", "lr": 0.01, "step_size": 2,
                             "gamma": 0.5, "interval": "step"},
                      "weight_decay": 0.05, "conform": {"steps": 6}}
KERAS_ADAM = {"format_version": 1, "optimizer": "keras.optimizers.Adam",
              "learning_rate": {"schedule": "keras.optimizers.schedules.ExponentialDecay",
                                "initial_learning_rate": 0.01, "decay_steps": 2, "decay_rate": 0.7},
              "weight_decay": 0.004, "exclude_from_weight_decay": ["beta", "gamma"], "conform": {"steps": 6}}


def conform(tmp_path, config, framework, *extra):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return main(["conform", str(path), "--backend", "numpy", "--against", framework, *extra])


def native_rows(out):
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("against "))
    return {line.split()[0]: line for line in lines[start + 2:start + 4]}


@pytest.mark.parametrize("config", [TORCH_SGD, TORCH_ADAMW_STEPLR], ids=["sgd-groups", "adamw-steplr"])
def test_torch_optim_itself_agrees(tmp_path, capsys, config):
    pytest.importorskip("torch")
    assert conform(tmp_path, config, "torch") == 0
    out = capsys.readouterr().out
    assert "against torch.optim (torch " in out
    rows = native_rows(out)
    assert set(rows) == {"float32", "float64"} and all(row.endswith("agrees") for row in rows.values())


def test_an_epoch_scheduler_is_built_and_noted(tmp_path, capsys):
    """A declared epoch-interval scheduler is built (setting its starting lr) and never
    stepped: the conformance run has no epochs, on the backends or natively."""
    pytest.importorskip("torch")
    epoch = {**TORCH_ADAMW_STEPLR, "lr": {k: v for k, v in TORCH_ADAMW_STEPLR["lr"].items() if k != "interval"}}
    assert conform(tmp_path, epoch, "torch") == 0
    assert "interval 'epoch': built, never stepped" in capsys.readouterr().out


def test_keras_itself_agrees_in_float32(tmp_path, capsys):
    pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    assert conform(tmp_path, KERAS_ADAM, "keras") == 0
    out = capsys.readouterr().out
    rows = native_rows(out)
    assert rows["float32"].endswith("agrees") and "100.00%" in rows["float32"]
    # Keras computes float64 variables' scalars in float64, the dialect in float32 (documented)
    assert "differs, as documented" in rows["float64"]


def test_a_missing_framework_is_a_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert conform(tmp_path, TORCH_SGD, "torch") == 0
    out = capsys.readouterr().out
    assert "--against torch: torch is not installed here (pip install torch); the native column is left out" in out


@pytest.mark.parametrize("config,framework,message", [
    ({"format_version": 1, "optimizer": "mindspore.nn.Adam", "params": None, "conform": {"steps": 2}}, "torch",
     "--against torch runs torch.optim configs; this one is mindspore.nn.Adam"),
    ({**TORCH_SGD, "lr": [0.1, 0.2]}, "torch", "'lr' is [0.1, 0.2]: a per-step list is an optbridge extension"),
    ({**KERAS_ADAM, "learning_rate": {"schedule": "mindspore.nn.ExponentialDecayLR",
                                      "learning_rate": 0.1, "decay_rate": 0.9, "decay_steps": 2}}, "keras",
     "is a mindspore.nn.ExponentialDecayLR schedule, which keras has no native form of"),
])
def test_not_comparable(tmp_path, capsys, config, framework, message):
    pytest.importorskip(framework)
    if framework == "keras":
        pytest.importorskip("tensorflow")
    assert conform(tmp_path, config, framework) == 1
    assert message in capsys.readouterr().out


def test_against_needs_a_config(capsys):
    assert main(["conform", "--against", "torch"]) == 1
    assert "--against runs a CONFIG's optimizer" in capsys.readouterr().err
