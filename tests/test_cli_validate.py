"""``optbridge validate CONFIG --layout L | --names FILE``: resolved groups and portability
warnings (optbridge.portability), through the CLI entry like tests/test_cli.py."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import optbridge
from optbridge import cli
from optbridge.dialects.keras import optimizers
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim
from optbridge.errors import ConfigError
from optbridge.groups import ParamInfo
from optbridge.portability import portability_warnings, read_names

TORCH_NAMES = "conv.weight 4,3,3,3\nbn.weight 4\nbn.bias 4\nfc.weight (10, 36)\nfc.bias (10,)\n"
KERAS_NAMES = "net/conv/kernel 3,3,3,4\nnet/bn/gamma 4\nnet/bn/beta 4\nnet/fc/kernel 36,10\nnet/fc/bias 10\n"


def config(tmp_path, spec, name="spec.json", conform=None):
    data = optbridge.to_dict(spec)
    if conform is not None:
        data["conform"] = conform
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def names_file(tmp_path, text, name="names.txt"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run(capsys, *argv):
    code = cli.main(["validate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_ungrouped_mindspore_weight_decay_warns_on_torch_names_not_on_keras(tmp_path, capsys):
    path = config(tmp_path, nn.Momentum(None, learning_rate=0.1, momentum=0.9, weight_decay=1e-4))
    code, out, err = run(capsys, path, "--names", names_file(tmp_path, TORCH_NAMES))
    assert code == 0
    assert "[0] 5: conv.weight, bn.weight, bn.bias, fc.weight, fc.bias" in out
    assert ("optbridge: warning: the default weight-decay filter (names containing 'beta' or 'gamma' are not "
            "decayed) matches no parameter: weight_decay applies to every parameter, including the norm "
            "parameters 'bn.weight', 'bn.bias'; a group {'params': {'role': 'norm'}, 'weight_decay': 0.0} "
            "skips them on every framework") in err
    code, out, err = run(capsys, path, "--names", names_file(tmp_path, KERAS_NAMES, "keras.txt"))
    assert code == 0 and err == ""
    assert cli.main(["validate", path, "--strict", "--names", str(tmp_path / "names.txt")]) == 1
    # weight_decay 0: the filter has nothing to do, no warning
    quiet = config(tmp_path, nn.Momentum(None, learning_rate=0.1, momentum=0.9), "quiet.json")
    assert run(capsys, quiet, "--strict", "--names", str(tmp_path / "names.txt"))[0] == 0


def test_a_filter_that_misses_some_norms_warns(tmp_path, capsys):
    path = config(tmp_path, nn.Momentum(None, learning_rate=0.1, momentum=0.9, weight_decay=1e-4))
    names = names_file(tmp_path, "a.gamma 4\na.beta 4\nb.weight 4\nb.bias 4\nfc.weight 4,4\n")
    code, _, err = run(capsys, path, "--names", names)
    assert code == 0
    assert "leaves the norm parameters 'b.weight', 'b.bias' decayed" in err


def test_torch_style_selector_on_keras_paths_warns_and_fails(tmp_path, capsys):
    spec = optim.SGD([{"params": ["conv.weight"], "lr": 0.01}, {"params": "*"}], lr=0.1)
    path = config(tmp_path, spec)
    code, out, err = run(capsys, path, "--names", names_file(tmp_path, KERAS_NAMES))
    assert code == 1 and out == ""
    assert ("optbridge: warning: groups[0] (['conv.weight']): there is no parameter named 'conv.weight'.. The "
            "names are '/' paths (Keras) and the selector names '.' paths (torch); a {'role': ...} selector "
            "matches on both") in err
    assert f"optbridge: error: {path} on {tmp_path / 'names.txt'}: groups[0] (['conv.weight'])" in err
    # the same spec written with roles resolves on both
    portable = config(tmp_path, optim.SGD([{"params": {"role": "weight", "ndim": 4}, "lr": 0.01},
                                           {"params": "*"}], lr=0.1), "portable.json")
    for text in (TORCH_NAMES, KERAS_NAMES):
        code, out, err = run(capsys, portable, "--strict", "--names", names_file(tmp_path, text))
        assert code == 0 and err == ""
        assert "[0] 1: " in out and "[1] 4: " in out
        assert "[0] params={'role': 'weight', 'ndim': 4}, lr=0.01" in out


def test_selectors_matching_nothing_are_all_listed(tmp_path, capsys):
    spec = nn.SGD([{"params": "head.*", "lr": 0.01}, {"params": {"role": "embedding"}}, {"params": "*"}],
                  learning_rate=0.1)
    code, out, err = run(capsys, config(tmp_path, spec), "--layout", "guide")
    assert code == 1
    assert "warning: groups[0] ('head.*'): the selector matches no parameter" in err
    assert "warning: groups[1] ({'role': 'embedding'}): the selector matches no parameter" in err
    assert "error:" in err and "groups[0] ('head.*'): the selector matches no parameter; a group must not be " \
                               "empty" in err


def test_per_step_list_shorter_than_planned_steps(tmp_path, capsys):
    spec = nn.SGD([{"params": "fc.*", "lr": [0.1] * 4}, {"params": "*"}], learning_rate=0.2)
    path = config(tmp_path, spec, conform={"steps": 10})
    code, _, err = run(capsys, path)
    assert code == 0
    assert err == ("optbridge: warning: the per-step groups[0] lr list has 4 entries, fewer than the 10 planned "
                   "steps: step 4 will raise\n")
    assert run(capsys, path, "--steps", "4")[2] == ""
    assert run(capsys, path, "--steps", "0")[0] == 1
    ungrouped = config(tmp_path, nn.SGD(None, learning_rate=[0.2] * 20), "ungrouped.json")
    assert "learning rate list has 20 entries, fewer than the 30" in run(capsys, ungrouped, "--steps", "30")[2]


def test_keras_exclude_pattern_matching_nothing_warns(tmp_path, capsys):
    opt = optimizers.AdamW(learning_rate=1e-3, weight_decay=0.004)
    opt.exclude_from_weight_decay(var_names=["bias", "layernorm"])
    path = config(tmp_path, opt)
    code, _, err = run(capsys, path, "--names", names_file(tmp_path, KERAS_NAMES))
    assert code == 0
    assert "the exclude_from_weight_decay pattern 'layernorm' matches no parameter" in err
    assert "'bias'" not in err


def test_names_file_forms_and_errors(tmp_path, capsys):
    infos = read_names(names_file(tmp_path, "# a model\na 2x3 weight\nb () \nc [4] norm  # scale\n"))
    assert infos == [ParamInfo("a", (2, 3), "weight"), ParamInfo("b", ()), ParamInfo("c", (4,), "norm")]
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"x/kernel": [3, 4], "x/gamma": {"shape": [4], "role": "norm"}}))
    assert read_names(path) == [ParamInfo("x/kernel", (3, 4)), ParamInfo("x/gamma", (4,), "norm")]
    spec = config(tmp_path, nn.SGD(None, learning_rate=0.1))
    for text, message in (("a\n", "names.txt:1: expected 'NAME SHAPE [ROLE]'"),
                          ("a 3\nb 3 kernel\n", "names.txt:2: a role is one of"),
                          ("a 3.5\n", "names.txt:1: a shape is a list of ints"),
                          ("# nothing\n", "no parameter names")):
        with pytest.raises(ConfigError, match=re.escape(message)):
            read_names(names_file(tmp_path, text))
        code, _, err = run(capsys, spec, "--names", str(tmp_path / "names.txt"))
        assert code == 1 and message.split(": ", 1)[-1][:20] in err
    code, _, err = run(capsys, spec, "--names", str(tmp_path / "missing.txt"))
    assert code == 1 and "cannot read" in err
    assert cli.main(["validate", spec, "--layout", "guide", "--names", str(path)]) == 2   # one source of names
    assert "not allowed with argument --layout" in capsys.readouterr().err


def test_portability_warnings_python_api():
    spec = nn.Momentum(None, learning_rate=0.1, momentum=0.9, weight_decay=1e-4).to_canonical()
    assert portability_warnings(spec) == []
    assert len(portability_warnings(spec, [ParamInfo("bn.weight", (4,)), ParamInfo("fc.weight", (4, 4))])) == 1


def test_python_dash_m_validate(tmp_path):
    path = config(tmp_path, nn.Momentum(None, learning_rate=0.1, momentum=0.9, weight_decay=1e-4))
    done = subprocess.run([sys.executable, "-m", "optbridge", "validate", path, "--layout", "resnet50", "--strict"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "on layout 'resnet50' (161 parameters):" in done.stdout
    assert "including the norm parameters 'bn1.weight', 'bn1.bias', 'layer1.0.bn1.weight'" in done.stderr
