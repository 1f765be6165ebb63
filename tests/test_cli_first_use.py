"""First use of the ``optbridge`` command line (issue 16 item 8): every built-in layout
runs without a config, failures print compact reproducers once, errors show in the
table, every config in the docs runs under ``conform``, piping into ``head`` is quiet.
"""
from __future__ import annotations

import json

import pytest

from optbridge import cli
from optbridge.conformance.cases import GUIDE_EXAMPLE, default_example
from optbridge.conformance.layouts import LAYOUTS
from optbridge.conformance.report import compact_json

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
