"""The Keras dialect without Keras: validation, lowering, configs, groups, weight-decay exclusion,
and the Keras flags of the canonical algorithms against independent float64/float32 re-derivations.

(``tests/test_keras_optimizers_live_part1.py`` compares the numbers with Keras itself.)
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import keras_live
import optbridge
from optbridge.algorithms.adadelta import Adadelta
from optbridge.algorithms.adagrad import Adagrad
from optbridge.algorithms.adam import Adam
from optbridge.algorithms.rmsprop import RMSProp
from optbridge.conformance import streams
from optbridge.dialects.keras import optimizers
from optbridge.dialects.keras.optimizers import schedules
from optbridge.errors import GroupError, SpecKeyError, SpecTypeError, SpecValueError
from optbridge.spec import OptimizerSpec

LAYOUT = (("dense/kernel", (4, 3)), ("dense/bias", (3,)), ("norm/gamma", (3,)))
STEPS = 20
SEED = 5
PART1 = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"]


# -- lowering ----------------------------------------------------------------------------------
def test_each_class_lowers_to_its_keras_flags():
    expected = {
        "SGD": ("sgd", dict(momentum_form="keras", weight_decay_form="keras")),
        "Adam": ("adam", dict(eps_placement="hat", power_form="pow", moment_form="keras", weight_decay_form="keras",
                              eps=1e-7)),
        "AdamW": ("adam", dict(eps_placement="hat", power_form="pow", moment_form="keras", weight_decay_form="keras")),
        "RMSprop": ("rmsprop", dict(eps_placement="inside", lr_placement="inside", initial_square_avg=0.0,
                                    arithmetic="keras", weight_decay_form="keras", alpha=0.9, eps=1e-7)),
        "Adagrad": ("adagrad", dict(eps_placement="inside", initial_accumulator_value=0.1, eps=1e-7,
                                    weight_decay_form="keras")),
        "Adadelta": ("adadelta", dict(arithmetic="keras", weight_decay_form="keras", rho=0.95, eps=1e-7)),
    }
    for cls_name, (algorithm, flags) in expected.items():
        spec = getattr(optimizers, cls_name)().to_canonical()
        assert spec.algorithm.name == algorithm, cls_name
        for key, value in flags.items():
            assert getattr(spec.algorithm, key) == value, (cls_name, key)
        assert spec.precision == "float32" and spec.preprocess == () and spec.decay_filter is None, cls_name
        assert spec.origin == f"keras.optimizers.{cls_name}"


def test_weight_decay_none_is_zero_and_adamw_defaults_to_0_004():
    assert optimizers.Adam().to_canonical().weight_decay.value == 0.0
    assert optimizers.AdamW().to_canonical().weight_decay.value == 0.004
    assert optimizers.SGD(weight_decay=3).to_canonical().weight_decay.value == 3.0


def test_learning_rate_forms():
    assert optimizers.SGD(0.5).to_canonical().lr.value == 0.5
    assert optimizers.SGD([0.1, 0.2]).to_canonical().lr.values == (0.1, 0.2)
    sched = schedules.CosineDecay(0.1, 10)
    assert optimizers.Adam(sched).to_canonical().lr.schedule is sched
    with pytest.raises(SpecValueError, match="should be float"):
        optimizers.Adam(np.float32(0.1))
    with pytest.raises(SpecTypeError, match=r"learning_rate\[1\] is 'x'"):
        optimizers.SGD([0.1, "x"])
    with pytest.raises(SpecValueError, match="must not be empty"):
        optimizers.SGD([])


# -- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize("argument,value,transform", [("use_ema", True, "ema"),
                                                      ("loss_scale_factor", 8.0, "loss_scale"),
                                                      ("gradient_accumulation_steps", 2, "accumulate_gradients")])
@pytest.mark.parametrize("cls_name", PART1)
def test_pipeline_arguments_lower_to_transforms(cls_name, argument, value, transform):
    spec = getattr(optimizers, cls_name)(**{argument: value}).to_canonical()
    assert [t.name for t in spec.transforms] == [transform]


def test_pipeline_arguments_lower_in_keras_order():
    spec = optimizers.AdamW(weight_decay=0.1, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=4,
                            loss_scale_factor=2.0, gradient_accumulation_steps=3, clipvalue=0.5).to_canonical()
    assert [t.describe() for t in spec.transforms] == [
        "loss_scale(form='keras', initial_scale=2.0, dynamic=False, growth_interval=2000, growth_factor=2.0, "
        "backoff_factor=0.5, skip_nonfinite=False)",
        "accumulate_gradients(steps=3)",
        "clip_by_value(clip_value=0.5)",
        "ema(momentum=0.9, form='keras', overwrite_frequency=4)",
    ]


@pytest.mark.parametrize("kwargs,message", [
    ({"loss_scale_factor": 0.0}, "`loss_scale_factor` must be a number > 0 or None"),
    ({"loss_scale_factor": "2"}, "loss_scale_factor"),
    ({"use_ema": True, "ema_momentum": 1.5}, r"`ema_momentum` must be in the range \[0, 1\]"),
    ({"use_ema": True, "ema_overwrite_frequency": 1.5}, "`ema_overwrite_frequency` must be an integer >= 1"),
    ({"gradient_accumulation_steps": 1}, "`gradient_accumulation_steps` must be an integer >= 2"),
])
def test_pipeline_arguments_are_checked_like_keras(kwargs, message):
    with pytest.raises((SpecValueError, SpecTypeError), match=message):
        optimizers.Adam(**kwargs)


def test_keras_checks_come_before_the_refusals():
    with pytest.raises(SpecValueError, match="Only one of `clipnorm`, `clipvalue`"):
        optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(SpecValueError, match="must be an integer >= 2"):
        optimizers.SGD(gradient_accumulation_steps=1)
    with pytest.raises(SpecValueError, match="should be float"):
        optimizers.SGD(1, clipnorm=1.0)
    with pytest.raises(SpecValueError, match="`momentum` must be a float between"):
        optimizers.SGD(momentum=2.0, clipnorm=1.0)
    # Keras ignores the EMA settings without use_ema, and so does the dialect
    optimizers.SGD(ema_momentum=5.0, ema_overwrite_frequency=3)


def test_kwargs_decay_warns_and_unknown_raise():
    with pytest.warns(UserWarning, match="`decay` is no longer supported"):
        optimizers.RMSprop(decay=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizers.RMSprop(decay=None)
    with pytest.raises(SpecValueError, match=r"Argument\(s\) not recognized: \{'betas': \(0.9, 0.99\)\}"):
        optimizers.Adam(betas=(0.9, 0.99))


def test_plain_data_types():
    with pytest.raises(SpecTypeError, match="`beta_2` must be a number"):
        optimizers.AdamW(beta_2=lambda: 0.99)
    with pytest.raises(SpecTypeError, match="a callable `learning_rate` is not supported"):
        optimizers.Adagrad(lambda: 0.01)
    with pytest.raises(SpecTypeError, match="`weight_decay` must be a number"):
        optimizers.SGD(weight_decay=[0.1])
    with pytest.raises(SpecTypeError, match="Keras has no dynamic weight decay"):
        optimizers.Adam(weight_decay=schedules.ExponentialDecay(0.1, 2, 0.5))
    with pytest.raises(SpecTypeError, match="`name` must be a string"):
        optimizers.SGD(name=3)
    with pytest.raises(SpecValueError, match="'unassigned' must be 'error' or 'frozen'"):
        optimizers.SGD(unassigned="drop")


def test_group_dicts():
    with pytest.raises(SpecKeyError, match=r"groups\[1\] \('\*'\): unknown key\(s\) \['lr'\]"):
        optimizers.Adam(params=[{"params": "dense/*"}, {"params": "*", "lr": 0.1}])
    with pytest.raises(SpecTypeError, match=r"groups\[0\] \('dense/\*'\): `amsgrad` must be a bool"):
        optimizers.Adam(params=[{"params": "dense/*", "amsgrad": "yes"}])
    with pytest.raises(SpecValueError, match=r"groups\[0\] \('dense/\*'\): Argument `learning_rate` should be float"):
        optimizers.Adam(params=[{"params": "dense/*", "learning_rate": 1}])
    with pytest.raises(SpecTypeError, match=r"groups\[1\] \('\*'\): `weight_decay` must be a number"):
        optimizers.AdamW(params=[{"params": "dense/*"}, {"params": "*", "weight_decay": "0"}])
    with pytest.raises(SpecTypeError, match=r"groups\[1\]: a group must be a dict"):
        optimizers.SGD(params=[{"params": "dense/*"}, "norm/gamma"])
    with pytest.raises(GroupError):
        optimizers.SGD(params={"ndims": 2})
    groups = optimizers.RMSprop(0.01, momentum=0.5, params=[
        {"params": "dense/*", "centered": True, "learning_rate": [0.1, 0.2]},
        {"params": "*", "weight_decay": 0.1, "momentum": 0.0}]).to_canonical().groups
    assert dict(groups[0].overrides) == {"centered": True} and groups[0].lr.values == (0.1, 0.2)
    assert dict(groups[1].overrides) == {"momentum": 0.0} and groups[1].weight_decay.value == 0.1


# -- configs -----------------------------------------------------------------------------------
SPECS = [
    optimizers.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01, name="sgd"),
    optimizers.Adam(schedules.PiecewiseConstantDecay([3, 6], [0.1, 0.05, 0.01]), amsgrad=True,
                    params=[{"params": "dense/*", "beta_1": 0.8}, {"params": "*", "learning_rate": [0.1] * 4}]),
    optimizers.AdamW(weight_decay=0.1, exclude_from_weight_decay=["bias", "norm"], unassigned="frozen",
                     params="dense/*"),
    optimizers.RMSprop(schedules.CosineDecayRestarts(0.01, 5), rho=0.8, momentum=0.5, centered=True),
    optimizers.Adagrad(initial_accumulator_value=0.5, params=["dense/kernel", "norm/*"]),
    optimizers.Adadelta(1.0, rho=0.9, epsilon=1e-6, weight_decay=0.01),
]


@pytest.mark.parametrize("fmt", ["dict", "json", "toml", "yaml"])
@pytest.mark.parametrize("spec", SPECS, ids=[type(s).__name__ for s in SPECS])
def test_config_round_trip(spec, fmt, tmp_path):
    keras_live.assert_config_round_trip(spec, fmt, tmp_path)


def test_exclude_from_weight_decay_method():
    spec = optimizers.SGD(0.1, weight_decay=0.1)
    spec.exclude_from_weight_decay(var_names=["bias"])
    spec.exclude_from_weight_decay(var_names=["gamma", "^dense/k"])  # replaces, as in Keras
    assert spec.to_canonical().decay_exclude == ("gamma", "^dense/k")
    spec.exclude_from_weight_decay(var_list=[], var_names=[])  # empty: no pattern
    assert spec.weight_decay_exclusions == () and "exclude_from_weight_decay" not in optbridge.to_dict(spec)
    with pytest.raises(SpecTypeError, match="`var_list` .* is not supported"):
        spec.exclude_from_weight_decay(var_list=["dense/bias"])
    with pytest.raises(SpecTypeError, match="`var_names` must be a list"):
        spec.exclude_from_weight_decay(var_names="bias")
    with pytest.raises(SpecTypeError, match=r"`var_names\[1\]` must be a string"):
        spec.exclude_from_weight_decay(var_names=["bias", 3])
    with pytest.raises(SpecValueError, match=r"`var_names\[0\]` is not a valid regular expression"):
        spec.exclude_from_weight_decay(var_names=["[bias"])


@pytest.mark.parametrize("cls_name", PART1)
def test_excluded_parameters_are_not_decayed(cls_name):
    """A zero gradient isolates the decay: excluded parameters move only by the update of g = 0."""
    start = streams.as_dtype(streams.initial_params(LAYOUT, SEED), "float64")
    zero = {n: np.zeros_like(v) for n, v in start.items()}
    runs = {}
    for exclude in (None, ["bias", "gamma"]):
        params = {k: v.copy() for k, v in start.items()}
        spec = getattr(optimizers, cls_name)(0.1, weight_decay=0.5, exclude_from_weight_decay=exclude)
        optbridge.build(spec, params, backend="numpy").step(zero)
        runs[bool(exclude)] = params
    factor = 1 - float(np.float32(0.5)) * float(np.float32(0.1))  # wd, lr: float32 host scalars
    for name in ("dense/bias", "norm/gamma"):
        np.testing.assert_array_equal(runs[True][name], start[name])
        np.testing.assert_allclose(runs[False][name], start[name] * factor, rtol=1e-15)
    np.testing.assert_allclose(runs[True]["dense/kernel"], start["dense/kernel"] * factor, rtol=1e-15)


# -- the canonical Keras flags against independent re-derivations -------------------------------
def _run(algorithm, lr, wd, dtype):
    params = streams.as_dtype(streams.initial_params(LAYOUT, SEED), dtype)
    spec = OptimizerSpec(algorithm=algorithm, lr=optbridge.schedules.values.Constant(lr),
                         weight_decay=optbridge.schedules.values.Constant(wd), precision="float32", preprocess=())
    opt = optbridge.build(spec, params, backend="numpy")
    for step in range(STEPS):
        opt.step(streams.as_dtype(streams.gradients(LAYOUT, step, SEED), dtype))
    return params


def _reference(update, slots, lr, wd, dtype):
    """``update(p, g, state, t)`` in float64 after Keras's decay ``p − (p·wd)·lr``."""
    params = {k: v.astype(np.float64) for k, v in streams.as_dtype(streams.initial_params(LAYOUT, SEED),
                                                                    dtype).items()}
    state = {n: {k: np.full(p.shape, init) for k, init in slots.items()} for n, p in params.items()}
    f32 = np.float32
    lr = float(f32(lr))
    wd = float(f32(wd))
    for step in range(STEPS):
        grads = streams.as_dtype(streams.gradients(LAYOUT, step, SEED), dtype)
        for n, p in params.items():
            p -= p * wd * lr
            update(p, grads[n].astype(np.float64), state[n], step + 1)
    return params


def _assert_close(ours, theirs, rtol):
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=rtol, atol=rtol * 1e-3, err_msg=name)


def test_keras_adadelta_and_decay_float64():
    rho, eps, lr, wd = 0.8, 1e-5, 0.5, 0.02

    def update(p, g, s, t):
        s["v"] = rho * s["v"] + (1 - rho) * g * g
        delta = np.sqrt(s["u"] + eps) * g / np.sqrt(s["v"] + eps)
        s["u"] = rho * s["u"] + (1 - rho) * delta * delta
        p -= lr * delta

    alg = Adadelta(rho=rho, eps=eps, arithmetic="keras", weight_decay_form="keras")
    # float32 host constants: compare in float64 against a re-derivation with those constants
    _assert_close(_run(alg, lr, wd, "float64"),
                  _reference(update, {"v": 0.0, "u": 0.0}, lr, wd, "float64"), 1e-6)


def test_keras_rmsprop_adagrad_decay_float64():
    rho, mom, eps, lr, wd = 0.9, 0.5, 1e-6, 0.01, 0.1

    def rms_update(p, g, s, t):
        s["v"] = rho * s["v"] + (1 - rho) * g * g
        s["a"] = rho * s["a"] + (1 - rho) * g
        s["b"] = mom * s["b"] + lr * g / np.sqrt(s["v"] - s["a"] ** 2 + eps)
        p -= s["b"]

    alg = RMSProp(alpha=rho, eps=eps, momentum=mom, centered=True, eps_placement="inside", lr_placement="inside",
                  arithmetic="keras", weight_decay_form="keras")
    _assert_close(_run(alg, lr, wd, "float64"),
                  _reference(rms_update, {"v": 0.0, "a": 0.0, "b": 0.0}, lr, wd, "float64"), 1e-6)

    def ada_update(p, g, s, t):
        s["s"] = s["s"] + g * g
        p -= lr * g / np.sqrt(s["s"] + eps)

    alg = Adagrad(eps=eps, initial_accumulator_value=0.2, eps_placement="inside", weight_decay_form="keras")
    _assert_close(_run(alg, lr, wd, "float64"), _reference(ada_update, {"s": 0.2}, lr, wd, "float64"), 1e-6)


def test_keras_adam_float64():
    b1, b2, eps, lr, wd = 0.8, 0.95, 1e-6, 0.01, 0.05

    def update(p, g, s, t):
        s["m"] = s["m"] + (g - s["m"]) * (1 - b1)
        s["v"] = s["v"] + (g * g - s["v"]) * (1 - b2)
        p -= lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * s["m"] / (np.sqrt(s["v"]) + eps)

    alg = Adam(beta1=b1, beta2=b2, eps=eps, eps_placement="hat", power_form="pow", moment_form="keras",
               weight_decay_form="keras")
    _assert_close(_run(alg, lr, wd, "float64"), _reference(update, {"m": 0.0, "v": 0.0}, lr, wd, "float64"), 1e-5)


@pytest.mark.parametrize("algorithm,key,beta", [
    (Adam(beta1=0.9, beta2=0.999, moment_form="keras"), "one_minus_beta1", 0.9),
    (Adam(beta1=0.9, beta2=0.999, moment_form="keras"), "one_minus_beta2", 0.999),
    (RMSProp(alpha=0.9, arithmetic="keras"), "one_minus_alpha", 0.9),
    (Adadelta(rho=0.95, arithmetic="keras"), "one_minus_rho", 0.95),
])
def test_keras_complements_are_python_floats_rounded_to_float32(algorithm, key, beta):
    """Keras writes ``1 - beta`` on Python floats; the float32 difference is a few ulp off."""
    hs = optbridge.algorithms.base.HostStep(lr=0.1, weight_decay=0.0, step=1)
    scalars, _ = algorithm.host_scalars(algorithm.init_host_state(), hs, "float32")
    assert scalars[key] == float(np.float32(1.0 - beta))
    assert float(np.float32(1.0 - beta)) != float(np.float32(1.0) - np.float32(beta))
    torch_like = algorithm.replace(**({"moment_form": "lerp"} if isinstance(algorithm, Adam) else
                                      {"arithmetic": "torch"}))
    scalars, _ = torch_like.host_scalars(torch_like.init_host_state(), hs, "float32")
    assert scalars[key] == float(np.float32(1.0) - np.float32(beta))


def test_keras_adadelta_op_order_differs_from_torch_in_float32():
    """Same formula, different roundings: the flag is needed for bitwise agreement."""
    keras_run = _run(Adadelta(rho=0.9, eps=1e-6, arithmetic="keras"), 1.0, 0.0, "float32")
    torch_run = _run(Adadelta(rho=0.9, eps=1e-6, arithmetic="torch"), 1.0, 0.0, "float32")
    assert any(not np.array_equal(keras_run[n], torch_run[n]) for n in keras_run)
    _assert_close(keras_run, torch_run, 1e-4)


def test_flag_values_are_checked():
    with pytest.raises(ValueError, match="weight_decay_form must be one of"):
        Adagrad(weight_decay_form="decoupled")
    with pytest.raises(ValueError, match="arithmetic must be one of"):
        Adadelta(arithmetic="mindspore")
    with pytest.raises(ValueError, match="moment_form must be one of"):
        Adam(moment_form="optax")
    assert RMSProp(weight_decay_form="keras").weight_decay_applied_by == "rule"
    assert Adadelta().weight_decay_applied_by == "pipeline"
