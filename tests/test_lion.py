"""Canonical ``lion`` and its NumPy reference kernel against an independent re-derivation.

The re-derivation below is written from the paper (Chen et al. 2023, Algorithm 2) and
Keras 3's ``Lion.update_step`` / ``BaseOptimizer._apply_weight_decay``, one element at a
time in plain Python with NumPy scalars, every operation rounded in the parameter dtype
(host scalars in the spec's precision, as the engine computes them). It shares no code
with the kernel.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import optbridge
from optbridge.algorithms import Lion, algorithm_registry
from optbridge.algorithms.base import HostStep
from optbridge.schedules import Constant
from optbridge.spec import GroupSpec, OptimizerSpec

SHAPES = {"dense.kernel": (3, 4), "dense.bias": (4,), "out.kernel": (4, 2)}
GROUPS = ((["dense.kernel", "dense.bias"], 0.02, 0.05), (["out.kernel"], 0.005, 0.3))
STEPS = 24


def initial_params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(s) for n, s in SHAPES.items()}


def gradients(steps: int, seed: int = 1) -> list[dict[str, np.ndarray]]:
    """Gradient stream with exact zeros mixed in (``sign(0)`` and ``m = 0`` both occur)."""
    rng = np.random.default_rng(seed)
    out = []
    for step in range(steps):
        grads = {n: rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2) for n, s in SHAPES.items()}
        if step % 4 == 0:
            grads["dense.bias"][:2] = 0.0
        out.append(grads)
    return out


def spec_for(form: str, maximize: bool = False, precision: str = "float64", beta_1: float = 0.9,
             beta_2: float = 0.99) -> OptimizerSpec:
    groups = tuple(GroupSpec(params=names, lr=Constant(lr), weight_decay=Constant(wd), source_index=i)
                   for i, (names, lr, wd) in enumerate(GROUPS))
    return OptimizerSpec(Lion(beta_1=beta_1, beta_2=beta_2, weight_decay_form=form, maximize=maximize),
                         lr=Constant(1e-3), weight_decay=Constant(0.0), groups=groups, precision=precision)


def rederive(params0, grad_stream, form, maximize, dtype, precision, beta_1=0.9, beta_2=0.99):
    """Lion, element by element: returns ``(params, momentum)`` as ``{name: ndarray}``."""
    T = np.dtype(dtype).type
    H = np.float32 if precision == "float32" else float
    params = {n: [T(x) for x in v.ravel()] for n, v in params0.items()}
    moms = {n: [T(0.0) for _ in v.ravel()] for n, v in params0.items()}
    b1, b2 = H(beta_1), H(beta_2)
    omb1, omb2 = H(1.0) - b1, H(1.0) - b2
    for grads in grad_stream:
        for names, lr, wd in GROUPS:
            lr_h, wd_h = H(lr), H(wd)
            decay = 1.0 - float(lr_h) * float(wd_h)
            lr_t, wd_t, decay_t = T(float(lr_h)), T(float(wd_h)), T(decay)
            for name in names:
                p, m = params[name], moms[name]
                for i, g in enumerate(grads[name].astype(dtype).ravel()):
                    g = T(-g) if maximize else T(g)
                    x = p[i]
                    if form == "decoupled":
                        x = x * decay_t
                    else:
                        x = x - (x * wd_t) * lr_t
                    c = m[i] * T(float(b1)) + g * T(float(omb1))
                    u = T(1.0) if c > 0 else T(-1.0) if c < 0 else (c if math.isnan(c) else T(0.0))
                    p[i] = x - lr_t * u
                    m[i] = m[i] * T(float(b2)) + g * T(float(omb2))
    shape = {n: v.shape for n, v in params0.items()}
    return ({n: np.array(v, dtype=dtype).reshape(shape[n]) for n, v in params.items()},
            {n: np.array(v, dtype=dtype).reshape(shape[n]) for n, v in moms.items()})


def run_numpy(spec, params0, grad_stream, dtype):
    params = {n: v.astype(dtype) for n, v in params0.items()}
    opt = optbridge.build(spec, params, backend="numpy")
    for grads in grad_stream:
        opt.step({n: g.astype(dtype) for n, g in grads.items()})
    return params, opt


# -- the algorithm ---------------------------------------------------------------------------
def test_registered_with_keras_defaults_and_one_zero_slot():
    assert algorithm_registry["lion"] is Lion
    alg = Lion()
    assert (alg.beta_1, alg.beta_2, alg.weight_decay_form, alg.maximize) == (0.9, 0.99, "decoupled", False)
    assert [(s.name, s.init) for s in alg.slots()] == [("momentum", 0.0)]
    assert alg.weight_decay_applied_by == "rule"
    assert Lion(weight_decay_form="keras").weight_decay_applied_by == "rule"


@pytest.mark.parametrize("form", ["coupled", "adamw", ""])
def test_refuses_unknown_weight_decay_forms(form):
    with pytest.raises(ValueError, match=r"canonical 'lion': weight_decay_form must be one of \['decoupled', 'keras'\]"):
        Lion(weight_decay_form=form)


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_host_scalars_in_precision(precision):
    scalars, state = Lion(beta_1=0.95, beta_2=0.98).host_scalars({}, HostStep(lr=0.01, weight_decay=0.2, step=3),
                                                                  precision)
    t = np.float32 if precision == "float32" else np.float64
    assert scalars["beta_1"] == float(t(0.95)) and scalars["beta_2"] == float(t(0.98))
    assert scalars["one_minus_beta_1"] == float(t(1.0) - t(0.95))
    assert scalars["one_minus_beta_2"] == float(t(1.0) - t(0.98))
    assert scalars["decay"] == 1.0 - 0.01 * 0.2
    assert (scalars["lr"], scalars["weight_decay"]) == (0.01, 0.2)
    assert state == {}
    keras, _ = Lion(weight_decay_form="keras").host_scalars({}, HostStep(lr=0.01, weight_decay=0.2, step=1), precision)
    assert "decay" not in keras


def test_per_group_override_and_maximize():
    spec = OptimizerSpec(Lion(beta_1=0.8, weight_decay_form="keras", maximize=True), lr=Constant(0.01),
                         groups=(GroupSpec(params="a", overrides={"beta_2": 0.5}), GroupSpec(params="*", source_index=1)))
    params = {"a": np.ones(3), "b": np.ones(2)}
    opt = optbridge.build(spec, params, backend="numpy")
    opt.step({"a": np.full(3, 2.0), "b": np.full(2, 2.0)})
    sd = opt.state_dict()
    # maximize: g = -2; momentum = (1 - beta_2)·g with each group's beta_2
    np.testing.assert_array_equal(sd["state"]["a"]["momentum"], np.full(3, 0.5 * -2.0))
    np.testing.assert_array_equal(sd["state"]["b"]["momentum"], np.full(2, (1.0 - 0.99) * -2.0))


# -- the NumPy kernel against the re-derivation ------------------------------------------------
@pytest.mark.parametrize("maximize", [False, True], ids=["min", "max"])
@pytest.mark.parametrize("form", ["decoupled", "keras"])
@pytest.mark.parametrize("dtype,precision", [("float64", "float64"), ("float32", "float32"), ("float32", "float64")])
def test_numpy_kernel_matches_rederivation_bit_for_bit(form, maximize, dtype, precision):
    params0, stream = initial_params(), gradients(STEPS)
    params, opt = run_numpy(spec_for(form, maximize, precision), params0, stream, dtype)
    want_p, want_m = rederive(params0, stream, form, maximize, dtype, precision)
    state = opt.state_dict()["state"]
    for name in SHAPES:
        np.testing.assert_array_equal(params[name], want_p[name], err_msg=name)
        np.testing.assert_array_equal(state[name]["momentum"], want_m[name], err_msg=name)
    assert opt.global_step == STEPS


def test_groups_differ_and_weight_decay_moves_parameters():
    params0, stream = initial_params(), gradients(STEPS)
    no_decay = OptimizerSpec(Lion(), lr=Constant(0.02), weight_decay=Constant(0.0))
    with_decay = OptimizerSpec(Lion(), lr=Constant(0.02), weight_decay=Constant(0.5))
    a, _ = run_numpy(no_decay, params0, stream, "float64")
    b, _ = run_numpy(with_decay, params0, stream, "float64")
    assert all(np.abs(b[n]).sum() < np.abs(a[n]).sum() for n in SHAPES)


def test_sign_of_zero_is_zero_and_nan_propagates():
    params = {"w": np.array([1.0, 2.0, 3.0])}
    opt = optbridge.build(OptimizerSpec(Lion(), lr=Constant(0.1)), params, backend="numpy")
    opt.step({"w": np.array([0.0, -4.0, np.nan])})
    assert params["w"][0] == 1.0 and params["w"][1] == 2.0 + 0.1
    assert np.isnan(params["w"][2])


def test_update_magnitude_is_lr_whatever_the_gradient_scale():
    params = {"w": np.zeros(4)}
    opt = optbridge.build(OptimizerSpec(Lion(), lr=Constant(0.25)), params, backend="numpy")
    opt.step({"w": np.array([1e-30, -1e30, 3.0, -1e-3])})
    np.testing.assert_array_equal(params["w"], [-0.25, 0.25, -0.25, 0.25])


def test_numpy_reference_steps_a_0d_parameter_as_a_one_element_vector():
    """A 0-d parameter runs the same op order as a one-element 1-d one, bit for bit."""
    from optbridge.dialects.keras import optimizers

    spec = optimizers.Lion(learning_rate=0.01, weight_decay=0.1)
    scalar = {"w": np.array(0.75, np.float32)}
    vector = {"w": np.array([0.75], np.float32)}
    opt_scalar, opt_vector = optbridge.build(spec, scalar), optbridge.build(spec, vector)
    for g in (0.5, -0.25, 1e-3):
        opt_scalar.step({"w": np.array(g, np.float32)})
        opt_vector.step({"w": np.array([g], np.float32)})
    assert scalar["w"].shape == () and scalar["w"].tobytes() == vector["w"].tobytes()
    assert opt_scalar.state_dict()["state"]["w"]["momentum"].tobytes() == \
        opt_vector.state_dict()["state"]["w"]["momentum"].tobytes()
