"""Steps inside ``tf.function`` — plain or ``jit_compile=True`` — take their host scalars
from the device table (no Python callback in an XLA-compiled step).

References: the same optimizer stepped eagerly (bit for bit in plain graphs; within
float32 contraction error under XLA, which fuses ``a·b + c`` on CPU), and Keras
``model.fit`` with ``jit_compile=False`` for ``jit_compile=True``.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import optbridge  # noqa: E402
from optbridge.backends.tensorflow.optimizer import TensorFlowOptimizer  # noqa: E402
from optbridge.dialects.keras import optimizers  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402

#: XLA contracts a·b + c into one rounding on CPU: float32 results drift by a few ulps a step
XLA_RTOL, XLA_ATOL = 1e-5, 1e-6


def _spec():
    decl = optim.lr_scheduler.StepLR.declare(0.01, step_size=7, gamma=0.5, interval="step")
    return optim.Adam([{"params": "a", "lr": decl}, {"params": "*", "weight_decay": 0.01}], lr=0.005)


def _variables():
    rng = np.random.default_rng(0)
    return [tf.Variable(rng.standard_normal(shape).astype(np.float32), name=name)
            for name, shape in (("a", (16, 8)), ("b", (8,)))]


def _grads(step):
    rng = np.random.default_rng(100 + step)
    return [tf.constant(rng.standard_normal(shape).astype(np.float32)) for shape in ((16, 8), (8,))]


def _build(variables, **options):
    return TensorFlowOptimizer(_spec().to_canonical(), [(v.name.split(":")[0], v) for v in variables],
                               optbridge.get_backend("tensorflow").kernels, **options)


def _eager(steps, edits=None):
    variables = _variables()
    opt = _build(variables)
    for step in range(steps):
        if edits and step in edits:
            edits[step](opt)
        opt.apply_gradients(zip(_grads(step), variables))
    return [v.numpy() for v in variables], opt


def _graph(steps, jit_compile, edits=None, touch=False, **options):
    variables = _variables()
    opt = _build(variables, **options)

    @tf.function(jit_compile=jit_compile)
    def train_step(grads):
        opt.apply_gradients(zip(grads, variables))

    for step in range(steps):
        if edits and step in edits:
            edits[step](opt)
        train_step(_grads(step))
        if touch:
            assert opt.global_step == step + 1   # using the optimizer from the host catches the engine up
    return [v.numpy() for v in variables], opt, train_step


@pytest.mark.parametrize("horizon", [4096, 8], ids=["table", "table+callback"])
def test_a_plain_graph_loop_equals_eager_bit_for_bit(horizon):
    want, eager = _eager(30)
    got, opt, train_step = _graph(30, jit_compile=False, horizon=horizon)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert opt.global_step == 30 and opt.get_lr() == eager.get_lr()
    assert train_step.experimental_get_tracing_count() == 1


def test_an_xla_loop_trains_over_100_steps_traced_once():
    want, eager = _eager(100)
    got, opt, train_step = _graph(100, jit_compile=True)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=XLA_RTOL, atol=XLA_ATOL)
    assert train_step.experimental_get_tracing_count() == 1 and opt.trace_count == 1
    state, ref = opt.state_dict(), eager.state_dict()
    assert state["global_step"] == 100 and state["groups"] == ref["groups"]


def test_an_xla_loop_past_a_short_table_refills_when_the_host_uses_the_optimizer():
    want, _ = _eager(30)
    got, _, _ = _graph(30, jit_compile=True, touch=True, horizon=8)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=XLA_RTOL, atol=XLA_ATOL)


def test_an_xla_loop_past_its_table_without_the_host_turns_nan_not_wrong():
    got, _, _ = _graph(12, jit_compile=True, horizon=8)
    assert all(np.isnan(v).all() for v in got)


def test_host_changes_between_graph_steps_reach_the_next_step():
    edits = {3: lambda opt: opt.set_lr(0.05, group=1), 6: lambda opt: opt.set_lr(0.001, group=1)}
    want, eager = _eager(10, edits)
    got, opt, _ = _graph(10, jit_compile=False, edits=edits)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert opt.get_lr() == eager.get_lr()


def test_a_state_dict_loaded_between_graph_steps_continues_from_it():
    variables = _variables()
    eager = _build(variables)
    for step in range(5):
        eager.apply_gradients(zip(_grads(step), variables))
    saved, weights = eager.state_dict(), [v.numpy() for v in variables]
    for step in range(5, 10):
        eager.apply_gradients(zip(_grads(step), variables))

    others = _variables()
    opt = _build(others)

    @tf.function
    def train_step(grads):
        opt.apply_gradients(zip(grads, others))

    for step in range(3):          # another run first: its counter and table must not survive the load
        train_step(_grads(50 + step))
    for v, w in zip(others, weights):
        v.assign(w)
    opt.load_state_dict(saved)
    for step in range(5, 10):
        train_step(_grads(step))
    for a, b in zip(others, variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert opt.state_dict()["groups"] == eager.state_dict()["groups"] and opt.global_step == 10


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    rng = np.random.default_rng(5)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
    return model


def _fit(jit_compile):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = np.sin(x.sum(axis=1, keepdims=True))
    model = _model()
    opt = optbridge.keras(optimizers.Adam(0.05))
    model.compile(optimizer=opt, loss="mse", jit_compile=jit_compile)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    model.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0, callbacks=[plateau])
    return model, opt


def test_model_fit_with_jit_compile_equals_fit_without():
    xla, xla_opt = _fit(True)
    plain, plain_opt = _fit(False)
    for a, b in zip(xla.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=XLA_RTOL, atol=XLA_ATOL)
    # the callback halved the lr after epochs 2, 3 and 4 (in float32, as Keras computes it)
    assert xla_opt.learning_rate == plain_opt.learning_rate
    assert np.isclose(xla_opt.learning_rate, 0.05 * 0.5 ** 3, rtol=1e-7)
    assert xla_opt.optbridge.global_step == plain_opt.optbridge.global_step == 16
