"""Variables without a gradient are skipped as Keras skips them.

Keras' ``apply_gradients`` drops ``None`` gradients with a warning and updates the rest
(their slots untouched, the iteration counter advanced); a var list may be a subset of the
variables the optimizer was built with. optbridge's TensorFlow backend and its Keras
adapter do the same, in the loops where users meet it: a ``GradientTape`` loop (eager and
inside ``tf.function``), ``model.fit`` with an output that has no loss, a layer frozen and
the model recompiled with the same optimizer. The reference is Keras itself, with the
Keras-dialect spec of the same optimizer (bit for bit on the trained variables).
"""
from __future__ import annotations

import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import optbridge  # noqa: E402
from optbridge.dialects.keras import optimizers  # noqa: E402
from optbridge.errors import StepInputError  # noqa: E402


def _variables():
    rng = np.random.default_rng(0)
    return [tf.Variable(rng.standard_normal(shape).astype(np.float32), name=name)
            for name, shape in (("a", (3, 4)), ("b", (4,)), ("c", (2,)))]


def _grads(step):
    rng = np.random.default_rng(10 + step)
    return [tf.constant(rng.standard_normal(shape).astype(np.float32)) for shape in ((3, 4), (4,), (2,))]


def _keras_adam(variables):
    opt = keras.optimizers.Adam(0.01)
    opt.build(variables)
    return opt


def _optbridge_adam(variables):
    return optbridge.build(optimizers.Adam(0.01), [(v.name.split(":")[0], v) for v in variables],
                           backend="tensorflow")


def _run(make, skip, steps=4, compiled=False):
    """Variables and optimizer after ``steps`` Adam steps whose gradients at ``skip`` are None."""
    variables = _variables()
    opt = make(variables)

    def apply(grads):
        opt.apply_gradients([(None if i in skip else g, v) for i, (g, v) in enumerate(zip(grads, variables))])

    apply = tf.function(apply) if compiled else apply
    for step in range(steps):
        apply(_grads(step))
    return [v.numpy() for v in variables], opt


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_a_none_gradient_is_skipped_like_keras(compiled):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours, opt = _run(_optbridge_adam, {1}, compiled=compiled)
    theirs, _ = _run(_keras_adam, {1}, compiled=compiled)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    assert np.array_equal(ours[1], _variables()[1].numpy())           # not updated
    assert not np.any(opt.slot("b", "exp_avg").numpy())                # its slots untouched
    assert opt.global_step == 4                                          # the step counted, as Keras counts
    assert any("Gradients do not exist for variables ['b']" in str(w.message) for w in caught)


def test_the_skipped_set_may_change_from_step_to_step():
    variables = _variables()
    opt = optbridge.build(optimizers.SGD(0.1, momentum=0.9), [(v.name.split(":")[0], v) for v in variables],
                          backend="tensorflow")
    ref = keras.optimizers.SGD(0.1, momentum=0.9)
    twins = _variables()
    ref.build(twins)
    for step, skip in enumerate(({0}, set(), {2}, {0, 2}, set())):
        grads = _grads(step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt.apply_gradients([(None if i in skip else g, v) for i, (g, v) in enumerate(zip(grads, variables))])
            ref.apply_gradients([(None if i in skip else g, v) for i, (g, v) in enumerate(zip(grads, twins))])
    for a, b in zip(variables, twins):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_var_list_that_is_a_subset_is_applied():
    variables = _variables()
    opt = _optbridge_adam(variables)
    for step in range(4):
        grads = _grads(step)
        opt.apply_gradients([(grads[0], variables[0]), (grads[2], variables[2])])
    theirs, _ = _run(_keras_adam, {1})
    for a, b in zip([v.numpy() for v in variables], theirs):
        np.testing.assert_array_equal(a, b)


def test_no_gradient_at_all_is_refused_and_changes_nothing():
    variables = _variables()
    opt = _optbridge_adam(variables)
    before = [v.numpy().copy() for v in variables]
    with pytest.raises(StepInputError, match="no gradient for any variable"):
        opt.apply_gradients([(None, v) for v in variables])
    assert opt.global_step == 0
    for a, b in zip(before, variables):
        np.testing.assert_array_equal(a, b.numpy())


def _model():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="hidden")(inputs)
    out = keras.layers.Dense(1, name="out")(hidden)
    unused = keras.layers.Dense(2, name="unused")(hidden)
    model = keras.Model(inputs, [out, unused])
    rng = np.random.default_rng(3)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _fit(optimizer, freeze_after=None):
    model = _model()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    # only the first output has a loss: the "unused" head gets no gradient
    model.compile(optimizer=optimizer, loss=["mse", None], jit_compile=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        if freeze_after is not None:
            model.get_layer(freeze_after).trainable = False
            model.compile(optimizer=optimizer, loss=["mse", None], jit_compile=False)
            model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model


@pytest.mark.parametrize("freeze", [None, "hidden"], ids=["output-without-loss", "frozen-and-recompiled"])
def test_model_fit_skips_what_keras_skips(freeze):
    ours = _fit(optbridge.keras(optimizers.Adam(0.01)), freeze)
    theirs = _fit(keras.optimizers.Adam(0.01), freeze)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_fit_warns_once_per_trace_like_keras_not_twice():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    model = _model()
    model.compile(optimizer=optbridge.keras(optimizers.Adam(0.01)), loss=["mse", None], jit_compile=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    texts = [str(w.message) for w in caught if "Gradients do not exist" in str(w.message)]
    assert texts and not any("optbridge" in t for t in texts)   # Keras' own warning, not a second one
