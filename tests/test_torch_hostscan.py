"""The compiled host scans (``optbridge.backends.torch.hostscan``) against their Python twins.

``dense_grads`` must answer exactly what the optimizer's Python check answers (every
gradient present and of its parameter's shape, dtype, device and layout) for every way a
gradient can be made wrong on a CPU-only torch (torch itself refuses a ``.grad`` on another
device), and hand back the very ``.grad`` objects; the build must be cached,
switchable off, and fall back to Python with one warning when it fails.
"""
from __future__ import annotations

import operator
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import native_build_checks  # noqa: E402
from optbridge.backends.torch import Optimizer, hostscan  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.errors import StepInputError  # noqa: E402

_metadata = operator.attrgetter("shape", "dtype", "device", "layout")


@pytest.fixture(scope="module")
def scan():
    module = hostscan.load()
    assert module is not None, hostscan.build_error()
    return module


@pytest.fixture(params=["compiled", "python"])
def scan_mode(request, monkeypatch):
    """Runs a test with the compiled scans and again with them switched off."""
    if request.param == "python":
        monkeypatch.setenv(hostscan.ENV_SWITCH, "0")
    return request.param


def python_answer(params):
    """The Python definition: every grad present and matching its parameter."""
    grads = [p.grad for p in params]
    if any(g is None for g in grads) or [_metadata(g) for g in grads] != [_metadata(p) for p in params]:
        return None
    return grads


def fresh():
    params = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(4)),
              torch.nn.Parameter(torch.randn(2, dtype=torch.float64))]
    for p in params:
        p.grad = torch.randn_like(p)
    return params


def _missing(ps):
    ps[1].grad = None


def _other_dtype(ps):
    ps[0].grad.data = torch.zeros(3, 2, dtype=torch.float64)


def _other_shape(ps):
    ps[1].grad.data = torch.zeros(2, 2)


def _sparse(ps):
    ps[1].grad = torch.zeros(4).to_sparse()


class Sub(torch.nn.Parameter):
    """A parameter subclass: the compiled scan leaves it to Python."""


def _subclass(ps):
    ps[0] = Sub(ps[0].detach().clone())
    ps[0].grad = torch.ones(3, 2)


CASES = {"all present": lambda ps: None, "missing": _missing, "other dtype": _other_dtype,
         "other shape": _other_shape, "sparse": _sparse, "subclass": _subclass}


@pytest.mark.parametrize("case", CASES)
def test_dense_grads_answers_like_the_python_check(scan, case):
    params = fresh()
    CASES[case](params)
    got = scan.dense_grads(params, hostscan.ACCEPTED)
    want = python_answer(params)
    if case == "subclass":
        assert got is None and want is not None  # left to the Python path, which accepts it
        return
    assert (got is None) == (want is None)
    if want is not None:
        assert len(got) == len(want) and all(g is w for g, w in zip(got, want))


def test_dense_grads_takes_tuples_and_refuses_other_containers(scan):
    params = fresh()
    assert all(g is p.grad for g, p in zip(scan.dense_grads(tuple(params), hostscan.ACCEPTED), params))
    with pytest.raises(TypeError, match="list or tuple"):
        scan.dense_grads(iter(params), hostscan.ACCEPTED)
    assert scan.dense_grads([], hostscan.ACCEPTED) == []


@pytest.mark.usefixtures("scan_mode")
def test_step_names_the_parameter_whose_gradient_is_wrong():
    model = torch.nn.Linear(3, 2)
    opt = Optimizer(model.named_parameters(), nn.Momentum(None, 0.1, 0.9))
    model.weight.grad = torch.ones(2, 3)
    model.bias.grad = torch.ones(2)
    model.bias.grad.data = torch.ones(3)
    before = model.weight.detach().clone()
    with pytest.raises(StepInputError, match="'bias'.*\\(3,\\)"):
        opt.step()
    assert torch.equal(model.weight, before)  # validated before anything was updated


@pytest.mark.usefixtures("scan_mode")
def test_parameters_without_gradients_are_skipped_on_both_paths():
    model = torch.nn.Linear(3, 2)
    opt = Optimizer(model.named_parameters(), nn.Momentum(None, 0.1, 0.9))
    bias = model.bias.detach().clone()
    model.weight.grad = torch.ones(2, 3)
    weight = model.weight.detach().clone()
    opt.step()
    assert torch.equal(model.bias, bias) and torch.equal(model.weight, weight - 0.1)


_PROBE = """
    import warnings
    warnings.simplefilter("always")
    import torch
    from optbridge.backends.torch import Optimizer, hostscan
    from optbridge.dialects.mindspore import nn
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    with warnings.catch_warnings(record=True) as caught:
        opt = Optimizer(model.named_parameters(), nn.Adam(None, 0.1), flat=True)
        for _ in range(3):
            opt.zero_grad()
            model(torch.ones(2, 4)).sum().backward()
            opt.step()
    print("loaded", hostscan.load() is not None)
    print("error", hostscan.build_error())
    print("warnings", [str(w.message) for w in caught if "host scans" in str(w.message)])
    print("w", model.weight.detach().flatten().tolist())
"""


_WARNING = "compiled torch host scans unavailable"


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """One build in a fresh cache, shared by the tests below (it takes about 15 s)."""
    cache = tmp_path_factory.mktemp("hostscan") / "new" / "cache"
    return native_build_checks.first_build(_PROBE, {}, "loaded True", "torch-hostscan", cache)


@pytest.fixture(scope="module")
def fallback_numbers(tmp_path_factory):
    """The numbers of the Python scans (the switch off)."""
    out = native_build_checks.fresh_process(_PROBE, {hostscan.ENV_SWITCH: "0",
                                                     "OPTBRIDGE_CACHE_DIR": str(tmp_path_factory.mktemp("off"))})
    assert "loaded False" in out.stdout, out.stderr
    return out.stdout.splitlines()[-1]


def test_switched_off_by_the_environment_variable(tmp_path):
    native_build_checks.switched_off_builds_nothing(_PROBE, {}, hostscan.ENV_SWITCH, "loaded False", tmp_path)


def test_a_failing_build_warns_once_and_scans_in_python(tmp_path):
    native_build_checks.failing_build_warns_once(_PROBE, {}, hostscan.ENV_SWITCH, "loaded False", _WARNING, tmp_path)


def test_the_build_is_cached_across_processes(build, fallback_numbers):
    native_build_checks.build_is_cached_across_processes(_PROBE, {}, "loaded True", build)
    assert build.numbers == fallback_numbers  # the compiled scans change no number


@pytest.mark.parametrize("how", native_build_checks.PLANTINGS)
def test_a_planted_library_is_not_loaded(build, fallback_numbers, how, tmp_path):
    native_build_checks.planted_library_is_not_loaded(_PROBE, {}, "loaded False", _WARNING, build, fallback_numbers,
                                                      how, tmp_path)


def test_the_prebuild_entry_point_finds_the_library_the_optimizer_uses(build):
    env = {**os.environ, "OPTBRIDGE_CACHE_DIR": str(build.entry.parent)}
    ahead = subprocess.run([sys.executable, "-m", "optbridge.backends.torch.hostscan"], capture_output=True,
                           text=True, env=env, timeout=300)
    assert ahead.returncode == 0, ahead.stderr
    assert ahead.stdout.strip().endswith(f": {build.library}") and "compiling" not in ahead.stderr, ahead.stdout
    off = subprocess.run([sys.executable, "-m", "optbridge.backends.torch.hostscan"], capture_output=True,
                         text=True, env={**env, hostscan.ENV_SWITCH: "off"}, timeout=300)
    assert off.returncode == 1 and "switched off (OPTBRIDGE_TORCH_HOSTSCAN=off)" in off.stdout, off.stdout
