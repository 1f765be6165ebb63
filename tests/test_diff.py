"""``optbridge diff A B`` (:mod:`optbridge.diff`): axes in words, the per-step deviation, the
first step beyond float32 noise, A written in B's dialect, exit statuses.

The deviations are checked against plain NumPy re-derivations of the formulas (SGD with and
without coupled weight decay), and the translated configs against torch.optim itself.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import optbridge
from optbridge import diff
from optbridge.cli import main
from optbridge.conformance import streams
from optbridge.conformance.dialect_table import dialect_properties
from optbridge.conformance.layouts import LAYOUTS
from optbridge.dialects.table import axis_words

TINY = LAYOUTS["tiny"]
MS_ADAM = {"format_version": 1, "optimizer": "mindspore.nn.Adam", "params": None, "learning_rate": 1e-3,
           "weight_decay": 1e-4}
TORCH_ADAM = {"format_version": 1, "optimizer": "torch.optim.Adam", "lr": 1e-3, "weight_decay": 1e-4}


def write(tmp_path, name, config):
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return str(path)


def test_every_flag_of_the_dialect_table_has_words():
    """Each string-valued flag of the generated table is an axis in words, each value explained."""
    for algorithm, rows in dialect_properties().items():
        for props in rows.values():
            for key, value in props.items():
                if value.startswith("'"):
                    words, meanings = axis_words(algorithm, key)
                    assert not words.startswith("hyperparameter"), (algorithm, key)
                    assert not meanings or value.strip("'") in meanings, (algorithm, key, value)


def sgd_by_hand(layout, steps, dtype, lr, wd):
    """Plain SGD, ``p -= lr·(g + wd·p)``, in ``dtype`` (the host scalars rounded to it, as
    NumPy does with a Python float and an array)."""
    p = streams.as_dtype(streams.initial_params(layout), dtype)
    out = []
    for step in range(steps):
        g = streams.as_dtype(streams.gradients(layout, step), dtype)
        p = {n: p[n] - lr * ((g[n] + wd * p[n]) if wd else g[n]) for n in p}
        out.append(p)
    return out


def deviation(x, ref):
    return max(np.abs(x[n].astype(np.float64) - ref[n]).max() / np.abs(ref[n].astype(np.float64)).max()
               for n in ref)


@pytest.mark.parametrize("wd", [0.5, 3e-6])
def test_deviation_and_first_parting_step_match_a_hand_derivation(wd):
    steps = 12
    a = optbridge.from_dict({"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1})
    b = optbridge.from_dict({"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1, "weight_decay": wd})
    report = diff.diff(a, b, TINY, steps, "float32")
    runs = {(side, dt): sgd_by_hand(TINY, steps, dt, 0.1, w) for side, w in (("a", 0.0), ("b", wd))
            for dt in ("float32", "float64")}
    expected_parting = None
    for step, row in enumerate(report.deviations):
        dev = deviation(runs["b", "float32"][step], runs["a", "float32"][step])
        noise = 2 * max(deviation(runs[s, "float32"][step], runs[s, "float64"][step]) for s in "ab") \
            + 4 * np.finfo(np.float32).eps
        assert row.deviation == pytest.approx(dev, rel=1e-9, abs=1e-15), step
        assert row.noise == pytest.approx(noise, rel=1e-9), step
        if expected_parting is None and dev > noise:
            expected_parting = step
    parted = report.first_parting
    assert (parted.step if parted else None) == expected_parting
    # wd = 0.5 parts at once; with 3e-6 the deviation (about lr·wd per step) starts below the noise
    assert expected_parting is not None and (wd == 0.5) == (expected_parting == 0)
    words = [s.setting for s in report.settings]
    assert words == ["weight decay"]


def test_mindspore_adam_against_torch_adam_names_the_axes(tmp_path, capsys):
    a, b = write(tmp_path, "ms.json", MS_ADAM), write(tmp_path, "torch.json", TORCH_ADAM)
    assert main(["diff", a, b, "--steps", "6"]) == 1
    out = capsys.readouterr().out
    assert "ε inside vs outside the bias correction [eps_placement]: A hat" in out
    assert "MindSpore's default weight-decay filter [beta/gamma decay filter]: A True" in out
    assert "precision of the host scalars (lr, bias corrections) [host precision]: A float32" in out
    assert "weight decay on bn1.gamma, bn1.beta, from step 0: A 0; B 0.0001" in out
    # no gradient centralization group and loss scale 1: pre-processing is no axis here
    assert "pre-processing" not in out
    assert "first step beyond float32 noise: 1 " in out
    tail = out[out.index("A cannot be written in torch.optim"):]
    for key in ("eps_placement", "power_form", "moment_form", "host precision"):
        assert f"[{key}]" in tail
    # the decay filter is expressible (a group without decay), so it is not listed as missing
    assert "beta/gamma" not in tail


def test_below_float32_noise_they_differ_but_never_part():
    """MindSpore's ε-hat and torch's ε with ε = 1e-8 and gradients of order 1 move the
    parameters by far less than float32 rounding does."""
    a = optbridge.from_dict({**MS_ADAM, "weight_decay": 0.0})
    b = optbridge.from_dict({**TORCH_ADAM, "weight_decay": 0.0})
    report = diff.diff(a, b, TINY, 10)
    assert report.first_parting is None and not report.equal
    assert any(x.key == "eps_placement" for x in report.axes)
    assert all(0 < d.deviation < d.noise for d in report.deviations)


def run_config(config, dtype, steps=8):
    params = streams.as_dtype(streams.initial_params(TINY), dtype)
    opt = optbridge.build(optbridge.from_dict(config), params, backend="numpy")
    for step in range(steps):
        opt.step(streams.as_dtype(streams.gradients(TINY, step), dtype))
    return params


def test_adamw_written_as_torch_adam_is_verified_and_matches_torch():
    torch = pytest.importorskip("torch")
    a = optbridge.from_dict({"format_version": 1, "optimizer": "torch.optim.AdamW", "lr": 1e-2, "weight_decay": 0.1})
    b = optbridge.from_dict({**TORCH_ADAM, "amsgrad": True})
    expression = diff.express(a, b, TINY, 8)
    config = expression.config
    assert config == {"format_version": 1, "optimizer": "torch.optim.Adam", "lr": 0.01, "weight_decay": 0.1,
                      "decoupled_weight_decay": True}
    assert "bit-identical" in expression.verified
    for dtype in ("float32", "float64"):
        ours, theirs = run_config(config, dtype), run_config(a.to_dict(), dtype)
        assert all(np.array_equal(ours[n], theirs[n]) for n in theirs)
    # torch itself agrees that the translation is the same optimizer
    start = streams.initial_params(TINY)
    tensors = [{n: torch.tensor(v, requires_grad=True) for n, v in start.items()} for _ in range(2)]
    native = [torch.optim.Adam(tensors[0].values(), lr=0.01, weight_decay=0.1, decoupled_weight_decay=True,
                               foreach=False),
              torch.optim.AdamW(tensors[1].values(), lr=0.01, weight_decay=0.1, foreach=False)]
    for step in range(8):
        grads = streams.gradients(TINY, step)
        for params, opt in zip(tensors, native):
            for n, t in params.items():
                t.grad = torch.from_numpy(grads[n].copy())
            opt.step()
    assert all(torch.equal(tensors[0][n], tensors[1][n]) for n in start)


def test_the_mindspore_decay_filter_becomes_a_group(tmp_path, capsys):
    a = write(tmp_path, "momentum.json", {"format_version": 1, "optimizer": "mindspore.nn.Momentum", "params": None,
                                          "learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.01})
    b = write(tmp_path, "grouped.json", {"format_version": 1, "optimizer": "mindspore.nn.Momentum",
                                         "params": [{"params": "*"}], "learning_rate": 0.1, "momentum": 0.9,
                                         "weight_decay": 0.01})
    assert main(["diff", a, b, "--steps", "5"]) == 1
    out = capsys.readouterr().out
    assert "weight decay on bn1.gamma, bn1.beta, from step 0" in out
    printed = out[out.index("A in mindspore.nn"):]
    config = json.loads(printed[printed.index("{"):printed.rindex("}") + 1])
    assert config["params"] == [{"params": ["bn1.gamma", "bn1.beta"], "weight_decay": 0.0}, {"params": "*"}]
    for dtype in ("float32", "float64"):
        ours = run_config(config, dtype, 5)
        theirs = run_config(json.loads((tmp_path / "momentum.json").read_text()), dtype, 5)
        assert all(np.array_equal(ours[n], theirs[n]) for n in theirs)


def test_equal_configs_in_two_formats_exit_0(tmp_path, capsys):
    spec = optbridge.from_dict(MS_ADAM)
    a = optbridge.save(spec, tmp_path / "a.toml")
    b = write(tmp_path, "b.json", MS_ADAM)
    assert main(["diff", str(a), b, "--steps", "3", "--dtype", "float64", "--layout", "guide"]) == 0
    out = capsys.readouterr().out
    assert "axes: none" in out and "(bit-identical)" in out and "float64" in out
    assert "A in" not in out and "cannot" not in out


def test_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    a, b = write(tmp_path, "ms.json", MS_ADAM), write(tmp_path, "torch.json", TORCH_ADAM)
    png = tmp_path / "dev.png"
    assert main(["diff", a, b, "--steps", "4", "--png", str(png)]) == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"deviation plot: {png}" in capsys.readouterr().out


@pytest.mark.parametrize("b_config,argv,message", [
    (None, [], "missing.json: cannot read"),
    ({**TORCH_ADAM, "lrr": 0.1}, [], "b.json: "),
    ({**TORCH_ADAM, "params": [{"params": ["no.such"]}]}, [], "b.json: groups[0]"),
    ({**MS_ADAM, "learning_rate": [0.1, 0.2]}, [], "b.json: "),
    (TORCH_ADAM, ["--steps", "0"], "--steps must be >= 1"),
])
def test_bad_input_exits_2_naming_the_file(tmp_path, capsys, b_config, argv, message):
    a = write(tmp_path, "a.json", MS_ADAM)
    b = write(tmp_path, "b.json", b_config) if b_config is not None else str(tmp_path / "missing.json")
    assert main(["diff", a, b, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    if b_config is not None and not argv:
        assert "lrr" in err or "no.such" in err or "list" in err


def test_a_group_key_b_does_not_take_is_listed_not_fatal():
    """MindSpore's gradient centralization has no torch.optim argument: the translation
    leaves it out and lists what that changes."""
    a = optbridge.from_dict({"format_version": 1, "optimizer": "mindspore.nn.Adam", "learning_rate": 0.01,
                             "params": [{"params": "conv*", "grad_centralization": True}, {"params": "*"}]})
    expression = diff.express(a, optbridge.from_dict(TORCH_ADAM), TINY, 3)
    assert expression.config is None and expression.candidate == "torch.optim.Adam"
    assert [(s.setting, s.names) for s in expression.missing_settings if s.setting != "lr"] == \
        [("gradient centralization", ("conv2.weight",))]
    assert "centralization" in next(x for x in expression.missing if x.key == "pre-processing").a


def test_weight_decay_axes_are_left_out_when_nothing_is_decayed():
    keras_adam = optbridge.from_dict({"format_version": 1, "optimizer": "keras.optimizers.Adam"})
    torch_adam = optbridge.from_dict({**TORCH_ADAM, "weight_decay": 0.0})
    keys = {x.key for x in diff.diff(keras_adam, torch_adam, TINY, 3).axes}
    assert not keys & {"weight_decay_form", "weight decay applied", "pre-processing"}
    assert {"eps", "eps_placement", "moment_form", "host precision"} <= keys
    decayed = {x.key for x in diff.diff(keras_adam, optbridge.from_dict(TORCH_ADAM), TINY, 3).axes}
    assert {"weight_decay_form", "weight decay applied"} <= decayed


def test_the_gradient_pipeline_is_an_axis():
    """A Keras LossScaleOptimizer with global_clipnorm against a torch GradScaler + clip_grad_norm_ spec:
    the pipelines differ by form, and diff says so in words."""
    from optbridge import transforms as T
    from optbridge.diff import axis_differences
    from optbridge.dialects.keras import optimizers as kd
    from optbridge.dialects.torch import optim

    keras_side = kd.LossScaleOptimizer(kd.AdamW(learning_rate=1e-3, weight_decay=0.01, global_clipnorm=1.0))
    torch_side = optim.AdamW(None, lr=1e-3, weight_decay=0.01).with_transforms(
        T.LossScale(form="torch"), T.ClipByGlobalNorm(1.0))
    axes = {ax.key: ax for ax in axis_differences(keras_side.to_canonical(), torch_side.to_canonical())}
    pipeline = axes["gradient pipeline"]
    assert "loss_scale(form='keras'" in pipeline.a and "clip_by_global_norm(max_norm=1.0, form='torch'" in pipeline.b
    assert "gradient transforms" in pipeline.words
    same = axis_differences(torch_side.to_canonical(), torch_side.to_canonical())
    assert "gradient pipeline" not in {ax.key for ax in same}
