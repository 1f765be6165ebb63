"""Every installed backend runs canonical ``lion`` as the NumPy reference does.

Same spec (two groups with their own lr and weight decay), same float64 initial values
and gradient stream converted in NumPy (so every backend sees the same bits), 24 steps;
parameters after every step and the neutral ``state_dict()`` momentum at the end are
compared with the NumPy run of the same dtype: float64 within ``1e-12`` relative
(``max|x − r| / max|r|``), float32 within ``1e-6 + 1e-5·|r|`` element-wise. The torch
backend runs on each of its paths: reference, compiled, and auto (which for Lion, having
no native torch kernel, is the compiled path) with flat buffers and compilation forced. jax runs where its plugin is importable
(``PYTHONPATH=plugins/optbridge-jax/src JAX_ENABLE_X64=1``).
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import optbridge
from optbridge import plugin
from test_lion import SHAPES, gradients, initial_params, spec_for

STEPS = 24
FORMS = [("decoupled", False), ("keras", False), ("decoupled", True), ("keras", True)]


def _installed(name: str) -> bool:
    try:
        return name in plugin.backends()
    except Exception:
        return False


def numpy_run(spec, dtype):
    params = {n: v.astype(dtype) for n, v in initial_params().items()}
    opt = optbridge.build(spec, params, backend="numpy")
    history = []
    for grads in gradients(STEPS):
        opt.step({n: g.astype(dtype) for n, g in grads.items()})
        history.append({n: v.copy() for n, v in params.items()})
    return history, opt.state_dict()


def backend_run(backend, build, spec, dtype):
    """``build(spec, params)`` on ``backend``'s own tensors, stepped through its conversion hooks."""
    params = backend.make_params(initial_params(), dtype)
    opt = build(spec, params)
    history = []
    for grads in gradients(STEPS):
        returned = opt.step(backend.grads_from_numpy({n: g.astype(dtype) for n, g in grads.items()}, params))
        if backend.functional:
            params = returned
        history.append(backend.to_numpy(params))
    return history, opt.state_dict()


def assert_close(got, want, dtype, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype == np.dtype(dtype), what
    if dtype == "float64":
        scale = float(np.max(np.abs(want)))
        dev = float(np.max(np.abs(got - want)))
        assert dev <= 1e-12 * scale, f"{what}: relative deviation {dev / scale:.3e} > 1e-12"
    else:
        limit = 1e-6 + 1e-5 * np.abs(want.astype(np.float64))
        dev = np.abs(got.astype(np.float64) - want.astype(np.float64))
        assert np.all(dev <= limit), f"{what}: deviation {dev.max():.3e} exceeds 1e-6 + 1e-5·|r|"


def compare(got, want, dtype) -> float:
    """Assert agreement; return the share of bit-identical parameter elements over all steps."""
    (hist, sd), (ref_hist, ref_sd) = got, want
    equal = total = 0
    for step, (values, ref) in enumerate(zip(hist, ref_hist)):
        for name in SHAPES:
            assert_close(values[name], ref[name], dtype, f"{name} after step {step}")
            equal += int(np.sum(values[name] == ref[name]))
            total += ref[name].size
    assert sd["global_step"] == ref_sd["global_step"] == STEPS
    for name in SHAPES:
        assert_close(sd["state"][name]["momentum"], ref_sd["state"][name]["momentum"], dtype, f"{name} momentum")
    return equal / total


BACKENDS = [name for name in ("tensorflow", "jax") if _installed(name)]


@pytest.mark.parametrize("form,maximize", FORMS, ids=[f"{f}-{'max' if m else 'min'}" for f, m in FORMS])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", BACKENDS)
def test_backend_matches_numpy(name, dtype, form, maximize):
    backend = plugin.get_backend(name)
    if dtype not in backend.dtypes:
        pytest.skip(f"{name} does not run {dtype} here (jax: JAX_ENABLE_X64=1)")
    spec = spec_for(form, maximize)
    got = backend_run(backend, lambda s, p: backend.build(s, p, backend.kernels), spec, dtype)
    share = compare(got, numpy_run(spec, dtype), dtype)
    print(f"lion {name} {dtype} {form} maximize={maximize}: bit-identical {share:.4f}")


TORCH_PATHS = [("reference", False), ("compiled", False), ("auto", True)]


@pytest.mark.parametrize("form,maximize", FORMS, ids=[f"{f}-{'max' if m else 'min'}" for f, m in FORMS])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("path,flat", TORCH_PATHS, ids=[f"{p}{'-flat' if f else ''}" for p, f in TORCH_PATHS])
def test_torch_path_matches_numpy(path, flat, dtype, form, maximize):
    pytest.importorskip("torch")
    from optbridge.backends.torch import Optimizer, backend as torch_backend

    be = torch_backend()
    spec = spec_for(form, maximize)
    got = backend_run(be, lambda s, p: Optimizer(p, s, path=path, flat=flat, compile_threshold=0), spec, dtype)
    share = compare(got, numpy_run(spec, dtype), dtype)
    print(f"lion torch {path}{' flat' if flat else ''} {dtype} {form} maximize={maximize}: bit-identical {share:.4f}")


def test_torch_keeps_nan_and_zero_sign():
    torch = pytest.importorskip("torch")
    from optbridge.backends.torch import Optimizer
    from optbridge.algorithms import Lion
    from optbridge.schedules import Constant
    from optbridge.spec import OptimizerSpec

    for path in ("reference", "compiled"):
        w = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        opt = Optimizer({"w": w}, OptimizerSpec(Lion(), lr=Constant(0.5)), path=path, compile_threshold=0)
        w.grad = torch.tensor([0.0, float("nan"), -1.0, 1.0])
        opt.step()
        got = w.detach().numpy()
        assert got[0] == 1.0 and np.isnan(got[1]), path
        np.testing.assert_array_equal(got[2:], [3.5, 3.5], err_msg=path)


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None or not _installed("tensorflow"),
                    reason="TensorFlow backend not installed")
def test_tensorflow_step_does_not_retrace_when_lr_changes():
    backend = plugin.get_backend("tensorflow")
    spec = spec_for("keras", False)
    params = backend.make_params(initial_params(), "float32")
    opt = backend.build(spec, params, backend.kernels)
    grads = gradients(6)
    opt.step(backend.grads_from_numpy({n: g.astype("float32") for n, g in grads[0].items()}, params))
    traces = opt.trace_count
    for i, g in enumerate(grads[1:]):
        opt.set_lr(0.01 * (i + 1))
        opt.step(backend.grads_from_numpy({n: v.astype("float32") for n, v in g.items()}, params))
    assert traces >= 1 and opt.trace_count == traces
