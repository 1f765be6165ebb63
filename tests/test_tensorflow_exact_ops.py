"""The TensorFlow kernels' single-pass ops, fused RMSProp, skipped decay passes, per-variable XLA, eager calls.

Numbers are compared with the NumPy reference backend run on the same gradients (an
independent implementation of the canonical op order) or with NumPy evaluating the
documented formula; bitwise wherever the kernel claims the canonical roundings.
"""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import optbridge  # noqa: E402
from optbridge.algorithms import Adagrad, Adam, RMSProp  # noqa: E402
from optbridge.dialects.keras import optimizers as K  # noqa: E402
from optbridge.plugin import get_backend  # noqa: E402
from optbridge.schedules.values import Constant  # noqa: E402
from optbridge.spec import OptimizerSpec  # noqa: E402
from optbridge.backends.tensorflow import fast_paths  # noqa: E402
from optbridge.backends.tensorflow import ops as tf_ops  # noqa: E402
from optbridge.backends.tensorflow.optimizer import TensorFlowOptimizer  # noqa: E402

SHAPES = {"conv/kernel": (3, 3, 4, 8), "dense/kernel": (40, 17), "dense/bias": (17,), "norm/gamma": (5,)}
DTYPES = ["float32", "float64"]


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def _assert_bitwise(got, want, msg=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, msg
    same = _bits(got) == _bits(want)
    assert same.all(), f"{msg}: {int((~same).sum())} of {same.size} elements differ"


def _random(n, dtype, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * scale).astype(dtype)


def _run_both(spec, dtype, steps=8, seed=11, **options):
    """Step the TF optimizer and the NumPy reference on the same gradients; return both.

    The TensorFlow-op kernels are under test here, so optbridge's native ops are off
    unless a test asks for them (they have their own tests: test_tensorflow_native.py).
    """
    options.setdefault("native", False)
    rng = np.random.default_rng(seed)
    values = {n: rng.standard_normal(s).astype(dtype) for n, s in SHAPES.items()}
    ref = {n: v.copy() for n, v in values.items()}
    params = {n: tf.Variable(v) for n, v in values.items()}
    opt = TensorFlowOptimizer(spec, list(params.items()), get_backend("tensorflow").kernels, **options)
    ref_opt = optbridge.build(spec, ref, backend="numpy")
    for _ in range(steps):
        grads = {n: (rng.standard_normal(s) * 0.1).astype(dtype) for n, s in SHAPES.items()}
        opt.step({n: tf.constant(g) for n, g in grads.items()})
        ref_opt.step(grads)
    return opt, params, ref_opt, ref


# -- the single-pass building blocks against the formulas they stand for ----------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_sub_scaled_and_add_scaled_round_like_the_written_formula(dtype):
    p, d = _random(10_001, dtype, seed=1), _random(10_001, dtype, 1e-2, seed=2)
    t = np.dtype(dtype).type
    var = tf.Variable(p)
    assert tf_ops.sub_scaled_(var, tf.constant(d), tf.constant(t(1.25e-3))) is var
    _assert_bitwise(var.numpy(), p - d * t(1.25e-3), "sub_scaled_")
    for c in (t(0.1), t(1e-3), t(0.9)):
        var = tf.Variable(p)
        assert tf_ops.add_scaled_(var, tf.constant(d) - var, tf.constant(c)) is var
        _assert_bitwise(var.numpy(), p + (d - p) * c, f"add_scaled_ c={c}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_divide_descend_reads_but_does_not_write_the_accumulator(dtype):
    t = np.dtype(dtype).type
    p, n, v = _random(10_001, dtype, seed=3), _random(10_001, dtype, 1e-2, seed=4), np.abs(_random(10_001, dtype, 1e-3, 5))
    var, acc = tf.Variable(p), tf.Variable(v)
    fast_paths.divide_descend(var, tf.constant(t(3e-3)), tf.constant(n), acc, tf.constant(t(1e-7)))
    _assert_bitwise(var.numpy(), p - (t(3e-3) * n) / (np.sqrt(v) + t(1e-7)), "p")
    _assert_bitwise(acc.numpy(), v, "accumulator")


# -- kernels that use them: against the NumPy reference ----------------------------------------
def _assert_matches(params, ref, exact):
    """Bitwise; or, where a graph divides by a square root, within rounding: Grappler's
    arithmetic optimizer rewrites ``x / sqrt(y)`` into ``x * rsqrt(y)`` in the step function
    (as in Keras's own ``tf.function`` steps)."""
    for n in SHAPES:
        if exact:
            _assert_bitwise(params[n].numpy(), ref[n], n)
        else:
            rtol = 1e-5 if ref[n].dtype == np.float32 else 1e-13
            np.testing.assert_allclose(params[n].numpy(), ref[n], rtol=rtol, atol=rtol * 0.1, err_msg=n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make,exact", [
    (lambda: K.SGD(0.01, momentum=0.9), True),
    (lambda: K.SGD(0.01, momentum=0.9, nesterov=True, weight_decay=0.01), True),
    (lambda: K.SGD(0.01, weight_decay=0.01), True),
    (lambda: K.Adam(0.01), True),
    (lambda: K.Adam(0.01, amsgrad=True, weight_decay=0.02), True),
    (lambda: K.AdamW(0.01, weight_decay=0.004), True),
    (lambda: K.RMSprop(0.01, momentum=0.5), False),
    (lambda: K.Adagrad(0.01, weight_decay=0.01), False),
], ids=["sgd-momentum", "sgd-nesterov-wd", "sgd-wd", "adam", "adam-amsgrad-wd", "adamw", "rmsprop-momentum",
        "adagrad-wd"])
def test_keras_forms_match_numpy(make, exact, dtype):
    _, params, _, ref = _run_both(make().to_canonical(), dtype)
    _assert_matches(params, ref, exact)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alg,exact", [
    (RMSProp(alpha=0.9, eps=1e-6), True),  # torch, no momentum: ResourceApplyAdagradV2(update_slots=False)
    (RMSProp(alpha=0.9, eps=1e-6, momentum=0.8), True),  # torch with momentum: ResourceApplyMomentum
    (RMSProp(alpha=0.9, eps=1e-6, momentum=0.8, eps_placement="inside", lr_placement="inside", arithmetic="keras"),
     False),  # ResourceApplyMomentum with lr = 1 after (g·lr)/sqrt(v + eps)
    (RMSProp(alpha=0.9, eps=1e-6, eps_placement="inside", lr_placement="inside", arithmetic="mindspore"), False),
    (Adagrad(lr_decay=0.01, eps=1e-8), True),  # torch: ResourceApplyAdagradV2
    (Adagrad(eps_placement="none", initial_accumulator_value=0.1), True),  # MindSpore: the same op with eps = 0
    (Adagrad(eps_placement="none", initial_accumulator_value=0.1, update_slots=False), False),
    (Adam(eps_placement="paper", power_form="pow", moment_form="torch", weight_decay_form="decoupled"), True),
    (Adam(nesterov=True, moment_form="keras"), True),
], ids=["rmsprop-torch", "rmsprop-torch-momentum", "rmsprop-keras-momentum", "rmsprop-mindspore-no-momentum",
        "adagrad-torch", "adagrad-mindspore", "adagrad-no-update", "adam-torch-paper", "adam-keras-nesterov"])
def test_compiled_kernels_match_numpy(alg, exact, dtype):
    spec = OptimizerSpec(algorithm=alg, lr=Constant(0.01), weight_decay=Constant(0.01), precision=dtype)
    _, params, _, ref = _run_both(spec, dtype)
    _assert_matches(params, ref, exact)


def test_mindspore_rmsprop_with_momentum_runs_the_fused_op_bitwise():
    alg = RMSProp(alpha=0.9, eps=1e-10, momentum=0.9, eps_placement="inside", initial_square_avg=1.0,
                  lr_placement="inside", arithmetic="mindspore")
    spec = OptimizerSpec(algorithm=alg, lr=Constant(0.01), weight_decay=Constant(1e-3), precision="float32")
    opt, params, _, ref = _run_both(spec, "float32")
    assert opt.fused_buckets == 1
    for n in SHAPES:
        _assert_bitwise(params[n].numpy(), ref[n], n)
    # the centered form is not fused: TF's op does not skip elements whose s + eps <= 0
    centered = OptimizerSpec(algorithm=RMSProp(momentum=0.9, centered=True, eps_placement="inside",
                                               lr_placement="inside", arithmetic="mindspore"),
                             lr=Constant(0.01), precision="float32")
    assert _run_both(centered, "float32", steps=1)[0].fused_buckets == 0
    # float64 host scalars: the op would form 1 - rho in float32
    assert _run_both(OptimizerSpec(algorithm=alg, lr=Constant(0.01), precision="float64"), "float32",
                     steps=1)[0].fused_buckets == 0


def test_a_statically_zero_keras_weight_decay_runs_no_decay_pass():
    # The canonical step 0 is skipped when wd == 0: an infinite weight stays infinite
    # (p − (p·0)·lr would make it NaN), as in the NumPy reference.
    spec = K.Adam(0.01).to_canonical()
    values = {"w": np.array([np.inf, 1.0, -2.0], np.float32)}
    ref = {"w": values["w"].copy()}
    var = tf.Variable(values["w"])
    opt = optbridge.build(spec, {"w": var})
    ref_opt = optbridge.build(spec, ref, backend="numpy")
    for _ in range(3):
        g = np.array([0.5, -0.25, 1.0], np.float32)
        opt.step({"w": tf.constant(g)})
        ref_opt.step({"w": g})
    _assert_bitwise(var.numpy(), ref["w"], "w")
    assert np.isinf(var.numpy()[0])


def test_weight_decay_excluded_by_name_still_decays_the_others():
    spec = K.AdamW(0.01, weight_decay=0.1, exclude_from_weight_decay=["bias", "gamma"]).to_canonical()
    _, params, _, ref = _run_both(spec, "float32")
    for n in SHAPES:
        _assert_bitwise(params[n].numpy(), ref[n], n)


# -- XLA: one cluster per variable -------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: K.Adam(0.01), lambda: K.RMSprop(0.01, momentum=0.5, centered=True),
                                  lambda: K.Adagrad(0.01, weight_decay=0.01)], ids=["adam", "rmsprop", "adagrad"])
def test_xla_runs_each_variable_as_its_own_cluster_within_rounding(make):
    opt, params, _, ref = _run_both(make().to_canonical(), "float32", jit_compile=True)
    for n in SHAPES:
        # XLA on CPU contracts a·b + c into fused multiply-adds: within float32 rounding
        np.testing.assert_allclose(params[n].numpy(), ref[n], rtol=1e-5, atol=1e-6, err_msg=n)
    assert opt.trace_count == 1


# -- eager calls go to the one concrete function ------------------------------------------------
def test_eager_steps_mixed_with_steps_inside_a_tf_function_trace_once():
    spec = K.Adam(0.01).to_canonical()
    rng = np.random.default_rng(5)
    values = {n: rng.standard_normal(s).astype("float32") for n, s in SHAPES.items()}
    ref = {n: v.copy() for n, v in values.items()}
    params = {n: tf.Variable(v) for n, v in values.items()}
    opt = optbridge.build(spec, params)
    ref_opt = optbridge.build(spec, ref, backend="numpy")
    grads = {n: (rng.standard_normal(s) * 0.1).astype("float32") for n, s in SHAPES.items()}
    tensors = {n: tf.constant(g) for n, g in grads.items()}
    compiled = tf.function(lambda: opt.step(tensors))
    for i in range(6):
        opt.step(tensors) if i % 2 else compiled()
        ref_opt.step(grads)
    assert opt.global_step == 6 and opt.trace_count == 1
    for n in SHAPES:
        _assert_bitwise(params[n].numpy(), ref[n], n)


def test_eager_step_checks_gradients_before_the_fast_path():
    params = {n: tf.Variable(np.zeros(s, "float32")) for n, s in SHAPES.items()}
    opt = optbridge.build(K.SGD(0.1), params)
    good = {n: tf.ones(s) for n, s in SHAPES.items()}
    opt.step(good)
    with pytest.raises(optbridge.errors.StepInputError, match="dense/bias.*shape"):
        opt.step({**good, "dense/bias": tf.ones((16,))})
    with pytest.raises(optbridge.errors.StepInputError, match="dense/bias.*dtype"):
        opt.step({**good, "dense/bias": tf.ones((17,), tf.float64)})
    opt.step({n: np.ones(s, "float32") for n, s in SHAPES.items()})  # arrays are converted
    assert opt.global_step == 2
    np.testing.assert_array_equal(params["dense/bias"].numpy(), np.full(17, -0.2, "float32"))
