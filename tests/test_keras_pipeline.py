"""Keras's gradient pipeline in the Keras dialect, against ``keras.optimizers`` itself (Keras 3.15,
TensorFlow backend, float32): ``gradient_accumulation_steps``, ``use_ema`` / ``ema_momentum`` /
``ema_overwrite_frequency``, ``loss_scale_factor`` and ``LossScaleOptimizer`` (with non-finite
steps), on optbridge's NumPy and TensorFlow backends, in an ``apply_gradients`` loop and in
``model.fit`` with ``optbridge.keras(spec)`` (compiled and eager), and traced whole in a
``tf.function``; the bitwise share is printed."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import optbridge  # noqa: E402
from optbridge.conformance import compare  # noqa: E402
from optbridge.dialects.keras import optimizers as kd  # noqa: E402
from optbridge.errors import ConfigError, SpecTypeError, SpecValueError  # noqa: E402

SHAPES = {"dense/kernel": (6, 4), "dense/bias": (4,), "out/kernel": (4, 2)}
STEPS = 14
BAD = (2, 3, 8)  # steps with a non-finite gradient, for the loss-scale cases


def _start():
    rng = np.random.default_rng(0)
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()}


def _grads(step, bad=False):
    rng = np.random.default_rng(100 + step)
    g = {k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()}
    if bad:
        g["dense/kernel"][1, 2] = np.inf if step % 2 else np.nan
    return g


CASES = {
    "accumulation": lambda m: m.Adam(learning_rate=0.01, gradient_accumulation_steps=3),
    "accumulation_schedule": lambda m: m.Adam(
        learning_rate=m.schedules.ExponentialDecay(0.01, 2, 0.5), gradient_accumulation_steps=2),
    "ema": lambda m: m.SGD(learning_rate=0.1, momentum=0.9, use_ema=True, ema_momentum=0.9),
    "ema_overwrite": lambda m: m.RMSprop(learning_rate=0.01, use_ema=True, ema_momentum=0.8,
                                         ema_overwrite_frequency=3),
    "loss_scale_factor": lambda m: m.Adagrad(learning_rate=0.1, loss_scale_factor=3.0),
    "everything": lambda m: m.AdamW(learning_rate=0.01, weight_decay=0.1, use_ema=True, ema_overwrite_frequency=2,
                                    gradient_accumulation_steps=2, global_clipnorm=0.5, loss_scale_factor=4.0),
    "loss_scale_optimizer": lambda m: m.LossScaleOptimizer(m.Adam(learning_rate=0.01), initial_scale=2.0 ** 4,
                                                           dynamic_growth_steps=3),
    "loss_scale_optimizer_accumulation": lambda m: m.LossScaleOptimizer(
        m.SGD(learning_rate=0.1, momentum=0.5, gradient_accumulation_steps=2, use_ema=True), initial_scale=8.0,
        dynamic_growth_steps=2),
}
WITH_LSO = {"loss_scale_optimizer", "loss_scale_optimizer_accumulation"}


def _keras_run(name):
    variables = [keras.Variable(v, name=k.split("/")[1]) for k, v in _start().items()]
    opt = CASES[name](keras.optimizers)
    trajectory, scales = [], []
    for step in range(STEPS):
        bad = name in WITH_LSO and step in BAD
        scale = (float(opt.dynamic_scale.numpy()) if opt.built else float(opt.initial_scale)) \
            if name in WITH_LSO else float(opt.loss_scale_factor or 1.0)  # what Keras's scale_loss multiplies by
        scales.append(scale)
        g = _grads(step, bad)
        opt.apply([tf.constant(v * np.float32(scale)) for v in g.values()], variables)
        trajectory.append([v.numpy().copy() for v in variables])
    averages = None
    if getattr(opt, "use_ema", False) or getattr(getattr(opt, "inner_optimizer", None), "use_ema", False):
        inner = getattr(opt, "inner_optimizer", opt)
        averages = [a.numpy().copy() for a in inner._model_variables_moving_average]
    return trajectory, scales, int(opt.iterations.numpy()), averages


def _ours_run(name, backend):
    spec = CASES[name](kd)
    if backend == "numpy":
        params = _start()
        opt = optbridge.build(spec, params, backend="numpy")
        read = lambda: [opt.params[k].copy() for k in SHAPES]  # noqa: E731
        step_fn = opt.step
    else:
        variables = {k: tf.Variable(v, name=k.replace("/", "_")) for k, v in _start().items()}
        opt = optbridge.build(spec, variables, backend="tensorflow")
        read = lambda: [v.numpy().copy() for v in variables.values()]  # noqa: E731
        # "tensorflow-graph" (-xla): the whole pipeline traced (decisions as tf.cond, numbers in variables)
        step_fn = tf.function(opt.step, jit_compile=backend == "tensorflow-xla") if backend != "tensorflow" else opt.step
    trajectory, scales = [], []
    for step in range(STEPS):
        bad = name in WITH_LSO and step in BAD
        scales.append(opt.loss_scale)
        g = {k: v * np.float32(opt.loss_scale) for k, v in _grads(step, bad).items()}
        step_fn(g if backend == "numpy" else {k: tf.constant(v) for k, v in g.items()})
        trajectory.append(read())
    averages = None
    if any(t.name == "ema" for t in opt.engine.spec.transforms):
        sd = opt.state_dict()
        averages = [np.asarray(sd["state"][k]["average"]) for k in SHAPES]
    return trajectory, scales, opt.global_step, averages


@pytest.mark.parametrize("backend", ["numpy", "tensorflow", "tensorflow-graph", "tensorflow-xla"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_pipeline_matches_keras(name, backend, capsys):
    theirs, their_scales, their_iterations, their_averages = _keras_run(name)
    ours, our_scales, our_steps, our_averages = _ours_run(name, backend)
    assert our_scales == their_scales
    assert our_steps == their_iterations
    identical = total = 0
    for step, (a_step, b_step) in enumerate(zip(ours, theirs)):
        for a, b in zip(a_step, b_step):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"{name} step {step}")
            identical += compare.bitwise_equal_count(a, b)
            total += a.size
    if their_averages is not None:
        for a, b in zip(our_averages, their_averages):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"{name} averages")
            identical += compare.bitwise_equal_count(a, b)
            total += a.size
    with capsys.disabled():
        print(f"\n{name} on {backend} vs keras.optimizers ({keras.__version__}, float32, {STEPS} calls): "
              f"bit-identical {identical / total:.2%} of {total}")
    if backend != "tensorflow-xla":  # XLA contracts a·b + c into one rounding: the tolerance above only
        assert identical == total


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["compiled", "eager"])
def test_model_fit_runs_the_pipeline_and_finalizes_the_averages(run_eagerly, capsys):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((48, 6)).astype(np.float32)
    y = rng.standard_normal((48, 2)).astype(np.float32)
    x[17, 0] = np.nan  # one batch's gradients are NaN in every epoch: a skipped step, the scale halved

    def model():
        keras.utils.set_random_seed(7)
        return keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(2)])

    make = CASES["loss_scale_optimizer_accumulation"]
    theirs, ours = model(), model()
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=make(keras.optimizers), loss="mse", run_eagerly=run_eagerly)
    ours.compile(optimizer=optbridge.keras(make(kd)), loss="mse", run_eagerly=run_eagerly)
    schedule = lambda epoch, lr: lr * 0.5  # noqa: E731
    for m in (theirs, ours):
        m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
              callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
    identical = total = 0
    for a, b in zip(ours.trainable_variables, theirs.trainable_variables):  # after finalize_variable_values
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
        identical += compare.bitwise_equal_count(a.numpy(), b.numpy())
        total += a.numpy().size
    assert ours.optimizer.optbridge.global_step == int(theirs.optimizer.iterations) == 7  # 3 of 18 calls skipped
    assert ours.optimizer.optbridge.loss_scale == float(theirs.optimizer.dynamic_scale.numpy())
    with capsys.disabled():
        print(f"\nmodel.fit ({'run_eagerly' if run_eagerly else 'compiled'}) LossScaleOptimizer(SGD, accumulation, "
              f"EMA) vs Keras, one NaN batch: bit-identical {identical / total:.2%} of {total}, "
              f"{int(theirs.optimizer.iterations)} updates, scale {float(theirs.optimizer.dynamic_scale.numpy())}")
    assert identical == total


def test_a_stateful_pipeline_is_refused_under_a_distribution_strategy():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        variables = {k: tf.Variable(v) for k, v in _start().items()}
    opt = optbridge.build(kd.SGD(learning_rate=0.1, use_ema=True), variables, backend="tensorflow")
    before = {k: v.numpy().copy() for k, v in variables.items()}
    with pytest.raises(SpecValueError, match="under a tf.distribute strategy"):
        strategy.run(lambda: opt.apply_gradients(
            [(tf.constant(g), variables[k]) for k, g in _grads(0).items()]))
    assert all(np.array_equal(v.numpy(), before[k]) for k, v in variables.items())
    assert opt.global_step == 0


def test_loss_scale_optimizer_validates_like_keras():
    with pytest.raises(SpecValueError, match="no longer supports `dynamic=False`"):
        kd.LossScaleOptimizer(kd.SGD(), dynamic=False)
    with pytest.raises(SpecValueError, match="does not support `clipnorm`. Instead, set `clipnorm` on the"):
        kd.LossScaleOptimizer(kd.SGD(), clipnorm=1.0)
    with pytest.raises(SpecValueError, match="does not support arguments: `foo`"):
        kd.LossScaleOptimizer(kd.SGD(), foo=1)
    with pytest.raises(SpecTypeError, match="`inner_optimizer` must be a Keras-dialect optimizer"):
        kd.LossScaleOptimizer("adam")
    with pytest.raises(SpecValueError, match="`dynamic_growth_steps` must be an integer >= 1"):
        kd.LossScaleOptimizer(kd.SGD(), dynamic_growth_steps=0)
    with pytest.raises(SpecValueError, match="`initial_scale` must be a finite number > 0"):
        kd.LossScaleOptimizer(kd.SGD(), initial_scale=-1.0)
    for bad in (ValueError, TypeError):
        assert issubclass({ValueError: SpecValueError, TypeError: SpecTypeError}[bad], bad)


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
def test_loss_scale_optimizer_config_round_trip(tmp_path, fmt):
    if fmt == "yaml":
        pytest.importorskip("yaml")
    opt = kd.LossScaleOptimizer(kd.Adam(learning_rate=0.01, use_ema=True, gradient_accumulation_steps=2),
                                initial_scale=256.0, dynamic_growth_steps=10)
    again = optbridge.load(optbridge.save(opt, tmp_path / f"lso.{fmt}"))
    assert again == opt and again.to_canonical() == opt.to_canonical()
    assert [t.name for t in again.to_canonical().transforms] == ["loss_scale", "accumulate_gradients", "ema"]
    with pytest.raises(ConfigError):
        optbridge.from_dict({**optbridge.to_dict(opt), "inner_optimizer": {"optimizer": "nope"}})


def test_state_dict_carries_the_pipeline_between_backends():
    spec = CASES["loss_scale_optimizer_accumulation"](kd)
    numpy_opt = optbridge.build(spec, _start(), backend="numpy")
    for step in range(5):
        numpy_opt.step({k: v * np.float32(numpy_opt.loss_scale) for k, v in _grads(step, step in BAD).items()})
    sd = numpy_opt.state_dict()
    variables = {k: tf.Variable(v) for k, v in numpy_opt.params.items()}
    tf_opt = optbridge.build(spec, variables, backend="tensorflow")
    tf_opt.load_state_dict(sd)
    assert tf_opt.loss_scale == numpy_opt.loss_scale and tf_opt.global_step == numpy_opt.global_step
    for step in range(5, 9):
        g = {k: v * np.float32(numpy_opt.loss_scale) for k, v in _grads(step, step in BAD).items()}
        numpy_opt.step(g)
        tf_opt.step({k: tf.constant(v) for k, v in g.items()})
    for k, v in variables.items():
        assert np.array_equal(v.numpy(), numpy_opt.params[k])
    bad = {**sd, "transforms": [{**sd["transforms"][0], "state": {"scale": -1.0, "step_counter": 0}},
                                *sd["transforms"][1:]]}
    with pytest.raises(optbridge.errors.StateDictError, match=r"transforms\[0\].state.scale"):
        tf_opt.load_state_dict(bad)


def test_a_keras_loss_scale_optimizer_imports_with_its_inner_optimizer():
    live = keras.optimizers.LossScaleOptimizer(keras.optimizers.AdamW(learning_rate=0.01, use_ema=True),
                                               initial_scale=64.0, dynamic_growth_steps=5)
    for source in (live, keras.optimizers.serialize(live)):
        spec = optbridge.from_keras(source)
        assert isinstance(spec, kd.LossScaleOptimizer) and isinstance(spec.inner_optimizer, kd.AdamW)
        assert spec.arguments["initial_scale"] == 64.0 and spec.arguments["dynamic_growth_steps"] == 5
        assert [t.name for t in spec.to_canonical().transforms] == ["loss_scale", "ema"]
