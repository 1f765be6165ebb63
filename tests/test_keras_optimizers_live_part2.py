"""Keras-dialect Adamax, Nadam, Ftrl, Lion and Lamb against Keras 3 itself.

Each case builds the optbridge spec and ``keras.optimizers.<Cls>`` from the same
arguments, feeds both the deterministic gradient streams of
:mod:`optbridge.conformance.streams` for 25 steps (Keras applied to real ``tf.Variable``\\ s,
optbridge on its NumPy backend) and compares every variable after every step:
``|ours − keras| ≤ 1e-6 + 1e-5·|keras|`` per float32 element. Group cases compare an
optbridge optimizer with two parameter groups against two Keras optimizers, one per
group, with the group's hyperparameters. One argument set per class also runs on
optbridge's TensorFlow backend with the same tolerance.

The bit-identical share and the worst ulp distance per class are printed
(``pytest -s -k report``). On the NumPy backend Adamax, Nadam and Lion are asserted
bit-identical (as measured); Ftrl and Lamb are not, because Keras computes ``ops.power``
(FTRL's ``n^{-p}``, LAMB's ``x²`` inside the norms) with Eigen's vectorised float32
``pow``, which is not correctly rounded, and LAMB's norms are TensorFlow reductions; their
shares are asserted at the level measured. Also here: Keras's own messages for the
catalog's ``construct`` records, the signatures, and config round trips (these last
need neither TensorFlow nor Keras).
"""
from __future__ import annotations

import pytest

import keras_live
from keras_live import cosine, exponential, inverse_time, piecewise, polynomial, restarts
from optbridge.algorithms import FTRL, Adamax, Lamb, Lion, NAdam
from optbridge.conformance.catalog import CONSTRUCT_ERRORS, DIALECT_CASES
from optbridge.dialects.base import dialect_registry
from optbridge.dialects.keras import optimizers
from optbridge.dialects.keras.optimizers import schedules

keras = keras_live.frameworks()[0]  # None in the core tox env, which has neither Keras nor TensorFlow
needs_keras = pytest.mark.skipif(keras is None, reason="needs keras and tensorflow")

SEED = 29
CLASSES = ["Adamax", "Nadam", "Ftrl", "Lion", "Lamb"]


#: (id, class, constructor arguments, learning-rate schedule or None, exclusion patterns, tf backend run)
CASES = [
    ("adamax_default", "Adamax", dict(), None, None, True),
    ("adamax_small_beta2_wd_schedule", "Adamax", dict(beta_1=0.8, beta_2=0.5, epsilon=1e-3, weight_decay=0.05),
     exponential(0.01), ["bias"], False),
    ("adamax_wd", "Adamax", dict(learning_rate=0.01, weight_decay=0.1), None, None, False),
    ("nadam_default", "Nadam", dict(learning_rate=0.01), None, None, True),
    ("nadam_wd_schedule", "Nadam", dict(beta_1=0.8, beta_2=0.99, epsilon=1e-5, weight_decay=0.05), cosine(0.01),
     ["gamma"], False),
    ("nadam_wd", "Nadam", dict(learning_rate=0.005, beta_1=0.95, weight_decay=0.1), None, None, False),
    ("ftrl_default", "Ftrl", dict(learning_rate=0.1), None, None, True),
    ("ftrl_l1_l2", "Ftrl", dict(learning_rate=0.1, l1_regularization_strength=0.01,
                                l2_regularization_strength=0.05), None, None, False),
    ("ftrl_power_shrinkage_wd_schedule", "Ftrl",
     dict(learning_rate_power=-0.3, initial_accumulator_value=0.5, l2_shrinkage_regularization_strength=0.03,
          weight_decay=0.02), inverse_time(0.1), ["bias"], False),
    ("ftrl_beta_fixed_rate", "Ftrl", dict(learning_rate=0.05, learning_rate_power=0.0, beta=0.5,
                                          l1_regularization_strength=0.001, l2_regularization_strength=0.01),
     None, None, False),
    ("ftrl_zero_accumulator", "Ftrl", dict(initial_accumulator_value=0.0, learning_rate_power=-0.7,
                                           weight_decay=0.01), piecewise(0.1), None, False),
    ("lion_default", "Lion", dict(), None, None, True),
    ("lion_wd_schedule", "Lion", dict(beta_1=0.95, beta_2=0.98, weight_decay=0.1), polynomial(0.003), ["norm"], False),
    ("lamb_default", "Lamb", dict(learning_rate=0.01), None, None, False),
    ("lamb_wd_schedule", "Lamb", dict(beta_1=0.8, beta_2=0.95, epsilon=1e-6, weight_decay=0.05), restarts(0.02),
     ["bias"], False),
    ("lamb_wd", "Lamb", dict(learning_rate=0.01, weight_decay=0.1), None, None, True),
]

#: (id, class, shared arguments, group-A overrides, group-B overrides): optbridge groups vs
#: one Keras optimizer per group.
GROUP_CASES = [
    ("adamax", "Adamax", dict(learning_rate=0.01, weight_decay=0.02), dict(beta_2=0.6),
     dict(learning_rate=0.003, weight_decay=None)),
    ("nadam", "Nadam", dict(learning_rate=0.01), dict(beta_1=0.8, weight_decay=0.05), dict(epsilon=1e-4)),
    ("ftrl", "Ftrl", dict(learning_rate=0.1, l1_regularization_strength=0.005),
     dict(initial_accumulator_value=0.5, learning_rate_power=-0.4),
     dict(l2_shrinkage_regularization_strength=0.02, weight_decay=0.01)),
    ("lion", "Lion", dict(learning_rate=0.001, weight_decay=0.1), dict(beta_1=0.8), dict(learning_rate=0.003)),
    ("lamb", "Lamb", dict(learning_rate=0.01, weight_decay=0.02), dict(beta_2=0.9), dict(weight_decay=None)),
]

#: Minimum bit-identical share on the NumPy backend, as measured with Keras 3.15 / TF 2.21
#: on x86-64 (see the module docstring for why Ftrl and Lamb are not at 100%).
MIN_IDENTICAL = {"Adamax": 1.0, "Nadam": 1.0, "Lion": 1.0, "Ftrl": 0.45, "Lamb": 0.9}

_STATS: dict[tuple[str, str], dict[str, float]] = {}


@needs_keras
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_numpy_backend_matches_keras(case):
    keras_live.assert_matches_keras(case, SEED, _STATS)


@needs_keras
@pytest.mark.parametrize("case", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_groups_match_one_keras_optimizer_per_group(case):
    keras_live.assert_groups_match_keras(case, SEED, _STATS)


TF_CASES = [c for c in CASES if c[5]]


@needs_keras
@pytest.mark.parametrize("case", TF_CASES, ids=[c[0] for c in TF_CASES])
def test_tensorflow_backend_matches_keras(case):
    keras_live.assert_matches_keras(case, SEED, _STATS, backend="tensorflow")


def test_every_class_has_two_cases_a_group_case_and_a_tensorflow_run():
    for cls_name in CLASSES:
        assert sum(c[1] == cls_name for c in CASES) >= 2, cls_name
        assert any(c[1] == cls_name for c in GROUP_CASES), cls_name
        assert any(c[1] == cls_name for c in TF_CASES), cls_name
        with_decay = [c for c in CASES if c[1] == cls_name and c[2].get("weight_decay")]
        assert with_decay, cls_name
    ftrl = [c[2] for c in CASES if c[1] == "Ftrl"]
    for argument in ("l1_regularization_strength", "l2_regularization_strength",
                     "l2_shrinkage_regularization_strength", "initial_accumulator_value", "learning_rate_power"):
        assert any(argument in kwargs for kwargs in ftrl), argument


@needs_keras
def test_report_float32_agreement(capsys):
    """Print and check the per-class float32 agreement with Keras (run after the cases above)."""
    expected = {("numpy", c) for c in CLASSES} | {("tensorflow", c[1]) for c in TF_CASES}
    if set(_STATS) != expected:
        pytest.skip("run together with the comparison tests to collect the numbers")
    with capsys.disabled():
        print("\n" + "\n".join(keras_live.report(_STATS, expected)))
    for cls_name in CLASSES:
        s = _STATS["numpy", cls_name]
        assert s["identical"] / s["total"] >= MIN_IDENTICAL[cls_name], cls_name


# -- lowering ------------------------------------------------------------------------------------
def test_lowering_flags():
    """Each class lowers to its canonical algorithm with the Keras flags and float32 host scalars."""
    expected = {
        "Adamax": Adamax(beta1=0.8, beta2=0.5, eps=1e-3, eps_placement="denominator", power_form="pow",
                         arithmetic="keras", weight_decay_form="keras"),
        "Nadam": NAdam(beta1=0.8, beta2=0.5, eps=1e-3, form="keras", weight_decay_form="keras"),
        "Lamb": Lamb(beta1=0.8, beta2=0.5, eps=1e-3, weight_decay_form="keras", arithmetic="keras"),
    }
    for cls_name, algorithm in expected.items():
        spec = getattr(optimizers, cls_name)(beta_1=0.8, beta_2=0.5, epsilon=1e-3).to_canonical()
        assert spec.algorithm == algorithm, cls_name
        assert (spec.precision, spec.preprocess, spec.decay_filter) == ("float32", (), None)
    assert optimizers.Lion(beta_1=0.8, beta_2=0.5).to_canonical().algorithm == Lion(
        beta_1=0.8, beta_2=0.5, weight_decay_form="keras")
    ftrl = optimizers.Ftrl(learning_rate_power=-0.3, initial_accumulator_value=0.2, l1_regularization_strength=0.01,
                           l2_regularization_strength=0.02, l2_shrinkage_regularization_strength=0.03, beta=0.4)
    assert ftrl.to_canonical().algorithm == FTRL(lr_power=-0.3, l1=0.01, l2=0.02, initial_accumulator_value=0.2,
                                                 l1_sign="signed", l2_shrinkage=0.03, beta=0.4,
                                                 power_precision="native", weight_decay_form="keras")


def test_weight_decay_none_and_groups_lower_to_values_and_overrides():
    spec = optimizers.Ftrl(0.1, params=[{"params": "dense/*", "initial_accumulator_value": 0.5, "weight_decay": 0.1},
                                        {"params": "*", "learning_rate": 0.05}]).to_canonical()
    assert spec.weight_decay.value == 0.0 and spec.lr.value == 0.1
    first, second = spec.groups
    assert first.overrides == {"initial_accumulator_value": 0.5} and first.weight_decay.value == 0.1
    assert second.overrides == {} and second.lr.value == 0.05 and second.weight_decay is None


# -- configs -------------------------------------------------------------------------------------
ROUND_TRIP = [
    optimizers.Adamax(0.002, beta_2=0.5, weight_decay=0.01, exclude_from_weight_decay=["bias"]),
    optimizers.Nadam(schedules.CosineDecay(0.001, 10, warmup_target=0.01, warmup_steps=3), beta_1=0.8,
                     params=[{"params": "dense/*", "epsilon": 1e-5}, {"params": "*", "learning_rate": 0.002}]),
    optimizers.Ftrl(schedules.ExponentialDecay(0.1, 4, 0.7), learning_rate_power=-0.3,
                    l2_shrinkage_regularization_strength=0.01, params=[{"params": "dense/*",
                                                                        "initial_accumulator_value": 0.5},
                                                                       {"params": "*"}], unassigned="frozen"),
    optimizers.Lion(learning_rate=[0.001] * 3 + [0.0005] * 3, beta_1=1.0, weight_decay=0.1, name="lion"),
    optimizers.Lamb(0.01, epsilon=1e-6, weight_decay=0.02, params="dense/*", unassigned="frozen"),
]


@pytest.mark.parametrize("fmt", ["dict", "json", "toml", "yaml"])
@pytest.mark.parametrize("spec", ROUND_TRIP, ids=[type(s).__name__ for s in ROUND_TRIP])
def test_config_round_trip(spec, fmt, tmp_path):
    keras_live.assert_config_round_trip(spec, fmt, tmp_path)


def test_every_class_has_a_catalog_entry_with_its_own_records():
    for cls_name in CLASSES:
        qualname = f"keras.optimizers.{cls_name}"
        assert dialect_registry[qualname] is getattr(optimizers, cls_name)
        entry = DIALECT_CASES[qualname]
        assert entry.lr_keyword == "learning_rate" and entry.hyperparameters[0] == ("default", {})
        assert any(r.optimizer == qualname for r in CONSTRUCT_ERRORS), cls_name


# -- the catalog's construct records against Keras itself ----------------------------------------
#: Records about optbridge's plain-data rules or group dicts, which Keras does not raise.
OPTBRIDGE_ONLY = {
    "keras.adamax-beta_1_str", "keras.nadam-epsilon_none", "keras.nadam-beta_2_callable",
    "keras.nadam-group_beta_1_str", "keras.ftrl-beta_str", "keras.ftrl-group_l1_negative", "keras.lion-beta_2_str",
    "keras.lion-group_beta_1_negative", "keras.lamb-epsilon_str", "keras.lamb-group_bad_key",
}
KERAS_RECORDS = [r for r in CONSTRUCT_ERRORS if r.optimizer.startswith("keras.optimizers.")
                 and r.optimizer.split(".")[-1] in CLASSES]


@pytest.mark.parametrize("record", KERAS_RECORDS, ids=[r.id for r in KERAS_RECORDS])
def test_construct_record(record):
    keras_live.assert_construct_record(record, OPTBRIDGE_ONLY)


def test_keras_accepts_what_optbridge_accepts_at_the_edges():
    """Values at the edge of Keras's checks are accepted by both (Lion ``beta_1=1``, Ftrl zeros)."""
    edges = [("Lion", dict(beta_1=1.0, beta_2=-0.5)),
             ("Ftrl", dict(learning_rate_power=0.0, initial_accumulator_value=0.0, beta=-1.0))]
    for cls_name, kwargs in edges:
        getattr(optimizers, cls_name)(**kwargs)
        if keras is not None:
            getattr(keras.optimizers, cls_name)(**kwargs)


@needs_keras
def test_signatures_match_keras():
    """Argument names, order and defaults are Keras's (optbridge adds keyword-only extensions)."""
    keras_live.assert_signatures_match_keras(CLASSES)
