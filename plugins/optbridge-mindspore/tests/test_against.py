"""``optbridge conform CONFIG --against mindspore``: ``mindspore.nn``'s own optimizer as a column.

The config is built by ``optbridge.conformance.against.mindspore_optimizer`` (also the
builder of the MindSpore goldens), run on the conformance stream and judged against the
NumPy reference; a dtype MindSpore's CPU kernel refuses is reported, not failed.
"""
from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("mindspore")

from optbridge import cli

ADAM = {"format_version": 1, "optimizer": "mindspore.nn.Adam", "learning_rate": 0.01, "use_nesterov": True,
        "params": [{"params": "conv*", "lr": {"schedule": "mindspore.nn.WarmUpLR", "learning_rate": 0.01,
                                             "warmup_steps": 3}},
                   {"params": "*", "weight_decay": 0.01}]}
MOMENTUM = {"format_version": 1, "optimizer": "mindspore.nn.Momentum", "momentum": 0.9, "weight_decay": 0.001,
            "learning_rate": [0.1, 0.1, 0.05, 0.05, 0.02, 0.02]}


def conform(tmp_path, config, capsys) -> tuple[int, str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    code = cli.main(["conform", str(path), "--layout", "tiny", "--steps", "6", "--backend", "numpy",
                     "--against", "mindspore"])
    return code, capsys.readouterr().out


def test_adam_with_groups_and_a_schedule_agrees_in_float32_and_float64_is_reported_refused(tmp_path, capsys):
    code, out = conform(tmp_path, ADAM, capsys)
    assert code == 0, out
    assert re.search(r"^float32 +6 .* agrees$", out, re.M), out
    assert re.search(r"^float64 .*not run \(mindspore\.nn\.Adam does not run float64: For primitive\[Adam\]", out,
                     re.M), out


def test_a_per_step_lr_list_is_taken_natively_and_float64_differs_as_documented(tmp_path, capsys):
    code, out = conform(tmp_path, MOMENTUM, capsys)
    assert code == 0, out
    assert re.search(r"^float32 +6 .* 100\.00% .* agrees$", out, re.M), out
    # MindSpore's learning rate is a float32 Parameter: float64 parameters step with float32(0.1)
    assert re.search(r"^float64 +6 .*differs, as documented", out, re.M), out
    assert "MindSpore holds learning rates and hyperparameters as float32 Parameters" in out


def test_a_config_of_another_dialect_is_not_comparable(tmp_path, capsys):
    code, out = conform(tmp_path, {"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1}, capsys)
    assert code == 1
    assert "not comparable: --against mindspore runs mindspore.nn configs; this one is torch.optim.SGD" in out
