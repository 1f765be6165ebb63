"""Keras-dialect ``MultiOptimizer`` + ``OptimizerMap``: one spec with a different algorithm per
group, against ``keras.optimizers.MultiOptimizer`` itself (Keras 3.15).

Live comparisons (float32, every element after every step within ``1e-6 + 1e-5·|keras|``,
the bit-identical share printed with ``pytest -s`` and asserted at the level measured):

* a ``GradientTape``-style loop (``apply_gradients``) on optbridge's NumPy backend and on its
  TensorFlow backend over ``keras.Variable``\\ s, with Adam (an ``ExponentialDecay``
  learning rate, so each step's ``iterations`` matters) for the kernels, SGD with momentum
  for the biases, RMSprop as the default optimizer and a key no variable matches; on the
  TensorFlow backend some steps leave one of Adam's variables without a gradient (Keras
  then still counts the step of Adam's ``iterations``: the engine's one step counter gives
  the same numbers);
* ``model.fit`` with ``optbridge.keras(spec)`` against Keras's own ``MultiOptimizer``.

The same config on the torch backend and the JAX plugin runs through the conformance
catalog (``keras.MultiOptimizer-*`` cases, every backend). Also here: lowering, config round
trip (JSON, TOML, YAML), Keras's errors in Keras's words, failures after build that change
nothing (bit for bit), and a state dict saved on torch and loaded on TensorFlow.
"""
from __future__ import annotations

import copy

import keras_live
import numpy as np
import pytest

import optbridge
from optbridge.conformance import compare
from optbridge.dialects.keras import optimizers as ko
from optbridge.dialects.keras.optimizers import schedules as ob_schedules
from optbridge.errors import (
    ConfigError,
    DuplicateParameterError,
    SpecTypeError,
    SpecValueError,
    StateDictError,
)

keras, tf = keras_live.frameworks()
needs_keras = pytest.mark.skipif(keras is None, reason="needs keras and tensorflow")

SEED = 47
LAYOUT = keras_live.LAYOUT
NAMES = keras_live.NAMES
#: Minimum bit-identical share: measured 100 % (NumPy and TensorFlow backends, apply_gradients
#: and model.fit) with Keras 3.15.1 / TF 2.21 on x86-64.
MIN_IDENTICAL = 1.0


def ours_multi():
    """Adam (decaying lr, weight decay) on kernels, SGD momentum on biases, RMSprop the default."""
    return ko.MultiOptimizer(ko.OptimizerMap(
        ko.RMSprop(learning_rate=0.005, momentum=0.5),
        {".*kernel": ko.Adam(learning_rate=ob_schedules.ExponentialDecay(0.01, decay_steps=4, decay_rate=0.7),
                             weight_decay=0.004),
         ".*bias": ko.SGD(learning_rate=0.1, momentum=0.9),
         "decoder/.*": ko.Lion()}))


def keras_multi():
    k = keras.optimizers
    return k.MultiOptimizer(k.OptimizerMap(
        k.RMSprop(learning_rate=0.005, momentum=0.5),
        {".*kernel": k.Adam(learning_rate=k.schedules.ExponentialDecay(0.01, decay_steps=4, decay_rate=0.7),
                            weight_decay=0.004),
         ".*bias": k.SGD(learning_rate=0.1, momentum=0.9),
         "decoder/.*": k.Lion()}))


def keras_path_variables(start):
    """``keras.Variable``\\ s whose ``path`` is the layout name (``"dense/kernel"``)."""
    out = {}
    for name in NAMES:
        scope, short = name.split("/")
        with keras.name_scope(scope):
            out[name] = keras.Variable(start[name].copy(), name=short)
        assert out[name].path == name
    return out


def _dropped(step):
    """The variable left without a gradient at ``step`` on the TensorFlow backend (or ``None``)."""
    return "conv/kernel" if step % 5 == 3 else None


def test_lowering_one_spec_a_group_per_key():
    spec = ours_multi().to_canonical()
    assert [g.params for g in spec.groups] == [{"regex": ".*kernel"}, {"regex": ".*bias"}, {"regex": "decoder/.*"},
                                               "*"]
    assert [g.algorithm.name for g in spec.groups] == ["adam", "sgd", "lion", "rmsprop"]
    assert spec.algorithm.name == "rmsprop" and spec.precision == "float32"
    start = keras_live.initial_values(SEED)
    opt = optbridge.build(ours_multi(), {k: v.copy() for k, v in start.items()}, backend="numpy")
    # the Lion group matches nothing and is left out, as Keras builds no optimizer without variables
    assert [(g.index, g.names, g.algorithm.name) for g in opt.engine.groups] == [
        (0, ("dense/kernel", "conv/kernel"), "adam"), (1, ("dense/bias",), "sgd"), (3, ("norm/gamma",), "rmsprop")]


def test_exact_key_wins_over_a_full_match():
    """Keras looks a path up as a key first: ``"dense/kernel"`` is Adamax's, ``".*"`` takes the rest."""
    multi = ko.MultiOptimizer(ko.OptimizerMap(ko.SGD(), {".*": ko.SGD(learning_rate=0.5),
                                                         "dense/kernel": ko.Adamax()}))
    assert multi.optimizer_map["dense/kernel"].qualname == "keras.optimizers.Adamax"
    assert multi.optimizer_map["conv/kernel"].arguments["learning_rate"] == 0.5
    opt = optbridge.build(multi, keras_live.initial_values(SEED), backend="numpy")
    assert [(g.names, g.algorithm.name) for g in opt.engine.groups] == [
        (("dense/bias", "conv/kernel", "norm/gamma"), "sgd"), (("dense/kernel",), "adamax")]
    if keras is not None:
        k = keras.optimizers
        catch_all, adamax = k.SGD(learning_rate=0.5), k.Adamax()
        native = k.OptimizerMap(k.SGD(), {".*": catch_all, "dense/kernel": adamax})
        assert native["dense/kernel"] is adamax and native["conv/kernel"] is catch_all


@needs_keras
def test_apply_gradients_matches_keras_float32(capsys):
    stats: dict = {}
    start = keras_live.initial_values(SEED)
    for backend in ("numpy", "tensorflow"):
        reference_vars = keras_path_variables(start)
        reference = keras_multi()
        if backend == "numpy":
            ours = {k: v.copy() for k, v in start.items()}
            opt = optbridge.build(ours_multi(), ours, backend="numpy")
        else:
            ours_vars = keras_path_variables(start)
            opt = optbridge.build(ours_multi(), list(ours_vars.values()))
            assert type(opt).__module__.startswith("optbridge.backends.tensorflow")
        for step in range(keras_live.STEPS):
            grads = keras_live.gradients(step, SEED)
            dropped = _dropped(step) if backend == "tensorflow" else None
            pairs = [(None if n == dropped else tf.constant(grads[n]), reference_vars[n]) for n in NAMES]
            with pytest.warns(UserWarning) if dropped else _nothing():
                reference.apply_gradients(pairs)
            if backend == "numpy":
                opt.step(grads)
                values = ours
            else:
                with pytest.warns(UserWarning, match="Gradients do not exist") if dropped else _nothing():
                    opt.apply_gradients([(tf.constant(grads[n]), ours_vars[n]) for n in NAMES if n != dropped])
                values = {n: v.numpy() for n, v in ours_vars.items()}
            theirs = {n: v.numpy() for n, v in reference_vars.items()}
            keras_live.assert_close_and_count(stats, "MultiOptimizer", values, theirs, f"{backend} step {step}",
                                              backend=backend)
        # Keras's inner counters all equal the MultiOptimizer's: the engine's one step counter
        assert int(reference.iterations) == opt.global_step == keras_live.STEPS
        # (Adam, SGD, Lion, RMSprop): Lion, which no variable maps to, is never built
        assert [int(o.iterations) for o in reference.optimizers] == [keras_live.STEPS] * 2 + [0, keras_live.STEPS]
    with capsys.disabled():
        print("\n" + "\n".join(keras_live.report(stats, set(stats))))
    for s in stats.values():
        assert s["identical"] / s["total"] >= MIN_IDENTICAL


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@needs_keras
def test_model_fit_matches_keras_float32(capsys):
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)

    def model():
        keras.utils.set_random_seed(SEED)
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="d1", bias_initializer="ones"),
                                 keras.layers.Dense(1, name="d2", bias_initializer="ones")])

    theirs, ours = model(), model()
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras_multi(), loss="mse")
    ours.compile(optimizer=optbridge.keras(ours_multi()), loss="mse")
    theirs.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    ours.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    identical = total = 0
    worst = 0.0
    for a, b in zip(ours.trainable_variables, theirs.trainable_variables):
        a, b = a.numpy(), b.numpy()
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=a.dtype.name)
        identical += compare.bitwise_equal_count(a, b)
        total += a.size
        worst = max(worst, compare.ulp_distance(a, b))
    assert int(ours.optimizer.iterations) == int(theirs.optimizer.iterations) == 12
    # kernels and biases only: the default (RMSprop) and Lion take no variable, in Keras too
    assert [g.algorithm.name for g in ours.optimizer.optbridge.engine.groups] == ["adam", "sgd"]
    assert [int(o.iterations) for o in theirs.optimizer.optimizers] == [12, 12, 0, 0]
    with capsys.disabled():
        print(f"\nmodel.fit float32 vs keras.optimizers.MultiOptimizer ({keras.__version__}, 12 steps): "
              f"bit-identical {identical / total:.2%} of {total} worst {worst:.0f} ulp")
    assert identical / total >= MIN_IDENTICAL


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
def test_config_round_trip(tmp_path, fmt):
    if fmt == "yaml":
        pytest.importorskip("yaml")
    multi = ko.MultiOptimizer(ko.OptimizerMap(
        ko.SGD(learning_rate=0.05, momentum=0.9),
        {r"conv/.*": ko.Adam(exclude_from_weight_decay=["bias"], weight_decay=0.01), ".*bias": ko.Lion()}),
        name="multi")
    path = optbridge.save(multi, tmp_path / f"multi.{fmt}")
    again = optbridge.load(path)
    assert again == multi
    assert again.to_canonical() == multi.to_canonical()
    assert optbridge.from_dict(optbridge.to_dict(multi)) == multi


def test_config_errors_name_the_path():
    data = optbridge.to_dict(ours_multi())
    bad = copy.deepcopy(data)
    bad["optimizer_map"]["optimizer_map"][".*bias"]["momentun"] = 0.9
    with pytest.raises(ConfigError, match=r"optimizer_map.optimizer_map\['.\*bias'\].momentun: unknown argument"):
        optbridge.from_dict(bad)
    bad = copy.deepcopy(data)
    del bad["optimizer_map"]["default_optimizer"]
    with pytest.raises(ConfigError, match="'default_optimizer' and 'optimizer_map'"):
        optbridge.from_dict(bad)


# -- Keras's errors, in Keras's words ------------------------------------------------------------
def _keras_raises(builtin, message, call):
    if keras is None:
        return
    with pytest.raises(builtin, match=message):
        call(keras.optimizers)


def test_optimizer_map_errors_are_keras():
    with pytest.raises(SpecTypeError, match="default_optimizer must be a Keras Optimizer instance"):
        ko.OptimizerMap("sgd")
    _keras_raises(TypeError, "default_optimizer must be a Keras Optimizer instance", lambda k: k.OptimizerMap("sgd"))
    with pytest.raises(SpecTypeError, match="optimizer_map must be a dictionary"):
        ko.OptimizerMap(ko.SGD(), [("a", ko.Adam())])
    _keras_raises(TypeError, "optimizer_map must be a dictionary", lambda k: k.OptimizerMap(k.SGD(), [("a", k.Adam())]))
    mapping = ko.OptimizerMap(ko.SGD())
    mapping["a/.*"] = ko.Adam()
    for key, value, message in (("a/.*", ko.Adam(), "'a/.*' already exists in the OptimizerMap"),
                                (3, ko.Adam(), "key must be a string. Received: 3"),
                                ("b", 3, "optimizer must be a Keras Optimizer instance. Received: 3")):
        with pytest.raises(SpecValueError, match=message.replace("*", r"\*").replace(".", r"\.")):
            mapping[key] = value
    with pytest.raises(ValueError, match="Multiple optimizers assigned to variable a/kernel."):
        ko.OptimizerMap(ko.SGD(), {".*kernel": ko.Adam(), "a/.*": ko.SGD()})["a/kernel"]
    _keras_raises(ValueError, "Multiple optimizers assigned to variable a/kernel.",
                  lambda k: k.OptimizerMap(k.SGD(), {".*kernel": k.Adam(), "a/.*": k.SGD()})["a/kernel"])
    nested = ko.MultiOptimizer(ko.OptimizerMap(ko.SGD()))
    with pytest.raises(SpecValueError, match="optimizer cannot be MultiOptimizer."):
        mapping["c"] = nested


def test_multi_optimizer_refusals():
    with pytest.raises(SpecTypeError, match="a callable is not supported"):
        ko.MultiOptimizer(lambda variable: ko.SGD())
    with pytest.raises(SpecValueError, match=r"optimizer_map\['\('\]: the key is not a valid regular expression"):
        ko.MultiOptimizer(ko.OptimizerMap(ko.SGD(), {"(": ko.Adam()}))
    with pytest.raises(SpecValueError, match=r"optimizer_map\['\(\?!bias\)\.\*'\]: .*lookahead"):
        ko.MultiOptimizer(ko.OptimizerMap(ko.SGD(), {"(?!bias).*": ko.Adam()}))
    with pytest.raises(SpecValueError, match=r"optimizer_map\['a'\]: keras.optimizers.Adam clips"):
        ko.MultiOptimizer(ko.OptimizerMap(ko.SGD(), {"a": ko.Adam(global_clipnorm=1.0)}))
    with pytest.raises(SpecValueError, match="leave `params` at None"):
        ko.MultiOptimizer(ko.OptimizerMap(ko.SGD(params="a*")))
    with pytest.raises(SpecValueError, match="`loss_scale_factor` must be a number > 0"):
        ko.MultiOptimizer(ko.OptimizerMap(ko.SGD()), loss_scale_factor=0.0)
    scaled = ko.MultiOptimizer(ko.OptimizerMap(ko.SGD()), loss_scale_factor=4.0).to_canonical()
    assert [t.describe() for t in scaled.transforms] == [
        "loss_scale(form='keras', initial_scale=4.0, dynamic=False, growth_interval=2000, growth_factor=2.0, "
        "backoff_factor=0.5, skip_nonfinite=False)"]
    with pytest.raises(AttributeError, match="Learning rate cannot be accessed on a MultiOptimizer"):
        _ = ko.MultiOptimizer(ko.OptimizerMap(ko.SGD())).learning_rate


def test_two_keys_matching_one_variable_fail_the_build_and_change_nothing():
    start = keras_live.initial_values(SEED)
    params = {k: v.copy() for k, v in start.items()}
    multi = ko.MultiOptimizer(ko.OptimizerMap(ko.SGD(), {".*kernel": ko.Adam(), "conv/.*": ko.SGD()}))
    with pytest.raises(DuplicateParameterError,
                       match=r"'conv/kernel' is already in groups\[0\] \({'regex': '.\*kernel'}\)"):
        optbridge.build(multi, params, backend="numpy")
    for n in NAMES:
        assert params[n].tobytes() == start[n].tobytes()


def _snapshot(opt, params):
    sd = opt.state_dict()
    return ({n: np.asarray(p).tobytes() for n, p in params.items()},
            {n: {k: v.tobytes() for k, v in s.items()} for n, s in sd["state"].items()},
            repr({k: v for k, v in sd.items() if k != "state"}), opt.get_lr())


def test_set_hyperparameters_per_group_and_refusals_change_nothing():
    params = {k: v.copy() for k, v in keras_live.initial_values(SEED).items()}
    opt = optbridge.build(ours_multi(), params, backend="numpy")
    for step in range(3):
        opt.step(keras_live.gradients(step, SEED))
    engine = opt.engine
    before = _snapshot(opt, params)
    with pytest.raises(SpecValueError, match=r"groups\[0\] \({'regex': '.\*kernel'}\): 'momentum' is not a "
                                             r"hyperparameter of 'adam'"):
        engine.set_hyperparameters(0, momentum=0.5)
    assert _snapshot(opt, params) == before
    engine.set_hyperparameters(1, momentum=0.5)  # SGD's group
    engine.set_hyperparameters(0, beta1=0.8)     # Adam's group
    assert engine.groups[1].algorithm.momentum == 0.5 and engine.groups[0].algorithm.beta1 == 0.8
    assert engine.groups[2].algorithm.name == "rmsprop" and engine.groups[2].algorithm.momentum == 0.5


def test_state_dict_refuses_another_group_algorithm_and_changes_nothing():
    params = {k: v.copy() for k, v in keras_live.initial_values(SEED).items()}
    opt = optbridge.build(ours_multi(), params, backend="numpy")
    opt.step(keras_live.gradients(0, SEED))
    sd = opt.state_dict()
    assert sd["algorithm"] == "rmsprop"
    assert [g.get("algorithm") for g in sd["groups"]] == ["adam", "sgd", None]
    before = _snapshot(opt, params)
    bad = copy.deepcopy(sd)
    bad["groups"][1]["algorithm"] = "adam"
    with pytest.raises(StateDictError, match=r"groups\[1\].algorithm: the state is for algorithm 'adam', this group "
                                             r"runs 'sgd'"):
        opt.load_state_dict(bad)
    bad = copy.deepcopy(sd)
    del bad["groups"][0]["algorithm"]
    with pytest.raises(StateDictError, match=r"groups\[0\]: keys do not match: missing \['algorithm'\]"):
        opt.load_state_dict(bad)
    assert _snapshot(opt, params) == before
    opt.load_state_dict(sd)
    assert _snapshot(opt, params) == before


def test_group_override_not_of_the_group_algorithm_is_refused_at_build():
    from optbridge.spec import GroupSpec

    spec = ours_multi().to_canonical()
    groups = list(spec.groups)
    groups[1] = GroupSpec(params=groups[1].params, algorithm=groups[1].algorithm, overrides={"beta1": 0.8},
                          source_index=1, optional=True)
    import dataclasses

    bad = dataclasses.replace(spec, groups=tuple(groups))
    params = keras_live.initial_values(SEED)
    with pytest.raises(SpecValueError, match=r"groups\[1\] \({'regex': '.\*bias'}\): 'beta1' is not a "
                                             r"hyperparameter of 'sgd'"):
        optbridge.build(bad, params, backend="numpy")


torch = pytest.importorskip("torch") if keras is not None else None


@needs_keras
def test_state_dict_saved_on_torch_loads_on_tensorflow():
    start = keras_live.initial_values(SEED)
    tensors = {n: torch.nn.Parameter(torch.tensor(v.copy())) for n, v in start.items()}
    on_torch = optbridge.build(ours_multi(), list(tensors.items()), backend="torch")
    reference = {k: v.copy() for k, v in start.items()}
    on_numpy = optbridge.build(ours_multi(), reference, backend="numpy")
    for step in range(5):
        grads = keras_live.gradients(step, SEED)
        for n, p in tensors.items():
            p.grad = torch.tensor(grads[n])
        on_torch.step()
        on_numpy.step(grads)
    sd = on_torch.state_dict()
    variables = {n: tf.Variable(p.detach().numpy().copy()) for n, p in tensors.items()}
    on_tf = optbridge.build(ours_multi(), variables, backend="tensorflow")
    on_tf.load_state_dict(sd)
    assert on_tf.global_step == 5
    for step in range(5, 12):
        grads = keras_live.gradients(step, SEED)
        on_tf.step({n: tf.constant(g) for n, g in grads.items()})
        on_numpy.step(grads)
    for n in NAMES:
        np.testing.assert_allclose(variables[n].numpy(), reference[n], rtol=1e-5, atol=1e-6, err_msg=n)


@needs_keras
def test_torch_add_param_group_and_param_group_views():
    start = keras_live.initial_values(SEED)
    tensors = {n: torch.nn.Parameter(torch.tensor(v.copy())) for n, v in start.items()}
    opt = optbridge.build(ours_multi(), list(tensors.items()), backend="torch")
    assert "momentum" in opt.param_groups[1] and "beta1" in opt.param_groups[0]
    opt.param_groups[1]["momentum"] = 0.7
    assert opt.engine.groups[1].algorithm.momentum == 0.7
    extra = torch.nn.Parameter(torch.ones(3))
    before = [dict(g.options()) for g in opt.param_groups]
    with pytest.raises(SpecValueError, match="unknown keys"):
        opt.add_param_group({"params": [("head/w", extra)], "beta1": 0.5})  # the default is RMSprop
    assert [dict(g.options()) for g in opt.param_groups] == before and len(opt.param_groups) == 3
    opt.add_param_group({"params": [("head/w", extra)], "momentum": 0.1})
    assert opt.engine.groups[-1].algorithm.name == "rmsprop" and opt.engine.groups[-1].algorithm.momentum == 0.1
