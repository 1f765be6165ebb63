"""The TensorFlow backend: plugin registration, kernels, tracing, GradientTape loops, neutral state.

Numbers are checked against the NumPy reference backend run on the same gradients
(an independent implementation of the canonical op order), never against values taken
from the code under test. The full conformance suite runs on this backend through
``tests/test_conformance.py`` (every installed backend, float32 and float64); here a
sample is also required to be bitwise equal to NumPy.
"""
from __future__ import annotations

import contextlib
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import optbridge  # noqa: E402
from optbridge.algorithms import Adam, SGD  # noqa: E402
from optbridge.conformance import CASES, run_case  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.errors import BackendError, SpecTypeError, StepInputError  # noqa: E402
from optbridge.plugin import get_backend  # noqa: E402
from optbridge.schedules.values import Constant  # noqa: E402
from optbridge.spec import OptimizerSpec  # noqa: E402
from optbridge.backends.tensorflow import kernels as tf_kernels  # noqa: E402
from optbridge.backends.tensorflow.kernels.base import Kernel  # noqa: E402
from optbridge.backends.tensorflow.optimizer import TensorFlowOptimizer  # noqa: E402

RNG = np.random.default_rng(7)
SHAPES = {"conv.weight": (4, 3, 3, 3), "bn.gamma": (4,), "fc.weight": (10, 4), "fc.bias": (10,)}


def initial(dtype="float32"):
    return {n: RNG.standard_normal(s).astype(dtype) for n, s in SHAPES.items()}


def gradient_stream(steps, dtype="float32", seed=3):
    rng = np.random.default_rng(seed)
    return [{n: rng.standard_normal(s).astype(dtype) for n, s in SHAPES.items()} for _ in range(steps)]


def tf_params(values):
    return {n: tf.Variable(v) for n, v in values.items()}


def assert_same_as_numpy(spec, steps=6, dtype="float32", exact=True):
    values = initial(dtype)
    ref = {n: v.copy() for n, v in values.items()}
    params = tf_params(values)
    opt = optbridge.build(spec, params)
    ref_opt = optbridge.build(spec, ref, backend="numpy")
    for grads in gradient_stream(steps, dtype):
        opt.step({n: tf.constant(g) for n, g in grads.items()})
        ref_opt.step(grads)
    for n in SHAPES:
        if exact:
            np.testing.assert_array_equal(params[n].numpy(), ref[n], err_msg=n)
        else:
            np.testing.assert_allclose(params[n].numpy(), ref[n], rtol=1e-6, atol=1e-7, err_msg=n)
    return opt


# -- registration ------------------------------------------------------------------------
def test_listing_backends_does_not_import_tensorflow():
    script = ("import sys, optbridge; b = optbridge.plugin.backends(); "
              "print('tensorflow' in b, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]


def test_backend_record_and_entry_point():
    from importlib import metadata

    eps = {ep.name: ep.value for ep in metadata.entry_points(group="optbridge")}
    assert eps.get("tensorflow") == "optbridge.backends.tensorflow"
    backend = get_backend("tensorflow")
    assert backend.dtypes == ("float32", "float64")
    assert backend.version == tf.__version__
    assert {"sgd", "asgd", "adam", "adam_weight_decay"} <= set(backend.kernels)


def test_every_registered_algorithm_has_a_kernel_or_a_declared_reason():
    assert tf_kernels.missing_kernels() == []
    backend = get_backend("tensorflow")
    from optbridge.algorithms import algorithm_registry

    for name in algorithm_registry:
        assert name in backend.kernels or backend.unsupported.get(name), name


def test_build_detects_tensorflow_variables_and_names_them_by_path():
    a, b = tf.Variable(np.ones(3, np.float32), name="dense/kernel"), tf.Variable(np.ones(2, np.float32), name="dense/bias")
    opt = optbridge.build(nn.SGD([{"params": "*kernel", "lr": 0.5}, {"params": "*"}], 0.1), [a, b])
    assert isinstance(opt, TensorFlowOptimizer)
    assert opt.param_names == ("dense/kernel", "dense/bias")
    opt.apply_gradients([(tf.ones(3), a), (tf.ones(2), b)])
    np.testing.assert_array_equal(a.numpy(), np.float32(1) - np.float32(0.5))
    np.testing.assert_array_equal(b.numpy(), np.float32(1) - np.float32(0.1))


def test_keras_variables_are_named_by_path():
    keras = pytest.importorskip("keras")
    layer = keras.layers.Dense(2, name="head")
    layer.build((None, 3))
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), layer.trainable_variables)
    assert opt.param_names == ("head/kernel", "head/bias")


# -- numbers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: nn.Momentum(None, 0.1, 0.9, weight_decay=1e-3),
    lambda: nn.Momentum(None, 0.1, 0.9, use_nesterov=True),
    lambda: nn.SGD(None, 0.1, momentum=0.9, dampening=0.1, nesterov=False),
    lambda: nn.ASGD(None, 0.05, lambd=1e-2, t0=2.0),
    lambda: nn.Adam(None, nn.WarmUpLR(0.01, 3), use_amsgrad=True),
    lambda: nn.Adam(None, 0.01, use_nesterov=True, loss_scale=4.0),
    lambda: nn.AdamWeightDecay(None, 0.01, weight_decay=0.1),
], ids=["momentum-wd", "momentum-nesterov", "sgd-dampening", "asgd", "adam-amsgrad", "adam-nesterov", "adamw"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bitwise_equal_to_numpy(make, dtype, request):
    # Grappler's arithmetic optimizer rewrites g·lr + (b·μ)·lr (hoisting lr, reordering the
    # scalar products) in the compiled graph; float32 runs TF's fused op, float64 the graph.
    exact = not ("nesterov" in request.node.callspec.id and "momentum" in request.node.callspec.id and dtype == "float64")
    assert_same_as_numpy(make(), dtype=dtype, exact=exact)


def test_fused_ops_are_used_only_where_exact():
    values = tf_params(initial())
    # two buckets: MindSpore's default filter keeps weight decay off bn.gamma
    kernels = get_backend("tensorflow").kernels
    assert TensorFlowOptimizer(nn.Adam(None, 0.01).to_canonical(), values, kernels, native=False).fused_buckets == 2
    # optbridge's native single-pass op is preferred where it is available (one pass, not three)
    default = TensorFlowOptimizer(nn.Adam(None, 0.01).to_canonical(), values, kernels)
    assert default.fused_buckets + default.native_buckets == 2
    # float64 host scalars with float32 variables: TF's op would form 1 − β in float32
    f64 = OptimizerSpec(algorithm=Adam(), lr=Constant(0.01), precision="float64")
    assert TensorFlowOptimizer(f64, values, get_backend("tensorflow").kernels).fused_buckets == 0
    torch_form = OptimizerSpec(algorithm=SGD(momentum=0.9, nesterov=True, nesterov_form="torch"), lr=Constant(0.1))
    assert TensorFlowOptimizer(torch_form, values, get_backend("tensorflow").kernels).fused_buckets == 0


def test_float64_host_scalars_on_float32_variables_match_numpy():
    assert_same_as_numpy(OptimizerSpec(algorithm=Adam(), lr=Constant(0.01), precision="float64"))


@pytest.mark.parametrize("jit", [True, False])
def test_compiled_kernels_with_and_without_xla(jit):
    spec = nn.ASGD(None, 0.05, lambd=1e-2, t0=2.0).to_canonical()
    values = initial()
    ref = {n: v.copy() for n, v in values.items()}
    params = tf_params(values)
    opt = TensorFlowOptimizer(spec, params, get_backend("tensorflow").kernels, jit_compile=jit)
    ref_opt = optbridge.build(spec, ref, backend="numpy")
    for grads in gradient_stream(5):
        opt.step(grads)
        ref_opt.step(grads)
    for n in SHAPES:
        # XLA on CPU contracts a·b + c into fused multiply-adds: not bitwise, within float32 rounding
        np.testing.assert_allclose(params[n].numpy(), ref[n], rtol=2e-6, atol=1e-7, err_msg=n)


def _waits_for(op, other) -> bool:
    """Whether ``op`` runs after ``other`` (a path of data or control edges)."""
    seen, todo = set(), [op]
    while todo:
        node = todo.pop()
        if node is other:
            return True
        if node.name not in seen:
            seen.add(node.name)
            todo += [t.op for t in node.inputs] + list(node.control_inputs)
    return False


def test_program_order_makes_later_ops_wait_for_writes_and_reductions():
    # A rule's late expression that reads none of its variables (g·g here) would otherwise be
    # run by the executor at any time, its temporaries alive beside the earlier statements'.
    from optbridge.backends.tensorflow import ops as tf_ops

    var = tf.Variable(tf.zeros([4]))
    made = {}

    def step(g, ordered):
        with tf_ops.program_order() if ordered else contextlib.nullcontext():
            tf_ops.add_(var, g)
            made["write"] = next(op for op in tf.compat.v1.get_default_graph().get_operations()
                                 if op.type == "AssignAddVariableOp")
            made["late"] = g * g
            made["norm"] = tf_ops.norm(made["late"])
            made["after"] = g + 1.0

    for ordered in (True, False):
        tf.function(lambda g, ordered=ordered: step(g, ordered), autograph=False).get_concrete_function(
            tf.TensorSpec([4]))
        assert made["write"].type == "AssignAddVariableOp"
        assert _waits_for(made["late"].op, made["write"]) is ordered
        assert _waits_for(made["after"].op, made["norm"].op) is ordered


def test_conformance_sample_is_bitwise_equal():
    families = {}
    for case in CASES:
        key = case.algorithm
        if "groups_doc" not in case.id and key in ("sgd", "asgd", "adam", "adam_weight_decay"):
            families.setdefault(key, case)
    for case in families.values():
        for dtype in ("float32", "float64"):
            result = run_case(case, "tensorflow", dtype)
            assert result.status == "passed", result.describe()
            assert result.metrics.bitwise_share == 1.0, (case.id, dtype, result.metrics)


# -- tracing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: nn.Adam(None, 0.01),
    lambda: nn.Momentum(None, 0.1, 0.9),
    lambda: nn.SGD(None, 0.1, momentum=0.9, dampening=0.5),
    lambda: nn.ASGD(None, 0.05, t0=10.0),
], ids=["adam", "momentum", "sgd", "asgd"])
def test_trace_count_stays_one_over_100_steps_with_changing_lr(make):
    params = tf_params(initial())
    opt = optbridge.build(make(), params)
    grads = {n: tf.ones(s) * 0.01 for n, s in SHAPES.items()}
    for step in range(100):
        opt.set_lr(0.01 / (1 + step))
        opt.step(grads)
    assert opt.global_step == 100
    assert opt.trace_count == 1


def test_trace_count_with_a_schedule_and_a_per_step_list():
    lrs = [0.01 * (i + 1) for i in range(100)]
    opt = optbridge.build(nn.Momentum([{"params": "fc.*", "lr": lrs}, {"params": "*"}], nn.WarmUpLR(0.1, 50), 0.9),
                          tf_params(initial()))
    grads = {n: tf.ones(s) for n, s in SHAPES.items()}
    for _ in range(100):
        opt.step(grads)
    assert opt.trace_count == 1


# -- GradientTape loops ------------------------------------------------------------------------
def test_apply_gradients_inside_tf_function_matches_numpy():
    spec = nn.Adam([{"params": "conv.*", "lr": nn.WarmUpLR(0.02, 4)}, {"params": "*"}], 0.01)
    values = initial()
    ref = {n: v.copy() for n, v in values.items()}
    params = tf_params(values)
    order = list(SHAPES)
    opt = optbridge.build(spec, [(n, params[n]) for n in order])
    ref_opt = optbridge.build(spec, ref, backend="numpy")

    @tf.function
    def train_step(grads):
        opt.apply_gradients(zip(grads, [params[n] for n in order]))

    for grads in gradient_stream(6):
        train_step([tf.constant(grads[n]) for n in order])
        ref_opt.step(grads)
    assert opt.global_step == 6 and opt.get_lr() == ref_opt.get_lr()
    for n in order:
        np.testing.assert_array_equal(params[n].numpy(), ref[n], err_msg=n)
    assert opt.trace_count == 1


def test_gradient_tape_training_loop_decreases_the_loss():
    w = tf.Variable(np.array([[2.0], [-3.0]], np.float32), name="w")
    x = tf.constant(np.random.default_rng(0).standard_normal((32, 2)).astype(np.float32))
    y = x @ tf.constant([[1.0], [0.5]])
    opt = optbridge.build(nn.Momentum(None, 0.05, 0.9), [w])
    losses = []
    for _ in range(50):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((x @ w - y) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        losses.append(float(loss))
    assert losses[-1] < 1e-3 * losses[0]


# -- neutral state ---------------------------------------------------------------------------------
def test_checkpoint_on_tensorflow_resumes_on_numpy_with_the_same_numbers():
    spec = nn.Adam(None, nn.WarmUpLR(0.01, 5), use_amsgrad=True)
    stream = gradient_stream(8)
    values = initial()
    full = {n: v.copy() for n, v in values.items()}
    full_opt = optbridge.build(spec, full, backend="numpy")
    for grads in stream:
        full_opt.step(grads)
    params = tf_params(values)
    opt = optbridge.build(spec, params)
    for grads in stream[:4]:
        opt.step(grads)
    sd = opt.state_dict()
    resumed = {n: v.numpy() for n, v in params.items()}
    numpy_opt = optbridge.build(spec, resumed, backend="numpy")
    numpy_opt.load_state_dict(sd)
    for grads in stream[4:]:
        numpy_opt.step(grads)
    assert numpy_opt.global_step == 8
    for n in SHAPES:
        np.testing.assert_array_equal(resumed[n], full[n], err_msg=n)


def test_checkpoint_from_numpy_loads_into_tensorflow():
    spec = nn.ASGD(None, 0.05, t0=2.0)
    stream = gradient_stream(6)
    values = initial()
    full = {n: v.copy() for n, v in values.items()}
    full_opt = optbridge.build(spec, full, backend="numpy")
    for grads in stream:
        full_opt.step(grads)
    half = {n: v.copy() for n, v in values.items()}
    half_opt = optbridge.build(spec, half, backend="numpy")
    for grads in stream[:3]:
        half_opt.step(grads)
    params = tf_params(half)
    opt = optbridge.build(spec, params)
    opt.load_state_dict(half_opt.state_dict())
    for grads in stream[3:]:
        opt.step(grads)
    for n in SHAPES:
        np.testing.assert_array_equal(params[n].numpy(), full[n], err_msg=n)
    np.testing.assert_array_equal(opt.state_dict()["state"]["fc.weight"]["ax"],
                                  full_opt.state_dict()["state"]["fc.weight"]["ax"])


def test_checkpoint_on_tensorflow_resumes_on_torch():
    torch = pytest.importorskip("torch")
    if "torch" not in optbridge.plugin.backends():
        pytest.skip("the torch backend is not installed")
    spec = nn.Momentum(None, 0.1, 0.9, weight_decay=1e-3)
    stream = gradient_stream(6)
    values = initial()
    full = {n: v.copy() for n, v in values.items()}
    full_opt = optbridge.build(spec, full, backend="numpy")
    for grads in stream:
        full_opt.step(grads)
    params = tf_params(values)
    opt = optbridge.build(spec, params)
    for grads in stream[:3]:
        opt.step(grads)
    backend = get_backend("torch")
    torch_params = backend.make_params({n: v.numpy().astype(np.float64) for n, v in params.items()}, "float32")
    torch_opt = backend.build(spec.to_canonical(), torch_params, backend.kernels)
    torch_opt.load_state_dict(opt.state_dict())
    for grads in stream[3:]:
        torch_opt.step(backend.grads_from_numpy(grads, torch_params))
    got = backend.to_numpy(torch_params)
    for n in SHAPES:
        np.testing.assert_allclose(got[n], full[n], rtol=1e-6, atol=1e-7, err_msg=n)


# -- errors: clear messages, nothing half-applied ----------------------------------------------------
def test_a_bad_step_changes_nothing():
    params = tf_params(initial())
    opt = optbridge.build(nn.Adam(None, 0.01), params)
    before = {n: v.numpy().copy() for n, v in params.items()}
    grads = {n: tf.ones(s) for n, s in SHAPES.items()}
    grads["fc.bias"] = tf.ones(3)
    with pytest.raises(StepInputError, match="fc.bias.*shape"):
        opt.step(grads)
    grads["fc.bias"] = tf.ones(10, tf.float64)
    with pytest.raises(StepInputError, match="fc.bias.*float64"):
        opt.step(grads)
    del grads["fc.bias"]
    with pytest.raises(StepInputError, match="no gradient.*fc.bias"):
        opt.step(grads)
    with pytest.raises(StepInputError, match="not one this optimizer"):
        opt.apply_gradients([(tf.ones(2), tf.Variable(tf.ones(2)))])
    assert opt.global_step == 0
    for n, v in params.items():
        np.testing.assert_array_equal(v.numpy(), before[n])


def test_bad_parameters_are_refused():
    with pytest.raises(SpecTypeError, match="float32 or float64"):
        optbridge.build(nn.SGD(None, 0.1), {"w": tf.Variable([1, 2])}, backend="tensorflow")
    with pytest.raises(SpecTypeError, match="two variables are named 'w'"):
        optbridge.build(nn.SGD(None, 0.1), [tf.Variable([1.0], name="w"), tf.Variable([2.0], name="w")])
    with pytest.raises(SpecTypeError, match=r"params\[1\]"):
        optbridge.build(nn.SGD(None, 0.1), [tf.Variable([1.0]), "w"], backend="tensorflow")


def test_a_kernel_refuses_hyperparameters_it_does_not_implement():
    old = get_backend("tensorflow").kernels["sgd"]
    narrow = Kernel("sgd", lambda *a: None, hyperparameters=frozenset({"momentum", "maximize"}))
    with pytest.raises(BackendError, match=r"groups\[0\].*'sgd'.*\['nesterov', 'nesterov_form'\]"):
        TensorFlowOptimizer(nn.Momentum(None, 0.1, 0.9, use_nesterov=True).to_canonical(), tf_params(initial()),
                            {"sgd": narrow})
    assert get_backend("tensorflow").kernels["sgd"] is old


def test_state_lives_beside_each_variable():
    params = tf_params(initial())
    opt = optbridge.build(nn.Adam(None, 0.01), params)
    for n, v in params.items():
        for slot in ("exp_avg", "exp_avg_sq"):
            assert opt.slot(n, slot).device == v.device
    assert len(opt.variables) == 2 * len(params)


def test_step_benchmark_runs():
    import pathlib

    script = pathlib.Path(__file__).parents[1] / "benchmarks" / "tensorflow_step.py"
    out = subprocess.run([sys.executable, str(script), "--layouts", "tiny", "--rows", "SGD-momentum", "AdamW",
                          "--repeat", "1", "--warmup", "1"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line.split() for line in out.stdout.splitlines() if line.startswith("tiny")]
    assert [r[1] for r in rows] == ["SGD-momentum", "AdamW"]
    assert rows[0][-1] != "-" and rows[1][-1] == "-"  # a raw fused op exists for momentum, none for AdamW


def test_build_passes_the_tensorflow_options():
    """``optbridge.build(spec, variables, **options)`` takes the options of TensorFlowOptimizer
    (``horizon`` among them, which the tf.distribute docs use) and refuses others by name."""
    from optbridge.dialects.keras import optimizers as keras_optimizers
    from optbridge.errors import SpecValueError

    spec = keras_optimizers.SGD(learning_rate=0.1)
    variables = [tf.Variable(np.ones(3, np.float32), name="w")]
    opt = optbridge.build(spec, variables, backend="tensorflow", horizon=3, fused=False, native=False)
    assert opt.fused_buckets == 0 and opt.native_buckets == 0
    opt.step([tf.constant(np.ones(3, np.float32))])
    np.testing.assert_array_equal(variables[0].numpy(), np.float32(1) - np.float32(0.1))
    with pytest.raises(SpecValueError, match="horizon must be an int >= 1"):
        optbridge.build(spec, [tf.Variable(np.ones(3, np.float32))], backend="tensorflow", horizon=0)
    with pytest.raises(SpecTypeError, match="takes no build option 'names'"):
        optbridge.build(spec, [tf.Variable(np.ones(3, np.float32))], backend="tensorflow", names=None)
