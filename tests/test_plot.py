"""``optbridge plot``: the curves equal what the optimizer uses, and a PNG is written."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import optbridge
from optbridge.cli import main
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch.optim import lr_scheduler as obs
from optbridge.plot import default_steps, schedule_curves

CONFIG = {
    "format_version": 1,
    "optimizer": "torch.optim.SGD",
    "lr": 0.1,
    "momentum": 0.9,
    "params": [
        {"params": "conv*", "lr": {"schedule": "torch.optim.lr_scheduler.SequentialLR", "lr": 0.1,
                                   "schedulers": [{"schedule": "torch.optim.lr_scheduler.LinearLR",
                                                   "start_factor": 0.1, "total_iters": 5},
                                                  {"schedule": "torch.optim.lr_scheduler.CosineAnnealingLR",
                                                   "T_max": 20}],
                                   "milestones": [5]}},
        {"params": "*", "lr": {"schedule": "torch.optim.lr_scheduler.OneCycleLR", "max_lr": 0.05,
                               "total_steps": 120}},
    ],
}


def test_curves_are_what_the_optimizer_uses():
    spec = optbridge.from_dict(CONFIG)
    curves = schedule_curves(spec.to_canonical(), steps=100, steps_per_epoch=4)
    assert [(c.label, c.key) for c in curves] == [("'conv*'", "lr"), ("'conv*'", "weight_decay"),
                                                  ("'*'", "lr"), ("'*'", "weight_decay")]
    params = {"conv.weight": np.zeros((2, 2)), "fc.bias": np.zeros(2)}
    opt = optbridge.build(spec, params)
    used = []
    for step in range(100):
        used.append(opt.get_lr())
        opt.step({k: np.zeros_like(v) for k, v in params.items()})
        if (step + 1) % 4 == 0:
            opt.end_epoch()
    assert curves[0].values == [u[0] for u in used]
    assert curves[2].values == [u[1] for u in used]
    assert curves[0].varies and curves[2].varies and not curves[1].varies


def test_lists_end_and_plateaus_hold():
    spec = nn.Momentum([{"params": "a", "lr": [0.1, 0.2, 0.3]},
                        {"params": "*", "lr": obs.ReduceLROnPlateau.declare(0.05)}],
                       learning_rate=0.1, momentum=0.9).to_canonical()
    assert default_steps(spec) == 3
    lr_a, _, lr_b, _ = schedule_curves(spec, steps=5)
    assert lr_a.values[:3] == [float(np.float32(x)) for x in (0.1, 0.2, 0.3)] and all(map(math.isnan, lr_a.values[3:]))
    assert lr_b.values == [float(np.float32(0.05))] * 5 and "held constant" in lr_b.note
    with pytest.raises(ValueError, match="'steps_per_epoch' must be an int >= 1"):
        schedule_curves(spec, steps=5, steps_per_epoch=0)


def test_plot_command_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    config = dict(CONFIG)
    config["params"] = [dict(CONFIG["params"][0], weight_decay=0.01), CONFIG["params"][1]]
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(config))
    out = tmp_path / "lr.png"
    assert main(["plot", str(path), "-o", str(out), "--steps", "120", "--steps-per-epoch", "5"]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    printed = capsys.readouterr().out
    assert "120 steps, 5 per epoch" in printed and "'conv*' lr: 0.01 ->" in printed


def test_plot_draws_weight_decay_when_it_varies(tmp_path):
    pytest.importorskip("matplotlib")
    spec = nn.Momentum([{"params": "conv*", "weight_decay": nn.WarmUpLR(0.01, 10)}, {"params": "*"}],
                       learning_rate=nn.CosineDecayLR(0.001, 0.1, 50), momentum=0.9)
    path = tmp_path / "ms.toml"
    optbridge.save(spec, path)
    out = tmp_path / "wd.png"
    assert main(["plot", str(path), "-o", str(out)]) == 0
    assert out.stat().st_size > 5000


@pytest.mark.parametrize("argv,message", [
    (["--steps", "0"], "--steps must be >= 1"),
    (["--steps-per-epoch", "-2"], "--steps-per-epoch must be >= 1"),
])
def test_plot_command_errors(tmp_path, capsys, argv, message):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CONFIG))
    assert main(["plot", str(path), "-o", str(tmp_path / "x.png"), *argv]) == 1
    assert message in capsys.readouterr().err


def test_plot_command_reports_a_bad_config(tmp_path, capsys):
    path = tmp_path / "bad.json"
    bad = json.loads(json.dumps(CONFIG))
    bad["params"][1]["lr"]["total_step"] = 3
    path.write_text(json.dumps(bad))
    assert main(["plot", str(path), "-o", str(tmp_path / "x.png")]) == 1
    assert "params[1].lr" in capsys.readouterr().err


def test_per_step_lists_are_marked_and_counted_past_their_end():
    spec = nn.Momentum([{"params": "a", "lr": [0.1, 0.2, 0.3]}, {"params": "*"}],
                       learning_rate=0.1, momentum=0.9).to_canonical()
    lr_a, wd_a, lr_b, _ = schedule_curves(spec, steps=5)
    assert (lr_a.list_length, lr_a.past_end) == (3, 2) and lr_a.where == "groups[0] ('a')"
    assert (lr_b.list_length, lr_b.past_end) == (None, 0) and wd_a.list_length is None
    assert schedule_curves(spec, steps=3)[0].past_end == 0


def test_plot_warns_when_steps_run_past_a_list(tmp_path, capsys):
    config = {"format_version": 1, "optimizer": "mindspore.nn.Momentum", "momentum": 0.9, "learning_rate": 0.1,
              "params": [{"params": "conv*", "lr": [0.1, 0.01, 0.001]}, {"params": "*"}]}
    path = tmp_path / "list.json"
    path.write_text(json.dumps(config))
    status = main(["plot", str(path), "-o", str(tmp_path / "lr.png"), "--steps", "5"])
    err = capsys.readouterr().err
    assert ("optbridge: warning: groups[0] ('conv*') 'lr': the per-step list has 3 entries; steps 3..4 run past "
            "its end") in err
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert status == 1 and "needs matplotlib" in err
    else:
        assert status == 0
    capsys.readouterr()
    main(["plot", str(path), "-o", str(tmp_path / "lr.png"), "--steps", "3"])
    assert "warning" not in capsys.readouterr().err


def test_plot_draws_per_step_lists_as_steps(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    from optbridge.plot import plot_schedules

    calls = []
    original = Axes.plot
    monkeypatch.setattr(Axes, "plot", lambda self, *a, **k: calls.append((a, k)) or original(self, *a, **k))
    spec = nn.Momentum([{"params": "a", "lr": [0.1, 0.2, 0.3]}, {"params": "*", "lr": nn.PolynomialDecayLR(
        0.1, 0.01, 3, 0.5)}], learning_rate=0.1, momentum=0.9).to_canonical()
    plot_schedules(spec, tmp_path / "lr.png", steps=3)
    (x_list, y_list), list_kwargs = calls[0]
    assert list_kwargs["drawstyle"] == "steps-post" and list(x_list) == [0, 1, 2, 3] and len(y_list) == 4
    assert "drawstyle" not in calls[1][1]
