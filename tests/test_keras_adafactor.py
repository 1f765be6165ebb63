"""Keras-dialect ``Adafactor`` (canonical ``adafactor``, ``arithmetic="keras"``) against Keras 3 itself.

One test runs every argument set on optbridge's NumPy backend and one on its TensorFlow
backend against ``keras.optimizers.Adafactor`` on ``keras.Variable``\\ s
(``optbridge.conformance.against.KERAS_VARIABLE_CLASSES``) for
:data:`keras_live.STEPS` steps of the deterministic gradient streams, and compares every
float32 element after every step within ``1e-6 + 1e-5·|keras|``
(:func:`keras_live.assert_close_and_count`); it prints the bit-identical share
(``pytest -s``). Keras forms its means with float32 TensorFlow reductions in Eigen's
order, the rule with float64 sums rounded once, and Keras's ``ops.power`` is Eigen's
vectorised float32 ``pow``: the share is asserted at the level measured, not at 100 %.
Also here: Keras's messages for the catalog's ``construct`` records, the signature, the
lowering and a config round trip (these need neither TensorFlow nor Keras).
"""
from __future__ import annotations

import keras_live
import pytest
from keras_live import cosine

from optbridge.algorithms import Adafactor
from optbridge.conformance.catalog import CONSTRUCT_ERRORS
from optbridge.dialects.keras import optimizers

keras = keras_live.frameworks()[0]
needs_keras = pytest.mark.skipif(keras is None, reason="needs keras and tensorflow")

SEED = 31

#: (id, class, constructor arguments, learning-rate schedule or None, exclusion patterns, tf backend run)
CASES = [
    ("default", "Adafactor", dict(), None, None, True),
    ("wd_clip_decay", "Adafactor", dict(learning_rate=0.01, weight_decay=0.1, clip_threshold=0.5, beta_2_decay=-0.5,
                                        epsilon_2=1e-2), None, ["bias"], False),
    ("schedule_relative_off", "Adafactor", dict(relative_step=False, epsilon_1=1e-20), cosine(0.05), None, False),
]

#: Minimum bit-identical share per backend, as measured with Keras 3.15 / TF 2.21 on x86-64.
MIN_IDENTICAL = {"numpy": 0.9, "tensorflow": 0.9}


@needs_keras
def test_matches_keras_float32(capsys):
    stats: dict = {}
    for case in CASES:
        keras_live.assert_matches_keras(case, SEED, stats)
        if case[5]:
            keras_live.assert_matches_keras(case, SEED, stats, backend="tensorflow")
    with capsys.disabled():
        print("\n" + "\n".join(keras_live.report(stats, set(stats))))
    for (backend, _), s in stats.items():
        assert s["identical"] / s["total"] >= MIN_IDENTICAL[backend], backend


@pytest.mark.parametrize("record", [r for r in CONSTRUCT_ERRORS if r.optimizer == "keras.optimizers.Adafactor"],
                         ids=lambda r: r.id)
def test_construct_errors(record):
    keras_live.assert_construct_record(record, optbridge_only={"keras.adafactor-epsilon_1_str",
                                                               "keras.adafactor-relative_step_str"})


@needs_keras
def test_signature_is_keras():
    keras_live.assert_signatures_match_keras(["Adafactor"])


def test_lowering_and_config_round_trip(tmp_path):
    spec = optimizers.Adafactor(learning_rate=0.01, beta_2_decay=-0.6, epsilon_1=1e-25, epsilon_2=2e-3,
                                clip_threshold=0.8, relative_step=False, weight_decay=0.05)
    canonical = spec.to_canonical()
    assert canonical.precision == "float32"
    assert canonical.algorithm == Adafactor(beta2_decay=-0.6, eps1=1e-25, eps2=2e-3, clip_threshold=0.8,
                                            lr_rule="min_lr", eps1_placement="add", weight_decay_form="keras",
                                            arithmetic="keras")
    keras_live.assert_config_round_trip(spec, "json", tmp_path)
