"""optbridge's native single-pass TensorFlow ops (``optbridge.backends.tensorflow.native``).

The native kernels evaluate the canonical op order with every operation rounded in the
parameter dtype, which is what the NumPy reference backend does in that dtype: every
conformance case of the three algorithms that have native kernels is run on both, in both
dtypes (gradient centralization off), and the parameters and slots compared bit for bit
after every step. (The
TensorFlow-op kernels are not always bit-identical to it: Grappler rewrites ``x/√y`` as
``x·rsqrt(y)`` inside a ``tf.function``.)
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import native_build_checks  # noqa: E402
import optbridge  # noqa: E402
from optbridge.backends.tensorflow import native  # noqa: E402
from optbridge.backends.tensorflow.optimizer import TensorFlowOptimizer  # noqa: E402
from optbridge.conformance import CASES, run_case, streams  # noqa: E402
from optbridge.dialects.keras import optimizers as K  # noqa: E402
from optbridge.plugin import get_backend  # noqa: E402

NATIVE_ALGORITHMS = ("adam", "rmsprop", "adagrad")
HAS_COMPILER = bool(os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++"))
KERNELS = get_backend("tensorflow").kernels

pytestmark = pytest.mark.skipif(not HAS_COMPILER, reason="no C++ compiler: the native ops cannot be built here")


def _runs_native(case) -> bool:
    """Whether every group of the case has a native kernel for its hyperparameters."""
    spec = optbridge.from_dict(case.config).to_canonical()
    algorithms = [spec.algorithm] + [dataclasses.replace(g.algorithm or spec.algorithm, **g.overrides)
                                     for g in spec.groups or ()]
    for algorithm in algorithms:  # a group's own algorithm (MultiOptimizer) included
        if algorithm.name not in NATIVE_ALGORITHMS:
            return False
        kernel = KERNELS[algorithm.name].load()
        if kernel.native is None or not kernel.can_native(algorithm):
            return False
    return True


def _without_centralization(config):
    """The case with gradient centralization off: its mean is a reduction whose summation
    order differs between TensorFlow and NumPy (the conformance suite's tolerance covers
    it); the kernels then see different gradients, which is not what this test is about."""
    config = dict(config)
    if "params" in config:
        config["params"] = [{**g, "grad_centralization": False} if "grad_centralization" in g else g
                            for g in config["params"]]
    return config


def _native_cases():
    """The cases a native kernel runs, but those whose gradient transforms reduce (a clipping
    norm sums in TensorFlow's order: the kernels would see other gradients, as above)."""
    return [c for c in CASES if c.algorithm in NATIVE_ALGORITHMS and _runs_native(c) and not _clips_by_norm(c)]


def _clips_by_norm(case) -> bool:
    transforms = optbridge.from_dict(case.config).to_canonical().transforms
    return any(t.name in ("clip_by_norm", "clip_by_global_norm") for t in transforms)


def _build(spec, initial, dtype, native_on):
    variables = {n: tf.Variable(np.array(v, dtype=dtype)) for n, v in initial.items()}
    return variables, TensorFlowOptimizer(spec, variables, KERNELS, native=native_on)


def _numpy(spec, initial, dtype):
    backend = get_backend("numpy")
    params = backend.make_params(initial, dtype)
    return params, backend.build(spec, params, backend.kernels)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))


def test_the_library_builds_and_loads_here():
    assert native.load() is not None, native.build_error()
    assert native.build_error() is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", _native_cases(), ids=lambda c: c.id)
def test_native_kernels_equal_the_numpy_reference_in_the_same_dtype_bit_for_bit(case, dtype):
    if dtype not in case.dtypes:
        pytest.skip(f"case runs in {case.dtypes}")
    spec = optbridge.from_dict(_without_centralization(case.config)).to_canonical()
    layout = case.layout_shapes
    initial = streams.initial_params(layout, case.seed)
    variables, opt = _build(spec, initial, dtype, True)
    ref_params, ref = _numpy(spec, initial, dtype)
    assert opt.native_buckets == len(opt._layouts)  # every bucket of these algorithms runs native
    for step in range(case.steps):
        grads = streams.as_dtype(streams.gradients(layout, step, case.seed), dtype)
        opt.step({n: tf.constant(g) for n, g in grads.items()})
        ref.step(grads)
        for n in initial:
            assert _same(variables[n].numpy(), ref_params[n]), f"{n} differs after step {step}"
    ref_state = ref.state_dict()["state"]
    for n in initial:
        for slot in opt._slots[n]:
            assert _same(opt.slot(n, slot).numpy(), np.asarray(ref_state[n][slot], dtype=dtype)), \
                f"slot {slot} of {n} differs"


TF_OPS_BACKEND = dataclasses.replace(
    get_backend("tensorflow"),
    build=lambda spec, params, kernels: TensorFlowOptimizer(spec, params, kernels, native=False))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [c for c in CASES if c.algorithm in NATIVE_ALGORITHMS], ids=lambda c: c.id)
def test_the_tensorflow_op_kernels_still_pass_the_conformance_cases(case, dtype):
    """The fallback (no compiler, ``native=False``, ``jit_compile=True``) keeps its numbers."""
    if dtype not in case.dtypes:
        pytest.skip(f"case runs in {case.dtypes}")
    result = run_case(case, TF_OPS_BACKEND, dtype)
    assert result.status in ("passed", "xfailed"), result.describe()


def test_keras_dialect_adam_adamw_rmsprop_adagrad_run_native_by_default():
    variables = {"w": tf.Variable(tf.ones([3, 2])), "b": tf.Variable(tf.zeros([2]))}
    for spec in (K.Adam(learning_rate=0.01), K.AdamW(learning_rate=0.01), K.RMSprop(), K.Adagrad()):
        opt = optbridge.build(spec, variables)
        assert opt.native_buckets >= 1, type(spec).__name__


def test_jit_compile_true_and_native_false_use_tensorflow_ops():
    variables = {"w": tf.Variable(tf.ones([4]))}
    spec = K.Adam(learning_rate=0.01).to_canonical()
    assert TensorFlowOptimizer(spec, variables, KERNELS, jit_compile=True).native_buckets == 0
    assert TensorFlowOptimizer(spec, variables, KERNELS, native=False).native_buckets == 0
    assert TensorFlowOptimizer(spec, variables, KERNELS).native_buckets == 1


def test_a_value_read_before_the_step_is_not_changed_by_it():
    """The op copies a slot whose buffer a read still holds (copy-on-write, as TF's own ops)."""
    variables = {"w": tf.Variable(tf.ones([1000]))}
    opt = TensorFlowOptimizer(K.Adam(learning_rate=0.1).to_canonical(), variables, KERNELS)
    assert opt.native_buckets == 1
    opt.step({"w": tf.ones([1000])})
    held_m = opt.slot("w", "exp_avg").read_value()
    held_w = variables["w"].read_value()
    before_m, before_w = held_m.numpy().copy(), held_w.numpy().copy()
    opt.step({"w": tf.ones([1000])})
    assert np.array_equal(held_m.numpy(), before_m) and np.array_equal(held_w.numpy(), before_w)
    assert not np.array_equal(opt.slot("w", "exp_avg").numpy(), before_m)


def test_the_op_rejects_mismatched_shapes_dtypes_and_a_short_scalar_vector():
    ops = native.load()
    var, acc = tf.Variable(tf.ones([3])), tf.Variable(tf.ones([3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="shapes differ"):
        ops.optbridge_adagrad(var=var.handle, sum=acc.handle, grad=tf.ones([4]), scalars=tf.ones([5]),
                              eps_placement="outside")
    with pytest.raises(tf.errors.InvalidArgumentError, match="vector of 5"):
        ops.optbridge_adagrad(var=var.handle, sum=acc.handle, grad=tf.ones([3]), scalars=tf.ones([4]),
                              eps_placement="outside")
    with pytest.raises(tf.errors.InvalidArgumentError, match="dtype is double"):
        wide = tf.Variable(tf.ones([3], tf.float64))
        ops.optbridge_adagrad(var=wide.handle, sum=acc.handle, grad=tf.ones([3]), scalars=tf.ones([5]),
                              eps_placement="outside")
    assert np.array_equal(var.numpy(), np.ones(3)) and np.array_equal(acc.numpy(), np.ones(3))


_PROBE = """
    import warnings
    warnings.simplefilter("always")
    import tensorflow as tf, optbridge
    from optbridge.backends.tensorflow import native
    from optbridge.dialects.keras import optimizers as K
    with warnings.catch_warnings(record=True) as caught:
        opt = optbridge.build(K.Adam(learning_rate=0.1), {"w": tf.Variable(tf.ones([4]))})
    opt.step({"w": tf.ones([4])})
    print("native_buckets", opt.native_buckets)
    print("error", native.build_error())
    print("warnings", [str(w.message) for w in caught if "native" in str(w.message)])
    print("w", opt._vars["w"].numpy().tolist())
"""


_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
_WARNING = "native TensorFlow kernels unavailable"


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """One build in a fresh cache, shared by the tests below (it takes about 20 s)."""
    cache = tmp_path_factory.mktemp("tf-native") / "new" / "cache"
    return native_build_checks.first_build(_PROBE, _ENV, "native_buckets 1", "tf-native", cache)


@pytest.fixture(scope="module")
def fallback_numbers(tmp_path_factory):
    """The numbers of the TensorFlow-op kernels (the switch off)."""
    out = native_build_checks.fresh_process(_PROBE, {**_ENV, native.ENV_SWITCH: "0",
                                                     "OPTBRIDGE_CACHE_DIR": str(tmp_path_factory.mktemp("off"))})
    assert "native_buckets 0" in out.stdout, out.stderr
    return out.stdout.splitlines()[-1]


def test_switched_off_by_the_environment_variable(tmp_path):
    native_build_checks.switched_off_builds_nothing(_PROBE, _ENV, native.ENV_SWITCH, "native_buckets 0", tmp_path)


def test_a_failing_build_warns_once_and_falls_back_to_tensorflow_ops(tmp_path):
    native_build_checks.failing_build_warns_once(_PROBE, _ENV, native.ENV_SWITCH, "native_buckets 0", _WARNING,
                                                 tmp_path)


def test_the_build_is_cached_across_processes(build, fallback_numbers):
    native_build_checks.build_is_cached_across_processes(_PROBE, _ENV, "native_buckets 1", build)
    assert build.numbers == fallback_numbers  # Adam's TF-op kernel has no x/sqrt(y) for Grappler to rewrite


# The checks are optbridge.native_build's, tested on every planting in test_native_build.py
# and test_torch_hostscan.py; two show that the op library goes through them too.
@pytest.mark.parametrize("how", ["world-writable-1777-cache-by-another-user", "wrong-hash-record"])
def test_a_planted_library_is_not_loaded(build, fallback_numbers, how, tmp_path):
    native_build_checks.planted_library_is_not_loaded(_PROBE, _ENV, "native_buckets 0", _WARNING, build,
                                                      fallback_numbers, how, tmp_path)


def test_the_prebuild_entry_point_finds_the_library_the_optimizer_uses(build):
    env = {**os.environ, **_ENV, "OPTBRIDGE_CACHE_DIR": str(build.entry.parent)}
    ahead = subprocess.run([sys.executable, "-m", "optbridge.backends.tensorflow.native"], capture_output=True,
                           text=True, env=env, timeout=300)
    assert ahead.returncode == 0, ahead.stderr
    assert ahead.stdout.strip().endswith(f": {build.library}") and "compiling" not in ahead.stderr, ahead.stdout
