"""``optbridge.keras(spec)``: a ``keras.optimizers.Optimizer`` for ``model.compile``/``model.fit``.

The reference for ``model.fit`` is an independent run: the same model's gradients taken
with ``tf.GradientTape`` batch by batch and applied by the NumPy reference backend.
"""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import optbridge  # noqa: E402
from optbridge.algorithms import SGD  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.errors import StaticLearningRateError  # noqa: E402
from optbridge.schedules.values import Constant  # noqa: E402
from optbridge.spec import OptimizerSpec  # noqa: E402
from optbridge.backends.tensorflow.keras_adapter import KerasOptimizer  # noqa: E402

X = np.random.default_rng(0).standard_normal((64, 8)).astype("float32")
Y = np.tanh(X[:, :1] - 0.5 * X[:, 1:2])
BATCH, EPOCHS = 16, 2


def make_model():
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="tanh", name="hidden"),
                             keras.layers.Dense(1, name="out")], name="net")


def numpy_reference(spec, weights):
    """Batch by batch: TF gradients at the current weights, NumPy backend update."""
    model = make_model()
    model.set_weights(weights)
    params = {v.path: w.copy() for v, w in zip(model.trainable_variables, weights)}
    opt = optbridge.build(spec, params, backend="numpy")
    for _ in range(EPOCHS):
        for i in range(0, len(X), BATCH):
            for v in model.trainable_variables:
                v.assign(params[v.path])
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(keras.losses.mean_squared_error(Y[i:i + BATCH], model(X[i:i + BATCH])))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.step({v.path: g.numpy() for v, g in zip(model.trainable_variables, grads)})
    return params, opt


SPECS = {
    "momentum-groups": lambda: nn.Momentum([{"params": "*hidden/*", "lr": 0.05}, {"params": "*"}], 0.1, 0.9),
    "adam-warmup": lambda: nn.Adam(None, nn.WarmUpLR(0.01, 5), use_amsgrad=True),
    "asgd": lambda: nn.ASGD(None, 0.05, t0=3.0),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_model_fit_trains_with_optbridge_numbers(name):
    keras.utils.set_random_seed(1)
    model = make_model()
    weights = model.get_weights()
    opt = optbridge.keras(SPECS[name]())
    assert isinstance(opt, keras.optimizers.Optimizer)
    model.compile(optimizer=opt, loss="mse")
    history = model.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    ref, ref_opt = numpy_reference(SPECS[name](), weights)
    assert int(opt.iterations.numpy()) == opt.optbridge.global_step == ref_opt.global_step == 8
    assert opt.optbridge.get_lr() == ref_opt.get_lr()
    for v in model.trainable_variables:
        # the loss is reduced in a different order by fit and by the reference loop
        np.testing.assert_allclose(v.numpy(), ref[v.path], rtol=1e-5, atol=1e-6, err_msg=v.path)


SAVED = {
    "adam": lambda: nn.Adam(None, nn.WarmUpLR(0.01, 20)),
    # factored slots (row_var/col_var of the kernels, variance of the biases) are Keras variables too
    "adafactor": lambda: nn.AdaFactor(None, beta1=0.9),
}


@pytest.mark.parametrize("name", sorted(SAVED))
def test_save_and_load_with_the_model(tmp_path, name):
    keras.utils.set_random_seed(2)
    model = make_model()
    model.compile(optimizer=optbridge.keras(SAVED[name]()), loss="mse")
    model.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer, KerasOptimizer)
    before, after = model.optimizer.optbridge, loaded.optimizer.optbridge
    assert after.global_step == before.global_step == 4
    assert after.get_lr() == before.get_lr()
    sd_before, sd_after = before.state_dict(), after.state_dict()
    assert [g["host_state"] for g in sd_after["groups"]] == [g["host_state"] for g in sd_before["groups"]]
    for old, new in zip(before.param_names, after.param_names):
        for slot, value in sd_before["state"][old].items():
            np.testing.assert_array_equal(sd_after["state"][new][slot], value)
    # both continue identically
    model.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    loaded.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_config_round_trip_and_canonical_specs_say_why_they_cannot_be_saved():
    opt = optbridge.keras(nn.Momentum(None, 0.1, 0.9), name="ob")
    clone = KerasOptimizer.from_config(opt.get_config())
    assert clone.get_config() == opt.get_config() and clone.name == "ob"
    canonical = optbridge.keras(OptimizerSpec(algorithm=SGD(momentum=0.9), lr=Constant(0.1)))
    with pytest.raises(TypeError, match="canonical OptimizerSpec has no config form"):
        canonical.get_config()


def test_learning_rate_reads_and_sets_through_the_engine():
    model = make_model()
    opt = optbridge.keras(nn.Momentum(None, 0.1, 0.9))
    assert opt.learning_rate == pytest.approx(0.1)
    model.compile(optimizer=opt, loss="mse")
    model.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: 0.025)])
    assert opt.optbridge.get_lr() == [float(np.float32(0.025))]
    scheduled = optbridge.keras(nn.Adam(None, nn.WarmUpLR(0.01, 5)))
    scheduled.build(make_model().trainable_variables)
    with pytest.raises(StaticLearningRateError):
        scheduled.learning_rate = 0.5


def test_slots_are_keras_optimizer_variables_beside_each_model_variable():
    model = make_model()
    opt = optbridge.keras(nn.Adam(None, 0.01))
    opt.build(model.trainable_variables)
    for v in model.trainable_variables:
        for slot in ("exp_avg", "exp_avg_sq"):
            s = opt.optbridge.slot(v.path, slot)
            assert any(s is w for w in opt.variables)
            assert s.value.device == v.value.device and s.shape == v.shape


def test_optbridge_keras_lives_in_core_without_importing_tensorflow():
    import ast
    import inspect
    import textwrap

    function = ast.parse(textwrap.dedent(inspect.getsource(optbridge.keras))).body[0]
    code = ast.unparse(ast.Module(body=function.body[1:], type_ignores=[]))  # without the docstring
    assert "optbridge_adapters" in code  # the adapter comes through the plugin door
    assert not [node for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert "import_module" not in code and "backends" not in code
