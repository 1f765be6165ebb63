"""Who owns the learning rate on the Keras adapter: Keras' lr callbacks vs the spec (issue 16).

``optimizer.learning_rate`` is the first group's lr; assigning it (``ReduceLROnPlateau``,
``LearningRateScheduler``) scales every group by the same factor, as torch's
``ReduceLROnPlateau`` scales each group, and is refused, with nothing changed, when the
spec gives a group a per-step list or a schedule.
"""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import optbridge  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.errors import SpecValueError, StaticLearningRateError  # noqa: E402
import optbridge.backends.tensorflow.keras_adapter  # noqa: E402,F401

X = np.random.default_rng(0).standard_normal((32, 4)).astype("float32")
Y = np.tanh(X[:, :1])


def make_model():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh", name="hidden"),
                             keras.layers.Dense(1, name="out")], name="net")


def fit(spec, callbacks, epochs=3):
    keras.utils.set_random_seed(1)
    model = make_model()
    opt = optbridge.keras(spec)
    model.compile(optimizer=opt, loss="mse")
    model.fit(X, Y, batch_size=16, epochs=epochs, verbose=0, callbacks=callbacks)
    return model, opt


def grouped(hidden_lr=0.01, other_lr=0.1):
    return nn.Momentum([{"params": "*hidden/*", "lr": hidden_lr}, {"params": "*", "lr": other_lr}], 0.1, 0.9)


def test_reduce_lr_on_plateau_scales_every_group_like_torch():
    # min_delta beyond any change: every epoch after the first is a plateau, so the lr halves twice in 3 epochs
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9, min_lr=0.0)
    _, opt = fit(grouped(), [plateau])
    # torch's ReduceLROnPlateau halves each group: 0.01 -> 0.0025 and 0.1 -> 0.025 (float32 host scalars)
    assert opt.optbridge.get_lr() == pytest.approx([0.01 * 0.25, 0.1 * 0.25], rel=1e-6)
    lr0, lr1 = opt.optbridge.get_lr()
    assert lr1 / lr0 == pytest.approx(10.0, rel=1e-6)
    assert opt.learning_rate == lr0


def test_learning_rate_scheduler_sets_group_0_and_keeps_the_ratios():
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.02 if epoch >= 1 else lr)
    model, opt = fit(grouped(), [schedule], epochs=2)
    assert opt.optbridge.get_lr() == pytest.approx([0.02, 0.2], rel=1e-6)
    assert opt.optbridge.global_step == 4 == int(opt.iterations)


@pytest.mark.parametrize("callback", [
    lambda: keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5),
    lambda: keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9),
], ids=["LearningRateScheduler", "ReduceLROnPlateau"])
def test_lr_callback_on_a_spec_owned_lr_is_refused_with_nothing_changed(callback):
    spec = nn.Momentum([{"params": "*hidden/*", "lr": 0.01}, {"params": "*", "lr": [0.1, 0.05, 0.02, 0.01] * 4}],
                       0.1, 0.9)
    keras.utils.set_random_seed(1)
    model = make_model()
    opt = optbridge.keras(spec)
    model.compile(optimizer=opt, loss="mse")
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)  # built, 2 steps taken
    weights, lrs, step = model.get_weights(), opt.optbridge.get_lr(), opt.optbridge.global_step
    cb = callback()
    name = type(cb).__name__
    with pytest.raises(StaticLearningRateError) as info:
        model.fit(X, Y, batch_size=16, epochs=3, verbose=0, callbacks=[cb])
    message = str(info.value)
    assert f"groups[1] ('*'): keras.callbacks.{name} cannot set this group's learning rate" in message
    assert "a per-step list of 16 values" in message and "static lr in the spec" in message
    assert "declare the schedule in the spec" in message and "Nothing was changed" in message
    assert opt.optbridge.get_lr()[0] == lrs[0]  # group 0 was not scaled either
    if name == "LearningRateScheduler":  # refused at the first epoch's start: not a step taken
        assert opt.optbridge.get_lr() == lrs and opt.optbridge.global_step == step
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))


def test_lr_callback_before_the_first_step_is_refused_from_the_spec():
    spec = nn.Adam([{"params": "*hidden/*", "lr": nn.WarmUpLR(0.01, 5)}, {"params": "*"}], 1e-3)
    keras.utils.set_random_seed(1)
    model = make_model()
    opt = optbridge.keras(spec)
    model.compile(optimizer=opt, loss="mse")
    with pytest.raises(StaticLearningRateError, match=r"groups\[0\] \('\*hidden/\*'\): keras\.callbacks\."
                                                      r"LearningRateScheduler .*the schedule 'WarmUpLR'"):
        model.fit(X, Y, batch_size=16, epochs=1, verbose=0,
                  callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr)])
    assert opt._pending_lr is None


def test_assignment_before_build_is_scaled_at_build():
    opt = optbridge.keras(grouped())
    assert opt.learning_rate == pytest.approx(0.01)  # group 0's lr, as after build
    opt.learning_rate = 0.005
    opt.build(make_model().trainable_variables)
    assert opt.optbridge.get_lr() == pytest.approx([0.005, 0.05], rel=1e-6)


def test_group_0_at_zero_has_no_factor():
    opt = optbridge.keras(grouped(hidden_lr=0.0))
    opt.build(make_model().trainable_variables)
    with pytest.raises(SpecValueError, match="groups\\[0\\]'s lr is 0"):
        opt.learning_rate = 0.1
    assert opt.optbridge.get_lr() == pytest.approx([0.0, 0.1])
    with pytest.raises(SpecValueError, match="finite number >= 0"):
        opt.learning_rate = float("nan")
