"""First use of the ``optbridge`` command line (issue 16 item 8): every built-in layout
runs without a config, failures print compact reproducers once, errors show in the
table, every config in the docs runs under ``conform``, piping into ``head`` is quiet.
"""
from __future__ import annotations

import json

import pytest

from optbridge import cli, plugin
from optbridge.conformance.cases import GUIDE_EXAMPLE, default_example
from optbridge.conformance.layouts import LAYOUTS
from optbridge.conformance.report import compact_json
from optbridge.errors import BackendError

from test_cli import table_rows, write_json


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_conform_without_config_runs_on_every_builtin_layout(layout, capsys):
    steps = "2" if layout == "resnet50" else "10"
    assert cli.main(["conform", "--backend", "numpy", "--dtype", "float64", "--layout", layout,
                     "--steps", steps]) == 0
    out = capsys.readouterr().out
    assert f"on layout {layout}, {steps} steps" in out
    assert table_rows(out)[("numpy", "float64")][2:8] == ["1", "1", "0", "0", "0", "0"]


def test_default_example_keeps_the_guide_names_on_the_guide_layout():
    assert default_example() is GUIDE_EXAMPLE
    assert default_example("lenet5").layout == "lenet5"
    assert default_example("lenet5").config == default_example("tiny").config
    with pytest.raises(ValueError, match="unknown layout 'nope'"):
        default_example("nope")


def test_compact_json_puts_lists_on_one_line_and_parses_back():
    value = {"a": [0.1] * 1000, "b": {"c": 1, "d": "x"}, "e": [{"f": [1, 2]}, 3], "g": {}, "h": []}
    text = compact_json(value)
    assert json.loads(text) == value
    assert len(text.splitlines()) == 12  # {, a, b, e: 6 lines, g, h, }
    assert '"a": [0.1, 0.1' in text and '"b": {"c": 1, "d": "x"}' in text


def test_an_errored_run_prints_a_compact_reproducer_once(tmp_path, capsys):
    # The guide example's 1,000-entry lr list used to take one line per number, twice.
    config = dict(GUIDE_EXAMPLE.config, conform={"layout": "lenet5", "steps": 3})
    assert cli.main(["conform", write_json(tmp_path, config), "--backend", "numpy"]) == 1
    out = capsys.readouterr().out
    assert len(out.splitlines()) < 80  # 2,182 before
    assert out.count('"optimizer": "mindspore.nn.Momentum"') == 1
    assert out.count("GroupError") == 2  # one line per dtype, naming the group at fault
    config_text = out[out.index("config.json of config.json:") + len("config.json of config.json:"):]
    assert json.loads(config_text)["params"] == GUIDE_EXAMPLE.config["params"]


def test_an_errored_run_is_visibly_an_error_in_the_table(tmp_path, capsys):
    config = dict(GUIDE_EXAMPLE.config, conform={"layout": "tiny"})
    assert cli.main(["conform", write_json(tmp_path, config), "--backend", "numpy", "--dtype", "float64"]) == 1
    out = capsys.readouterr().out
    row = table_rows(out)[("numpy", "float64")]
    assert row[7] == "1" and row[8:] == ["ERROR", "ERROR", "ERROR"]
    assert "NOT CONFORMING: 1 run ERRORED of 1" in out


def test_a_passing_run_has_no_verdict_line(capsys):
    assert cli.main(["conform", "--backend", "numpy", "--dtype", "float64"]) == 0
    assert "NOT CONFORMING" not in capsys.readouterr().out


def _doc_configs() -> list[tuple[str, str, str]]:
    """``(page:line, suffix, text)`` of every config file shown in docs/*.md: a fenced
    block that parses as a JSON or TOML table with an ``optimizer`` key."""
    import re
    import tomllib
    from pathlib import Path

    found = []
    for page in sorted((Path(__file__).parent.parent / "docs").glob("*.md")):
        text = page.read_text()
        for match in re.finditer(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M):
            body = match.group(1)
            where = f"{page.name}:{text[:match.start()].count(chr(10)) + 1}"
            for suffix, parse in ((".json", json.loads), (".toml", tomllib.loads)):
                try:
                    data = parse(body)
                except ValueError:
                    continue
                if isinstance(data, dict) and "optimizer" in data:
                    found.append((where, suffix, body))
    return found


DOC_CONFIGS = _doc_configs()


def test_the_docs_show_configs():
    assert {where.split(":")[0] for where, _, _ in DOC_CONFIGS} >= {"configs.md"}


@pytest.mark.parametrize("where,suffix,text", DOC_CONFIGS, ids=[w for w, _, _ in DOC_CONFIGS])
def test_every_config_in_the_docs_runs_under_conform(where, suffix, text, tmp_path, capsys):
    path = tmp_path / f"config{suffix}"
    path.write_text(text)
    status = cli.main(["conform", str(path), "--backend", "numpy"])
    out = capsys.readouterr()
    assert status == 0, (where, out.out[-2000:], out.err)
    assert table_rows(out.out)[("numpy", "float64")][3] == "1"


def test_a_per_step_list_shorter_than_the_default_sets_the_steps(tmp_path, capsys):
    config = {"format_version": 1, "optimizer": "mindspore.nn.SGD", "learning_rate": [0.1, 0.05, 0.01]}
    assert cli.main(["conform", write_json(tmp_path, config), "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "3 steps" in out and "the length of the per-step learning rate list" in out
    # An explicit number of steps past the list's end is the user's error, reported as one.
    assert cli.main(["conform", write_json(tmp_path, config), "--backend", "numpy", "--steps", "5"]) == 1
    assert "ScheduleExhaustedError" in capsys.readouterr().out


def _cli_env(**extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(extra)
    return env


def test_output_cut_short_by_its_reader_ends_without_a_traceback():
    import subprocess
    import sys

    # The read end closes before the command writes: every write raises EPIPE.
    proc = subprocess.Popen([sys.executable, "-m", "optbridge", "conform", "--backend", "numpy"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_cli_env(OPTBRIDGE_PLUGINS="numpy"))
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    shell = subprocess.run(f"{sys.executable} -m optbridge conform --backend numpy | head -1", shell=True,
                           capture_output=True, text=True, env=_cli_env(OPTBRIDGE_PLUGINS="numpy"), timeout=120)
    assert shell.stdout.startswith("conform: example.guide_momentum") and shell.stdout.count("\n") == 1
    assert "Traceback" not in shell.stderr, shell.stderr


def test_tensorflow_log_lines_stay_out_of_the_output():
    import subprocess
    import sys

    pytest.importorskip("tensorflow")
    run = subprocess.run([sys.executable, "-m", "optbridge", "conform", "--backend", "tensorflow", "--dtype",
                          "float64", "--steps", "2"], capture_output=True, text=True, env=_cli_env(), timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "absl" not in run.stderr and "oneDNN" not in run.stderr and "I0000" not in run.stderr, run.stderr
    assert "absl" not in run.stdout and "oneDNN" not in run.stdout


def test_framework_log_line_pattern_keeps_errors():
    assert cli._FRAMEWORK_LOG_LINE.match("I0000 00:00:1796420615.926197    7028 port.cc:153] oneDNN custom ops")
    assert cli._FRAMEWORK_LOG_LINE.match("W0000 00:00:1796420615.926197    7028 gpu_device.cc:2] no GPU")
    assert cli._FRAMEWORK_LOG_LINE.match("WARNING: All log messages before absl::InitializeLog() is called are ")
    assert not cli._FRAMEWORK_LOG_LINE.match("E0000 00:00:1796420615.926197    7028 x.cc:1] failed")
    assert not cli._FRAMEWORK_LOG_LINE.match("UserWarning: something")


def test_a_missing_builtin_backend_names_its_extra(monkeypatch, capsys):
    monkeypatch.setattr(plugin, "backends", lambda: {})  # neither torch nor TensorFlow installed
    assert cli.main(["conform", "--backend", "torch"]) == 1
    assert 'pip install "optbridge[torch]"' in capsys.readouterr().err
    with pytest.raises(BackendError, match=r'optbridge\[tensorflow\]'):
        plugin.get_backend("tensorflow")


def test_conform_mentions_broken_plugins(monkeypatch, capsys):
    failure = plugin.PluginFailure("optbridge-broken", "import", "ImportError: No module named 'missing_framework'")
    monkeypatch.setattr(plugin, "broken_plugins", lambda: [failure])
    assert cli.main(["conform", "--backend", "numpy", "--dtype", "float64"]) == 0
    out = capsys.readouterr().out
    assert "broken plugin, not run: optbridge-broken (import): ImportError: No module named 'missing_framework'" in out


def test_a_child_that_outlives_the_command_does_not_hold_the_stderr_filter(monkeypatch):
    """torch inductor's compile workers outlive a command and keep its stderr (the filter's
    pipe) open: the command still returns, and the child's lines still reach stderr."""
    import subprocess
    import sys
    import time

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    children = []

    def spawn_a_lingering_child(args):
        children.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        return 0

    monkeypatch.setattr(cli, "_backends", spawn_a_lingering_child)
    started = time.perf_counter()
    try:
        assert cli.main(["backends"]) == 0
        assert time.perf_counter() - started < 30
    finally:
        for child in children:
            child.kill()
            child.wait()
