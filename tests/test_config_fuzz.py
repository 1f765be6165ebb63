"""Fuzzing configs: whatever a config holds, optbridge raises only its own errors, quickly.

Three strategies, each a few hundred seeded examples (``derandomize=True``, no example
database, so every run and CI see the same inputs):

* random structures: JSON-like values (huge integers, NaN, nested lists and mappings,
  strings) as whole configs and as the values of a valid config's keys;
* mutated valid configs: configs of the conformance database and hand-written ones with
  schedules, expressions, regex selectors and ``conform`` tables, with values replaced,
  keys removed or added; each accepted config is built on the NumPy backend, stepped and
  advanced an epoch;
* malformed files: valid configs serialised as JSON / TOML / YAML bytes, then truncated,
  spliced or overwritten with random bytes, read by ``optbridge.load`` and ``optbridge
  validate``.

Every input must end in success or an :class:`~optbridge.errors.OptbridgeError` within
the hypothesis deadline (:data:`DEADLINE`). Runs without any framework (the numpy-only
tox envs); the YAML strategy is skipped where PyYAML is missing.
"""
from __future__ import annotations

import collections
import contextlib
import copy
import io
import json
import warnings
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import optbridge  # noqa: E402
from optbridge import cli  # noqa: E402
from optbridge.config import dumps_toml  # noqa: E402
from optbridge.conformance import CASES  # noqa: E402
from optbridge.conformance.layouts import LAYOUTS  # noqa: E402
from optbridge.errors import OptbridgeError  # noqa: E402
from optbridge.schedules.base import schedule_registry  # noqa: E402

#: Per-input time bound (hypothesis fails an example that runs longer, after a rerun).
DEADLINE = timedelta(seconds=5)
FUZZ = settings(derandomize=True, database=None, deadline=DEADLINE, max_examples=400,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

SGD = {"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1}
HANDWRITTEN: list[tuple[dict, str]] = [
    ({**SGD, "momentum": 0.9, "params": [{"params": {"regex": r"layer\d\.0\.weight"}, "lr": 0.01},
                                          {"params": "*", "weight_decay": 0.0}]}, "guide"),
    ({**SGD, "lr": {"schedule": "torch.optim.lr_scheduler.LambdaLR", "lr": 0.1, "lr_lambda": "0.95 ** epoch"}},
     "guide"),
    ({**SGD, "lr": {"schedule": "torch.optim.lr_scheduler.SequentialLR", "lr": 0.1, "milestones": [2],
                    "schedulers": [{"schedule": "torch.optim.lr_scheduler.LinearLR", "start_factor": 0.5,
                                    "total_iters": 2},
                                   {"schedule": "torch.optim.lr_scheduler.StepLR", "step_size": 2}]}}, "tiny"),
    ({"format_version": 1, "optimizer": "keras.optimizers.AdamW", "learning_rate": 0.01, "weight_decay": 0.1,
      "exclude_from_weight_decay": ["bias", "gamma|beta"]}, "tiny"),
    ({**SGD, "lr": {"schedule": "torch.optim.lr_scheduler.ChainedScheduler", "lr": 0.1,
                    "schedulers": [{"schedule": "torch.optim.lr_scheduler.ExponentialLR", "gamma": 0.9},
                                   {"schedule": "torch.optim.lr_scheduler.MultiplicativeLR",
                                    "lr_lambda": "0.9 if epoch < 3 else 1.0"}]}}, "guide"),
    ({"format_version": 1, "optimizer": "mindspore.nn.Momentum", "momentum": 0.9, "loss_scale": 8.0,
      "learning_rate": {"schedule": "mindspore.nn.ExponentialDecayLR", "learning_rate": 0.1, "decay_rate": 0.9,
                        "decay_steps": 2},
      "params": [{"params": ["conv1.weight", "conv2.weight"], "grad_centralization": True}, {"params": "*"}],
      "conform": {"layout": "tiny", "steps": 3, "seed": 1}}, "tiny"),
]
BASES: list[tuple[dict, str]] = HANDWRITTEN + [(dict(c.config), c.layout) for c in CASES[::25]]
#: Half the draws take a hand-written base (they hold the schedules, expressions and patterns).
BASE = st.one_of(st.sampled_from(HANDWRITTEN), st.sampled_from(BASES))


def _nested(depth: int) -> list:
    value: list = [0.5]
    for _ in range(depth):
        value = [value]
    return value


#: Values a hostile or careless config writer might put anywhere.
TRICKY = st.sampled_from([
    None, True, 0, -1, 1, 10**400, -(10**400), 2**1023, 1e308, float("nan"), float("inf"), -0.0, "", "*",
    "(.*.*)*X", "((9**1024)**1024)**1024", "1/epoch", "1 / (epoch - 1)", "log(epoch - 1)", "exp(epoch * 1000)",
    "9**9**9", "(-1) ** 0.5", "a|(?i)b", ["a", "(?i)b"], ["(a)\\1"], "\x00", "é",
    [], {}, [[[]]], {"schedule": None}, {"regex": "(a|a)*$"}, {"regex": "(.*.*)*X"}, {"params": "*"},
    {"schedule": "torch.optim.lr_scheduler.SequentialLR", "lr": 0.1, "milestones": [1]},
    {"schedule": "torch.optim.lr_scheduler.ChainedScheduler", "lr": 0.1},
    {"schedule": "torch.optim.lr_scheduler.LambdaLR", "lr": 0.1, "lr_lambda": "1 / (epoch - 1)"},
    _nested(200), ["x"], [{"a": 1}],
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), TRICKY,
)


def json_values(max_leaves: int = 30) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(st.lists(children, max_size=6),
                                   st.dictionaries(st.text(max_size=12), children, max_size=6)),
        max_leaves=max_leaves,
    )


KEYS = sorted({k for config, _ in BASES for k in config} | {"schedule", "params", "lr_lambda", "conform"})
SCHEDULES = st.builds(
    lambda kind, args: {"schedule": kind, **args},
    st.sampled_from(sorted(schedule_registry)),
    st.dictionaries(st.sampled_from(["lr", "learning_rate", "gamma", "step_size", "decay_steps", "decay_rate",
                                     "lr_lambda", "milestones", "schedulers", "total_iters", "T_max", "interval",
                                     "max_lr", "total_steps", "min_lr", "max_lr", "warmup_steps", "power"]),
                    SCALARS, max_size=5),
)
REPLACEMENTS = st.one_of(TRICKY, SCALARS, json_values(12), SCHEDULES)

outcomes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def _params(layout: str) -> dict[str, np.ndarray]:
    return {name: np.full(shape, 0.5) for name, shape in LAYOUTS[layout]}


def exercise(data: Any, layout: str, strategy: str) -> None:
    """``from_dict``, then ``build`` + two steps + ``end_epoch``; anything but an
    ``OptbridgeError`` escapes (and fails the test)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = optbridge.from_dict(data)
            spec.to_canonical()
            params = _params(layout)
            opt = optbridge.build(spec, params, backend="numpy")
            for _ in range(2):
                opt.step({name: np.full(p.shape, 0.25) for name, p in params.items()})
            opt.end_epoch()
            opt.get_lr()
    except OptbridgeError as exc:
        outcomes[strategy][type(exc).__name__] += 1
    else:
        outcomes[strategy]["accepted"] += 1


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(config: Any, path: tuple, action: str, replacement: Any, new_key: str) -> Any:
    if not path:
        return replacement if action == "replace" else config
    parent = config
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[new_key] = replacement
    elif action == "add" and isinstance(parent, list):
        parent.insert(last, replacement)
    else:
        parent[last] = replacement
    return config


def _report(strategy: str, minimum: int) -> None:
    counts = outcomes[strategy]
    print(f"\n{strategy}: {sum(counts.values())} inputs, {dict(sorted(counts.items()))}")
    assert sum(counts.values()) >= minimum
    assert counts["accepted"] > 0 and len(counts) > 2, counts  # the strategy reaches both sides


# -- strategies --------------------------------------------------------------------------------
def test_random_structures():
    @FUZZ
    @given(st.one_of(json_values(40), st.builds(lambda base, key, value: {**base[0], key: value},
                                                BASE, st.sampled_from(KEYS), REPLACEMENTS.map(copy.deepcopy))))
    def run(data):
        exercise(data, "guide", "random structures")

    run()
    _report("random structures", 350)


def test_mutated_valid_configs():
    @FUZZ
    @given(st.data())
    def run(data):
        base, layout = data.draw(BASE)
        config = json.loads(json.dumps(base))
        for _ in range(data.draw(st.integers(1, 3))):
            path = data.draw(st.sampled_from(_paths(config)))
            action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]))
            if action == "delete" and not path:
                continue
            replacement = data.draw(st.one_of(REPLACEMENTS, st.just(("wrap",))))
            if replacement == ("wrap",):  # the value at ``path`` inside a list: type confusion
                target = config
                for step in path:
                    target = target[step]
                replacement = [target]
            replacement = copy.deepcopy(replacement)  # TRICKY's objects are shared between examples
            config = _mutate(config, path, action, replacement, data.draw(st.sampled_from(KEYS + ["zzz"])))
        exercise(config, layout, "mutated configs")

    run()
    _report("mutated configs", 350)


def _serialise(config: dict, fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(config).encode()
    if fmt == "toml":
        return dumps_toml(config).encode()
    import yaml

    return yaml.safe_dump(config, sort_keys=False).encode()


def _bytes_strategy(fmt: str, tmp: Any):
    @settings(FUZZ, max_examples=200)
    @given(st.data())
    def run(data):
        base, _ = data.draw(st.sampled_from(BASES[:5] + BASES[5::4]))
        raw = bytearray(_serialise(base, fmt))
        for _ in range(data.draw(st.integers(1, 4))):
            kind = data.draw(st.sampled_from(["truncate", "insert", "overwrite", "splice"]))
            pos = data.draw(st.integers(0, len(raw)))
            if kind == "truncate":
                del raw[pos:]
            elif kind == "insert":
                raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
            elif kind == "overwrite":
                raw[pos:pos + 1] = data.draw(st.binary(min_size=1, max_size=1))
            else:
                chunk = data.draw(st.sampled_from([b"&a [*a]", b"\xff\xfe", b"[" * 300, b"{", b"\"", b": ",
                                                   b"*a", b"1e999", b"99999999999999999999999", b"\n  - ", b"="]))
                raw[pos:pos] = chunk
        path = tmp / f"config.{fmt}"
        path.write_bytes(bytes(raw))
        strategy = f"malformed {fmt.upper()}"
        try:
            data_ = optbridge.config.read_data(path)
        except OptbridgeError as exc:
            outcomes[strategy][type(exc).__name__] += 1
        else:
            exercise(data_, "guide", strategy)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert cli.main(["validate", str(path)]) in (0, 1)

    return run


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
def test_malformed_files(fmt, tmp_path):
    if fmt == "yaml":
        pytest.importorskip("yaml")
    _bytes_strategy(fmt, tmp_path)()
    counts = outcomes[f"malformed {fmt.upper()}"]
    print(f"\nmalformed {fmt.upper()}: {sum(counts.values())} inputs, {dict(sorted(counts.items()))}")
    assert sum(counts.values()) >= 160 and counts["ConfigError"] > 0

