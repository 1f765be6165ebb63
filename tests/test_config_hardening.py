"""A config cannot hang the loader or exhaust memory, and raises only optbridge errors.

Each measured problem of the hardening issue is reproduced through the entry points a user
meets (``optbridge.load``/``from_dict``/``build``, ``optbridge validate``/``conform``).
The cases that hung or allocated gigabytes before the fix run in a subprocess with a
wall-clock timeout and an address-space limit, so a regression fails instead of hanging.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import optbridge
from optbridge import cli
from optbridge.conformance.cases import MAX_CONFORM_STEPS, MAX_LAYOUT_ELEMENTS
from optbridge.config import MAX_DEPTH, MAX_VALUES
from optbridge.dialects.torch import optim
from optbridge.errors import ConfigError, ExpressionError, GroupError, OptbridgeError, SpecTypeError, SpecValueError
from optbridge.patterns import MAX_STATES, NamePattern

SGD = {"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1}
LAMBDA = "torch.optim.lr_scheduler.LambdaLR"


def lambda_config(expression: str) -> dict:
    return {**SGD, "lr": {"schedule": LAMBDA, "lr": 0.1, "lr_lambda": expression}}


def guarded(code: str, timeout: float = 60, memory_gib: int = 3) -> tuple[str, float]:
    """Run ``code`` in a fresh interpreter limited to ``memory_gib`` of address space.

    Returns its stdout and the wall time of the part after ``# -- timed`` (printed by the
    snippet as ``elapsed=...``); the test fails if the process times out or crashes.
    """
    prelude = textwrap.dedent(f"""
        import resource, time, json, sys
        import numpy, optbridge
        from optbridge import cli
        limit = {memory_gib} * 1024 ** 3
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        def outcome(fn):
            start = time.perf_counter()
            try:
                fn()
                kind = "no error"
            except optbridge.errors.OptbridgeError as exc:
                kind = "optbridge " + type(exc).__name__ + ": " + str(exc)[:300]
            except BaseException as exc:
                kind = "RAW " + type(exc).__name__ + ": " + str(exc)[:300]
            print(kind)
            print("elapsed=%.3f" % (time.perf_counter() - start))
    """)
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    elapsed = max(float(m) for m in re.findall(r"elapsed=([0-9.]+)", proc.stdout))
    return proc.stdout, elapsed


# -- measured: hangs and memory --------------------------------------------------------------
def test_power_tower_expression_is_refused_at_once(tmp_path):
    """``((9**1024)**1024)**1024`` hung from_dict and ``optbridge validate``."""
    path = tmp_path / "tower.json"
    path.write_text(json.dumps(lambda_config("((9**1024)**1024)**1024")))
    out, elapsed = guarded(f"""
        cfg = json.load(open({str(path)!r}))
        outcome(lambda: optbridge.from_dict(cfg))
        outcome(lambda: sys.exit(cli.main(["validate", {str(path)!r}])) if cli.main(["validate", {str(path)!r}]) != 1 else None)
    """, timeout=60)
    assert out.count("optbridge ExpressionError") == 1 and "RAW" not in out and "no error" in out, out
    assert "lr: expression '((9**1024)**1024)**1024'" in out and "too large" in out
    assert elapsed < 2.0


def test_expression_error_is_an_arithmetic_error_with_the_path():
    with pytest.raises(ExpressionError, match=r"^lr: expression '1/epoch' at epoch=0 fails: division by zero"):
        optbridge.from_dict(lambda_config("1/epoch"))
    assert issubclass(ExpressionError, SpecValueError) and issubclass(ExpressionError, ArithmeticError)
    for source in ("exp(1000)", "log(epoch)", "sqrt(epoch - 1)", "(epoch - 1) ** 0.5", "floor(inf)", "2 ** 4096"):
        with pytest.raises(ExpressionError, match=re.escape(source)):
            optbridge.from_dict(lambda_config(source))


@pytest.mark.parametrize("source, message", [
    ("min(" + ", ".join(["min(" + ", ".join(["1"] * 60) + ")"] * 10) + ")", "syntax-tree nodes"),
    ("-" * 60 + "1", "nests deeper"),
    ("epoch" + " " * 2000, "characters long"),
    ("9" * 1300, "integer literal"),
    ("min(epoch)", "min\\(\\) with 1 argument"),
    ("sqrt(epoch, 2)", "sqrt\\(\\) with 2 argument"),
])
def test_expression_size_bounds(source, message):
    with pytest.raises(SpecValueError, match=message):
        optbridge.from_dict(lambda_config(source))


def yaml_bomb(levels: int) -> str:
    """``levels`` nested lists of 9 aliases of the level below, as the ``momentum`` value."""
    lines = ["format_version: 1", "optimizer: torch.optim.SGD", "lr: 0.1", "momentum:",
             "  - &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"  - &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [9, 10])
def test_yaml_alias_bomb_is_refused_before_it_expands(tmp_path, levels):
    """A 470-byte YAML file made ``load`` allocate 2.9 GiB (10 levels asked for 26 GiB)."""
    pytest.importorskip("yaml")
    path = tmp_path / "bomb.yaml"
    path.write_text(yaml_bomb(levels))
    assert path.stat().st_size < 600
    out, elapsed = guarded(f"""
        outcome(lambda: optbridge.load({str(path)!r}))
        outcome(lambda: print("rc", cli.main(["validate", {str(path)!r}])))
    """, timeout=60, memory_gib=2)
    assert "RAW" not in out, out
    assert out.count("optbridge ConfigError") == 1 and "rc 1" in out, out
    assert f"more than {MAX_VALUES} values once its aliases are expanded" in out
    assert elapsed < 2.0


def test_yaml_small_aliases_still_load(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "ok.yaml"
    path.write_text("format_version: 1\noptimizer: torch.optim.SGD\nlr: &rate 0.1\n"
                    "params:\n  - {params: ['a'], lr: *rate}\n  - {params: '*'}\n")
    spec = optbridge.load(path)
    assert spec.to_dict()["params"][0]["lr"] == 0.1


def test_yaml_recursive_alias_is_refused(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "loop.yaml"
    path.write_text("format_version: 1\noptimizer: torch.optim.SGD\nlr: 0.1\nmomentum: &m [*m]\n")
    with pytest.raises(ConfigError, match="alias refers to a node that contains it"):
        optbridge.load(path)


def test_catastrophic_regex_selector_builds_at_once():
    """``{"regex": "(.*.*)*X"}`` on three 34-character names hung ``build`` for over 30 s."""
    out, elapsed = guarded("""
        names = {"a" * 34 + str(i): numpy.ones(2) for i in range(3)}
        optbridge.build(optbridge.from_dict({"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1}),
                        names, backend="numpy")  # loads the backends: not part of the timed calls
        spec = optbridge.from_dict({"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1,
                                    "params": [{"params": {"regex": "(.*.*)*X"}}, {"params": "*"}]})
        outcome(lambda: optbridge.build(spec, names, backend="numpy"))
        spec = optbridge.from_dict({"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1,
                                    "params": [{"params": {"regex": "(a|a)*(.*.*)*a[0-9]"}}]})
        outcome(lambda: print(sorted(optbridge.build(spec, names, backend="numpy").param_names)))
        spec = optbridge.from_dict({"format_version": 1, "optimizer": "keras.optimizers.AdamW",
                                    "learning_rate": 0.1, "exclude_from_weight_decay": ["(.*.*)*X"]})
        outcome(lambda: optbridge.build(spec, names, backend="numpy"))
    """, timeout=60)
    assert "RAW" not in out, out
    assert "optbridge GroupError: groups[0] ({'regex': '(.*.*)*X'}): the selector matches no parameter" in out
    assert "['" + "a" * 34 + "0', " in out
    assert out.count("no error") == 2
    assert elapsed < 2.0


def test_globs_do_not_backtrack():
    """Globs go through fnmatch, whose translation (atomic groups, Python >= 3.11) is safe."""
    names = {"a" * 5000: np.ones(1), "b": np.ones(1)}
    optbridge.build(optim.SGD(None, lr=0.1), names, backend="numpy")  # loads the backends, untimed
    start = time.perf_counter()
    with pytest.raises(GroupError, match="matches no parameter"):
        optbridge.build(optim.SGD([{"params": "*a" * 40 + "*c"}, {"params": "*"}], lr=0.1), names, backend="numpy")
    assert time.perf_counter() - start < 2.0


def test_name_pattern_agrees_with_re():
    patterns = [r"conv\d+\.weight", r"(?i)CONV.*", r".*\.(weight|bias)", r"^layer[12]\..*$", r"a{2,3}b?",
                r"(ab|a)*b", r"\bfc\b.*", r"(?s:.)+", r"[^a-c]*", r"(?i:k)\w*", r"x*?y", r"(a|b){0,3}c",
                r"\Alayer.*\Z", r"(?m)^fc.bias$", r"(?x) fc \. w", r"[\d_]+", r"(?a)\w+", r"", r"|a", r"(a*)*",
                r".*(\.|_)gamma", r"\Bc", r"norm|bias", r"kernel$"]
    rng = np.random.default_rng(0)
    alphabet = list("ab.c1_K\n") + ["\u212a"]
    names = ["conv1.weight", "CONV2.weight", "fc.bias", "layer1.0.weight", "aab", "", "kelvin", "fc.bias\n",
             "dense/kernel", "layer2.1.gamma", "bn_gamma"]
    names += ["".join(rng.choice(alphabet, size=int(rng.integers(0, 9)))) for _ in range(150)]
    for pattern in patterns:
        compiled = NamePattern(pattern)
        for name in names:
            assert compiled.fullmatch(name) == (re.fullmatch(pattern, name) is not None), (pattern, name)
            assert compiled.search(name) == (re.search(pattern, name) is not None), (pattern, name)


@pytest.mark.parametrize("pattern, what", [
    (r"(a)\1", "a backreference"), (r"(?=a)a", "lookahead"), (r"(?<!a)b", "lookahead/lookbehind"),
    (r"(?>a)", "atomic group"), (r"a*+", "possessive"), (r"(a)(?(1)a|b)", "conditional"),
    (r"(?:a{100}){200}", f"more than {MAX_STATES} states"), ("(?:" * 600 + "a" + ")" * 600, "nests groups"),
])
def test_regex_selectors_refuse_non_linear_constructs(pattern, what):
    with pytest.raises(GroupError, match=r"^groups\[0\] \(\{'regex': .*'regex': .*" + re.escape(what)):
        optbridge.build(optim.SGD([{"params": {"regex": pattern}}], lr=0.1), {"a": np.ones(1)}, backend="numpy")
    with pytest.raises(SpecValueError, match=re.escape(what)):
        optbridge.from_dict({"format_version": 1, "optimizer": "keras.optimizers.AdamW", "learning_rate": 0.1,
                             "exclude_from_weight_decay": [pattern]})


def test_conform_table_layout_and_steps_are_bounded(tmp_path, capsys):
    """A hostile ``conform`` table asked for 7.3 TiB (a layout of a few huge shapes)."""
    base = {"format_version": 1, "optimizer": "mindspore.nn.Momentum", "learning_rate": 0.1, "momentum": 0.9}
    hostile = {**base, "conform": {"layout": [["w", [1 << 20, 1 << 20]], ["b", [1 << 20]]], "steps": 3}}
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(hostile))
    for command in ("validate", "conform"):
        assert cli.main([command, str(path)]) == 1
        err = capsys.readouterr().err
        assert f"conform.layout[0]: the layout holds more than {MAX_LAYOUT_ELEMENTS} elements" in err, err
    too_many = {**base, "conform": {"steps": MAX_CONFORM_STEPS + 1}}
    path.write_text(json.dumps(too_many))
    assert cli.main(["validate", str(path)]) == 1
    assert f"conform.steps: must be an int <= {MAX_CONFORM_STEPS}" in capsys.readouterr().err
    assert cli.main(["conform", str(path), "--steps", str(10**9)]) == 1
    assert f"steps: must be an int <= {MAX_CONFORM_STEPS}" in capsys.readouterr().err
    path.write_text(json.dumps({**base, "conform": {"layout": [["w", [1] * 17]]}}))
    assert cli.main(["validate", str(path)]) == 1
    assert "at most 16 dimensions" in capsys.readouterr().err


# -- measured: raw exceptions ----------------------------------------------------------------
def test_non_utf8_file_is_a_config_error(tmp_path, capsys):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1, "x": "\xe9"}')
    with pytest.raises(ConfigError, match=r"latin1.json: not UTF-8 text \(byte 71: b'\\xe9'\)"):
        optbridge.load(path)
    assert cli.main(["validate", str(path)]) == 1
    assert "not UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize("config, path", [
    ({**SGD, "lr": 10**400}, "lr"),
    ({**SGD, "weight_decay": -(10**400)}, "weight_decay"),
    ({"format_version": 1, "optimizer": "mindspore.nn.Momentum", "learning_rate": 0.1, "momentum": 0.9,
      "loss_scale": 10**400}, "loss_scale"),
    ({"format_version": 1, "optimizer": "mindspore.nn.Momentum", "momentum": 0.9,
      "learning_rate": {"schedule": "mindspore.nn.ExponentialDecayLR", "learning_rate": 0.1, "decay_rate": 0.9,
                        "decay_steps": 10**400}}, "learning_rate.decay_steps"),
    ({**SGD, "params": [{"params": "*", "lr": 10**400}]}, "params[0].lr"),
])
def test_huge_integers_are_config_errors(config, path):
    with pytest.raises(ConfigError, match=rf"^{re.escape(path)}: the integer -?2\*\*1328\.\.\. is too large"):
        optbridge.from_dict(config)


def test_integers_past_python_str_limit_are_config_errors():
    """``str()`` of an int with more than 4,300 digits raises ValueError: messages must not call it."""
    with pytest.raises(ConfigError, match=r"^momentum: the integer 2\*\*16609\.\.\. is too large"):
        optbridge.from_dict({**SGD, "momentum": 10**5000})


@pytest.mark.parametrize("config, message", [
    ({"format_version": 1, "optimizer": ["torch.optim.SGD"]}, "optimizer: unknown optimizer"),
    ({**SGD, "lr": {"schedule": ["x"]}}, "lr.schedule: unknown schedule"),
    ({**SGD, "params": [{"params": "*", "lr": {"schedule": {"a": 1}}}]}, r"params\[0\].lr.schedule: unknown"),
    ({"format_version": True, "optimizer": "torch.optim.SGD"}, "format_version: expected 1"),
])
def test_unhashable_names_are_config_errors(config, message):
    with pytest.raises(ConfigError, match=message):
        optbridge.from_dict(config)


@pytest.mark.parametrize("name", ["SequentialLR", "ChainedScheduler"])
def test_nested_scheduler_without_schedulers_is_a_config_error(name):
    config = {**SGD, "lr": {"schedule": f"torch.optim.lr_scheduler.{name}", "lr": 0.1}}
    if name == "SequentialLR":
        config["lr"]["milestones"] = [2]
    with pytest.raises(ConfigError, match=rf"^lr: .*{name}.declare is missing required argument\(s\) \['schedulers'\]"):
        optbridge.from_dict(config)
    with pytest.raises(SpecTypeError, match="missing required"):
        getattr(optim.lr_scheduler, name).declare(0.1)


def test_failing_declared_expression_leaves_the_schedule_unchanged():
    """``1 / (epoch - 2)`` fails at the second ``end_epoch``; every try leaves the state as it was."""
    spec = optbridge.from_dict(lambda_config("1 / (epoch - 2)"))
    opt = optbridge.build(spec, {"w": np.ones(3)}, backend="numpy")
    opt.end_epoch()
    before = opt.state_dict()
    lr_before = opt.get_lr()
    for _ in range(3):
        with pytest.raises(ExpressionError, match=r"at epoch=2 fails: division by zero"):
            opt.end_epoch()
        assert opt.state_dict() == before and opt.get_lr() == lr_before


def test_failing_bound_expression_does_not_advance_step_count():
    opt = optbridge.build(optim.SGD(None, lr=0.1), {"w": np.ones(3)}, backend="numpy")
    sched = optim.lr_scheduler.LambdaLR(opt, "1 / (epoch - 2)")
    opt.step({"w": np.ones(3)})
    sched.step()
    before = sched.state_dict()
    for _ in range(3):
        with pytest.raises(ExpressionError):
            sched.step()
        assert sched.state_dict() == before and sched._step_count == 2 and sched.last_epoch == 1


@pytest.mark.parametrize("name", ["SequentialLR", "ChainedScheduler"])
def test_failing_nested_scheduler_leaves_every_scheduler_unchanged(name):
    opt = optbridge.build(optim.SGD(None, lr=0.1), {"w": np.ones(3)}, backend="numpy")
    first = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    second = optim.lr_scheduler.LambdaLR(opt, "1 / (epoch - 2)")
    if name == "SequentialLR":
        outer = optim.lr_scheduler.SequentialLR(opt, [second, first], milestones=[5])
    else:
        outer = optim.lr_scheduler.ChainedScheduler([first, second])
    opt.step({"w": np.ones(3)})
    outer.step()
    before = (outer.state_dict(), opt.get_lr(), opt.state_dict())
    for _ in range(2):
        with pytest.raises(ExpressionError):
            outer.step()
        assert (outer.state_dict(), opt.get_lr(), opt.state_dict()) == before


def test_deep_nesting_is_a_config_error(tmp_path):
    deep: object = 0.9
    for _ in range(2000):
        deep = [deep]
    with pytest.raises(ConfigError, match=rf"^momentum(\[0\])+: the config nests deeper than {MAX_DEPTH} levels"):
        optbridge.from_dict({**SGD, "momentum": deep})
    path = tmp_path / "deep.json"
    path.write_text('{"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1, "momentum": '
                    + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ConfigError, match="deep.json: "):
        optbridge.load(path)
    shared: list = [1.0] * 1000
    wide = [shared] * 2000  # one list referenced 2,000 times: 2 million values expanded
    with pytest.raises(ConfigError, match=f"more than {MAX_VALUES} values"):
        optbridge.from_dict({**SGD, "momentum": wide})
    loop: list = []
    loop.append(loop)
    with pytest.raises(ConfigError, match=r"^momentum\[0\]: a list or mapping contains itself"):
        optbridge.from_dict({**SGD, "momentum": loop})


def test_keras_exclusion_patterns_are_matched_one_by_one():
    """``["a", "(?i)B"]``: each valid alone, ``"a|(?i)B"`` is not (re.error at build)."""
    spec = optbridge.from_dict({"format_version": 1, "optimizer": "keras.optimizers.AdamW", "learning_rate": 0.1,
                                "weight_decay": 0.5, "exclude_from_weight_decay": ["^a$", "(?i)B"]})
    params = {"a": np.ones(2), "b": np.ones(2), "w": np.ones(2)}
    opt = optbridge.build(spec, params, backend="numpy")
    opt.step({k: np.zeros(2) for k in params})
    # zero gradients: only decoupled weight decay moves a parameter
    assert np.array_equal(params["a"], np.ones(2)) and np.array_equal(params["b"], np.ones(2))
    assert np.all(params["w"] < 1.0)


def test_every_failure_here_is_an_optbridge_error():
    """The raw exception types the fuzzing found are all caught by ``except OptbridgeError``."""
    for config in ({"format_version": 1, "optimizer": ["x"]}, lambda_config("1/epoch"), {**SGD, "lr": 10**400}):
        try:
            optbridge.from_dict(config)
        except OptbridgeError:
            pass
        else:  # pragma: no cover - the assertion message
            pytest.fail(f"no error for {config}")
    start = time.perf_counter()
    NamePattern("(.*.*)*X").fullmatch("a" * 5000)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("build, message", [
    (lambda: optim.SGD(None, lr=10**400), r"^'lr' must fit a float \(\|x\| < 2\*\*1024\). Received an integer of 1329 bits"),
    (lambda: optim.Adam([{"params": "*", "eps": -(10**400)}]), r"^groups\[0\] \('\*'\): 'eps' must fit a float"),
    (lambda: optim.SGD(None, lr=[0.1, 10**400]), r"^'lr\[1\]' must fit a float"),
])
def test_torch_dialect_refuses_integers_past_the_float_range(build, message):
    """Python API: torch-dialect classes converted such an int with float() (OverflowError)."""
    with pytest.raises(SpecValueError, match=message):
        build()


def test_keras_dialect_refuses_integers_past_the_float_range():
    from optbridge.dialects.keras import optimizers

    with pytest.raises(SpecValueError, match=r"'weight_decay' must fit a float"):
        optimizers.AdamW(learning_rate=0.1, weight_decay=10**400)


def test_a_schedule_argument_torch_only_fails_on_when_stepping_is_an_optbridge_error():
    """``ExponentialLR(gamma=None)`` is accepted by torch and fails at ``step()`` (``lr * None``);
    loaded from a config it raises an optbridge error naming the schedule, and ``end_epoch``
    changes nothing (found by tests/test_config_fuzz.py)."""
    from optbridge.errors import SpecTypeError

    data = {"format_version": 1, "optimizer": "torch.optim.SGD",
            "lr": {"schedule": "torch.optim.lr_scheduler.ChainedScheduler", "lr": 0.1,
                   "schedulers": [{"schedule": "torch.optim.lr_scheduler.ExponentialLR", "gamma": None}]}}
    params = {"w": np.full(3, 0.5)}
    opt = optbridge.build(optbridge.from_dict(data), params, backend="numpy")
    opt.step({"w": np.full(3, 0.25)})
    before = opt.state_dict()
    with pytest.raises(SpecTypeError, match="ChainedScheduler: stepping the schedule failed: unsupported operand"):
        opt.end_epoch()
    assert opt.get_lr() == [0.1] and opt.state_dict()["global_step"] == before["global_step"]


def test_rprop_step_sizes_that_are_not_numbers_are_an_optbridge_error():
    """MindSpore compares ``step_sizes[0] > step_sizes[1]`` before it checks their types (a bare
    TypeError for ``None``); found by tests/test_config_fuzz.py."""
    from optbridge.dialects.mindspore import nn
    from optbridge.errors import SpecTypeError

    with pytest.raises(SpecTypeError, match="step_sizes must hold two numbers"):
        nn.Rprop(None, step_sizes=(None, 50.0))
