"""Keras-dialect SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta against Keras 3 itself.

Each case builds the optbridge spec and ``keras.optimizers.<Cls>`` from the same
arguments, feeds both the deterministic gradient streams of
:mod:`optbridge.conformance.streams` for 25 steps (Keras applied to real ``tf.Variable``\\ s,
optbridge on its NumPy backend) and compares every variable after every step:
``|ours − keras| ≤ 1e-6 + 1e-5·|keras|`` per float32 element. Group cases compare an
optbridge optimizer with two parameter groups against two Keras optimizers, one per
group, with the group's hyperparameters (what a group means in Keras terms).

The bit-identical share and the worst ulp distance per class are printed
(``pytest -s -k report``); on the NumPy backend every element is asserted identical (as
measured). Each class also runs on optbridge's TensorFlow backend (``optbridge.build`` on
``tf.Variable``\\ s) with the same tolerance; there the share is reported, not asserted:
Grappler's arithmetic optimizer rewrites ``x / sqrt(y)`` inside the backend's
``tf.function`` kernels into ``x * rsqrt(y)`` (Keras runs eagerly), which moves RMSprop,
Adagrad and Adadelta by a few ulp. Also here: Keras's own messages for the
catalog's ``construct`` records, and ``exclude_from_weight_decay`` against Keras.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("keras")

import keras_live  # noqa: E402
import optbridge  # noqa: E402
from keras_live import (NAMES, cosine, exponential, inverse_time, piecewise, polynomial,  # noqa: E402
                        restarts)
from optbridge.conformance.catalog import CONSTRUCT_ERRORS  # noqa: E402
from optbridge.dialects.keras import optimizers  # noqa: E402

SEED = 23


#: (id, class, constructor arguments, learning-rate schedule or None, exclusion patterns, tf backend run)
CASES = [
    ("sgd_plain_wd", "SGD", dict(learning_rate=0.05, weight_decay=0.01), None, None, True),
    ("sgd_momentum_schedule", "SGD", dict(momentum=0.9, weight_decay=0.05), exponential(0.05), ["bias", "gamma"],
     False),
    ("sgd_nesterov", "SGD", dict(learning_rate=0.02, momentum=0.8, nesterov=True), piecewise(0.05), None, True),
    ("adam_default", "Adam", dict(), None, None, True),
    ("adam_amsgrad_wd_schedule", "Adam", dict(beta_1=0.8, beta_2=0.95, epsilon=1e-6, amsgrad=True, weight_decay=0.1),
     cosine(0.01), None, True),
    ("adam_exclude", "Adam", dict(learning_rate=0.01, weight_decay=0.05), None, ["bias"], False),
    ("adamw_default", "AdamW", dict(learning_rate=0.01), None, None, True),
    ("adamw_amsgrad_schedule", "AdamW", dict(weight_decay=0.05, beta_1=0.5, amsgrad=True), polynomial(0.02),
     ["gamma", "bias"], True),
    ("rmsprop_default", "RMSprop", dict(), None, None, False),
    ("rmsprop_centered_momentum", "RMSprop", dict(rho=0.8, momentum=0.9, epsilon=1e-5, centered=True,
                                                  weight_decay=0.02), inverse_time(0.005), None, True),
    ("rmsprop_momentum_wd", "RMSprop", dict(learning_rate=0.01, momentum=0.5, weight_decay=0.1), None, ["norm"],
     False),
    ("adagrad_default", "Adagrad", dict(learning_rate=0.05), None, None, True),
    ("adagrad_wd_schedule", "Adagrad", dict(initial_accumulator_value=0.5, epsilon=1e-4, weight_decay=0.05),
     restarts(0.1), None, False),
    ("adadelta_default", "Adadelta", dict(learning_rate=1.0), None, None, True),
    ("adadelta_wd_schedule", "Adadelta", dict(rho=0.8, epsilon=1e-5, weight_decay=0.02), exponential(0.5), ["bias"],
     False),
]
CLASSES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"]

#: (id, class, shared arguments, group-A overrides, group-B overrides): optbridge groups vs
#: one Keras optimizer per group.
GROUP_CASES = [
    ("sgd", "SGD", dict(learning_rate=0.05, momentum=0.9, weight_decay=0.01),
     dict(learning_rate=0.02, nesterov=True), dict(momentum=0.5, weight_decay=None)),
    ("adam", "Adam", dict(learning_rate=0.01, weight_decay=0.02), dict(beta_1=0.7, amsgrad=True),
     dict(learning_rate=0.003, epsilon=1e-5)),
    ("adamw", "AdamW", dict(learning_rate=0.01), dict(weight_decay=0.1), dict(beta_2=0.9)),
    ("rmsprop", "RMSprop", dict(learning_rate=0.005, momentum=0.5), dict(centered=True, rho=0.7),
     dict(momentum=0.0, weight_decay=0.05)),
    ("adagrad", "Adagrad", dict(learning_rate=0.05), dict(initial_accumulator_value=0.3), dict(epsilon=1e-3)),
    ("adadelta", "Adadelta", dict(learning_rate=1.0, weight_decay=0.01), dict(rho=0.7), dict(epsilon=1e-4)),
]

_STATS: dict[tuple[str, str], dict[str, float]] = {}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_numpy_backend_matches_keras(case):
    keras_live.assert_matches_keras(case, SEED, _STATS)


@pytest.mark.parametrize("case", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_groups_match_one_keras_optimizer_per_group(case):
    keras_live.assert_groups_match_keras(case, SEED, _STATS)


TF_CASES = [c for c in CASES if c[5]]


@pytest.mark.parametrize("case", TF_CASES, ids=[c[0] for c in TF_CASES])
def test_tensorflow_backend_matches_keras(case):
    keras_live.assert_matches_keras(case, SEED, _STATS, backend="tensorflow")


def test_every_class_has_two_cases_and_a_tensorflow_run():
    for cls_name in CLASSES:
        assert sum(c[1] == cls_name for c in CASES) >= 2, cls_name
        assert any(c[1] == cls_name for c in TF_CASES), cls_name


def test_report_float32_agreement(capsys):
    """Print and check the per-class float32 agreement with Keras (run after the cases above)."""
    expected = {(backend, c) for backend in ("numpy", "tensorflow") for c in CLASSES}
    if set(_STATS) != expected:
        pytest.skip("run together with the comparison tests to collect the numbers")
    with capsys.disabled():
        print("\n" + "\n".join(keras_live.report(_STATS, expected)))
    for cls_name in CLASSES:
        s = _STATS["numpy", cls_name]
        assert s["identical"] == s["total"], cls_name


# -- exclude_from_weight_decay -----------------------------------------------------------------
def test_exclusion_patterns_decide_like_keras_on_tensorflow():
    """Keras on TensorFlow searches the tf.Variable name (path + ':0'); unanchored patterns agree."""
    start = keras_live.initial_values(SEED)
    zero = {n: np.zeros_like(v) for n, v in start.items()}
    for patterns in (["bias"], ["^dense", "gamma"], ["conv/k.*"], ["kernel"]):
        spec = optimizers.SGD(0.5, weight_decay=0.1)
        spec.exclude_from_weight_decay(var_names=patterns)
        ours = {k: v.copy() for k, v in start.items()}
        optbridge.build(spec, ours, backend="numpy").step(zero)
        variables = keras_live.keras_variables(start, NAMES)
        reference = keras_live.keras_optimizer(spec)
        theirs = keras_live.apply_keras(reference, zero, NAMES, variables)
        for name in NAMES:
            kept = np.array_equal(theirs[name], start[name])
            assert np.array_equal(ours[name], start[name]) == kept, (patterns, name)
            assert kept == any(re.search(p, name) for p in patterns), (patterns, name)


def test_exclusion_is_config_data_and_refuses_variables():
    spec = optimizers.AdamW(0.01)
    spec.exclude_from_weight_decay(var_names=["bias", "norm"])
    data = optbridge.to_dict(spec)
    assert data["exclude_from_weight_decay"] == ["bias", "norm"]
    again = optbridge.from_dict(data)
    assert again == spec and again.to_canonical().decay_exclude == ("bias", "norm")
    spec.exclude_from_weight_decay()
    assert spec.to_canonical().decay_exclude == ()
    with pytest.raises(TypeError, match="`var_list` .* is not supported by optbridge"):
        spec.exclude_from_weight_decay(var_list=[tf.Variable(1.0)])


# -- the catalog's construct records against Keras itself ----------------------------------------
#: Records about optbridge's extensions, plain-data rules or refusals, which Keras does not raise.
OPTBRIDGE_ONLY = {
    "keras.sgd-lr_callable", "keras.sgd-clipnorm_str", "keras.sgd-global_clipnorm_list",
    "keras.sgd-loss_scale_factor_zero", "keras.sgd-weight_decay_str", "keras.sgd-weight_decay_schedule",
    "keras.sgd-exclude_bad_regex", "keras.sgd-nesterov_str", "keras.sgd-params_empty", "keras.sgd-group_no_params",
    "keras.sgd-group_bad_key", "keras.sgd-group_momentum_range", "keras.sgd-group_lr_int",
    "keras.sgd-params_bad_selector", "keras.adam-beta_1_str", "keras.adam-amsgrad_int",
    "keras.adam-group_epsilon_str", "keras.rmsprop-rho_none", "keras.rmsprop-centered_str",
    "keras.adagrad-accumulator_str", "keras.adadelta-epsilon_list",
}
KERAS_RECORDS = [r for r in CONSTRUCT_ERRORS if r.optimizer.split(".")[-1] in CLASSES
                 and r.optimizer.startswith("keras.optimizers.")]


@pytest.mark.parametrize("record", KERAS_RECORDS, ids=[r.id for r in KERAS_RECORDS])
def test_construct_record(record):
    keras_live.assert_construct_record(record, OPTBRIDGE_ONLY)


def test_every_class_has_records():
    assert {r.optimizer.split(".")[-1] for r in KERAS_RECORDS} == set(CLASSES)


def test_signatures_match_keras():
    """Argument names, order and defaults are Keras's (optbridge adds keyword-only extensions)."""
    keras_live.assert_signatures_match_keras(CLASSES)


def test_decay_keyword_warns_and_is_ignored_like_keras():
    with pytest.warns(UserWarning, match="Argument `decay` is no longer supported"):
        spec = optimizers.Adam(decay=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert spec == optimizers.Adam()
