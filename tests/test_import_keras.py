"""``optbridge.from_keras``: Keras optimizers and their serialised configs imported as Keras-dialect specs.

Every hyperparameter set of the Keras catalog (``optbridge.conformance.catalog.keras``)
is built as a real ``keras.optimizers`` optimizer (its ``exclude_from_weight_decay``
patterns set through Keras's method), imported from the live object, and the import of
``keras.optimizers.serialize(...)`` as JSON (plus the patterns, which Keras does not
serialise) is the same spec. The spec then runs against the Keras optimizer on the same
float32 gradients (``tests/keras_live.py``'s streams and tolerance, ``|ours − keras| ≤
1e-6 + 1e-5·|keras|``) on the NumPy backend, bit for bit where the live tests are (every
class but Ftrl and Lamb, whose Keras kernels use Eigen's float32 ``pow`` and TensorFlow
reductions), and on the TensorFlow backend. Each Keras schedule is imported with its
optimizer the same way. Config data needs neither TensorFlow nor Keras (a subprocess with
both blocked); refusals name the class or key at fault.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import optbridge
from optbridge.conformance.catalog.keras import DIALECT_CASES
from optbridge.dialects.keras import optimizers
from optbridge.dialects.keras.optimizers import schedules
from optbridge.errors import ConfigError, SpecTypeError, SpecValueError

STEPS = 5
#: classes the live tests hold bit-identical to Keras on the NumPy backend
BITWISE = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Lion"}
ADAM = {"module": "keras.optimizers", "class_name": "Adam", "registered_name": None,
        "config": {"name": "adam", "learning_rate": 0.0010000000474974513, "weight_decay": 0.01, "beta_1": 0.8,
                   "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": True, "clipnorm": None, "global_clipnorm": None,
                   "clipvalue": None, "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                   "loss_scale_factor": None, "gradient_accumulation_steps": None}}


#: classes that wrap or compose others (their live tests: test_keras_multi_optimizer.py, test_keras_pipeline.py)
WRAPPERS = {"keras.optimizers.MultiOptimizer", "keras.optimizers.LossScaleOptimizer"}


def catalog_cases():
    return [pytest.param(q.rsplit(".", 1)[1], dc, dict(hp), id=f"{q}-{case_id}")
            for q, dc in DIALECT_CASES.items() if q not in WRAPPERS for case_id, hp in dc.hyperparameters]


def run_against_keras(native, spec, backend, bitwise):
    """Step ``native`` (on tf.Variables) and ``spec`` (built on ``backend``) on the same gradients."""
    import keras_live

    tf = keras_live.frameworks()[1]
    start = keras_live.initial_values(11)
    variables = keras_live.keras_variables(start, keras_live.NAMES, type(native).__name__)
    if backend == "numpy":
        ours = {k: v.copy() for k, v in start.items()}
        opt = optbridge.build(spec, ours, backend="numpy")
    else:
        ours = dict(zip(keras_live.NAMES, keras_live.keras_variables(start, keras_live.NAMES)))
        opt = optbridge.build(spec, ours)
        assert type(opt).__module__.startswith("optbridge.backends.tensorflow")
    stats: dict = {}
    for step in range(STEPS):
        grads = keras_live.gradients(step, 11)
        opt.step(grads if backend == "numpy" else {n: tf.constant(g) for n, g in grads.items()})
        values = {n: np.asarray(v) for n, v in ours.items()}
        theirs = keras_live.apply_keras(native, grads, keras_live.NAMES, variables)
        keras_live.assert_close_and_count(stats, "case", values, theirs, f"{backend} step {step}", backend)
    if bitwise:
        entry = stats[backend, "case"]
        assert entry["identical"] == entry["total"], f"{entry['identical']}/{entry['total']} bit-identical"


@pytest.mark.parametrize(("name", "dc", "hp"), catalog_cases())
def test_every_catalog_optimizer_imports_and_runs_like_keras(name, dc, hp):
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    exclude = hp.pop("exclude_from_weight_decay", None)
    kwargs = {"learning_rate": dc.lr, "weight_decay": dc.weight_decay, **hp}

    def native():
        opt = getattr(keras.optimizers, name)(**kwargs)
        if exclude:
            opt.exclude_from_weight_decay(var_names=exclude)
        return opt

    live = native()
    spec = optbridge.from_keras(live)
    assert isinstance(spec, getattr(optimizers, name))
    for key, value in kwargs.items():
        assert spec.arguments[key] == value, key
    if exclude:
        (pattern,) = spec.weight_decay_exclusions  # Keras joins the names into one expression
        assert set(pattern.split("|")) == set(exclude)
    data = json.dumps(keras.optimizers.serialize(live))
    from_data = optbridge.from_keras(data, exclude_from_weight_decay=spec.weight_decay_exclusions or None)
    assert from_data == spec
    assert optbridge.from_dict(json.loads(json.dumps(optbridge.to_dict(spec)))) == spec
    # a clipping norm sums in NumPy's order on the NumPy backend, in TensorFlow's in Keras
    clips = any(kwargs.get(k) for k in ("clipnorm", "global_clipnorm"))
    run_against_keras(live, spec, "numpy", bitwise=name in BITWISE and not clips)
    run_against_keras(native(), spec, "tensorflow", bitwise=False)


def test_the_catalog_covers_every_keras_dialect_class():
    assert {q.rsplit(".", 1)[1] for q in DIALECT_CASES} == set(optimizers.__all__) - {"schedules", "OptimizerMap"}


SCHEDULES = {
    "ExponentialDecay": dict(initial_learning_rate=0.01, decay_steps=2, decay_rate=0.7, staircase=True),
    "PiecewiseConstantDecay": dict(boundaries=[1, 3], values=[0.01, 0.005, 0.002]),
    "PolynomialDecay": dict(initial_learning_rate=0.01, decay_steps=3, end_learning_rate=1e-3, power=2.0,
                            cycle=True),
    "InverseTimeDecay": dict(initial_learning_rate=0.01, decay_steps=2, decay_rate=0.5),
    "CosineDecay": dict(initial_learning_rate=0.001, decay_steps=4, alpha=0.05, warmup_target=0.01,
                        warmup_steps=2),
    "CosineDecayRestarts": dict(initial_learning_rate=0.01, first_decay_steps=2, t_mul=1.5, m_mul=0.8, alpha=0.1),
}


@pytest.mark.parametrize("kind", sorted(SCHEDULES))
def test_every_keras_schedule_imports_with_its_optimizer(kind):
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    native = keras.optimizers.Adam(learning_rate=getattr(keras.optimizers.schedules, kind)(**SCHEDULES[kind]))
    spec = optbridge.from_keras(json.dumps(keras.optimizers.serialize(native)))
    assert spec.arguments["learning_rate"] == getattr(schedules, kind)(**SCHEDULES[kind])
    assert optbridge.from_keras(native) == spec
    run_against_keras(native, spec, "numpy", bitwise=False)


def test_a_float32_learning_rate_reads_back_as_its_shortest_decimal():
    spec = optbridge.from_keras(ADAM)
    assert spec.arguments["learning_rate"] == 0.001
    assert spec == optimizers.Adam(learning_rate=0.001, weight_decay=0.01, beta_1=0.8, amsgrad=True, name="adam")
    odd = {**ADAM, "config": {**ADAM["config"], "learning_rate": 0.1 + 1e-12}}  # not a float32: kept as is
    assert optbridge.from_keras(odd).arguments["learning_rate"] == 0.1 + 1e-12


def test_config_data_needs_neither_tensorflow_nor_keras():
    code = textwrap.dedent(f"""
        import sys
        sys.modules["tensorflow"] = None
        sys.modules["keras"] = None
        import optbridge
        spec = optbridge.from_keras({json.dumps(json.dumps(ADAM))})
        assert type(spec).__name__ == "Adam" and spec.arguments["amsgrad"] is True
        loaded = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras") and sys.modules[m] is not None]
        assert not loaded, loaded
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


REFUSALS = [
    ("unknown_class", {**ADAM, "class_name": "ScheduleFreeAdamW"}, SpecTypeError,
     "'ScheduleFreeAdamW' is not a keras.optimizers class the Keras dialect has. Importable: ['Adadelta'"),
    ("custom_class", {**ADAM, "registered_name": "my>Adam"}, SpecTypeError, "'my>Adam' is a registered custom"),
    ("other_module", {**ADAM, "module": "my.optimizers"}, SpecTypeError, "my.optimizers.Adam is not a keras"),
    ("bare_config", ADAM["config"], ConfigError, "a bare get_config() dict does not name its class"),
    ("not_json", "{adam", ConfigError, "from_keras: not JSON"),
    ("not_a_config", 3, SpecTypeError, "from_keras takes a keras.optimizers optimizer"),
    ("unknown_schedule", {**ADAM, "config": {**ADAM["config"], "learning_rate": {
        "module": "keras.optimizers.schedules", "class_name": "MySchedule", "config": {}}}}, SpecTypeError,
     "'learning_rate' is a 'MySchedule' schedule, which the Keras dialect does not have"),
    ("unknown_key", {**ADAM, "config": {**ADAM["config"], "is_legacy_optimizer": False}}, SpecValueError,
     "Argument(s) not recognized: {'is_legacy_optimizer': False}"),
    ("use_ema", {**ADAM, "config": {**ADAM["config"], "use_ema": True, "ema_momentum": 2.0}}, SpecValueError,
     "`ema_momentum` must be in the range [0, 1]"),
    ("extension_key", {**ADAM, "config": {**ADAM["config"], "params": "dense/*"}}, ConfigError,
     "['params'] are not keys of a Keras optimizer config"),
]


@pytest.mark.parametrize(("data", "error", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_what_cannot_be_imported_is_refused_with_a_clear_error(data, error, message):
    import re

    with pytest.raises(error, match=re.escape(message)):
        optbridge.from_keras(data)


def test_live_refusals_name_the_cause():
    keras = pytest.importorskip("keras")
    tf = pytest.importorskip("tensorflow")

    class MyAdam(keras.optimizers.Adam):
        pass

    with pytest.raises(SpecTypeError, match="MyAdam is not a keras.optimizers class"):
        optbridge.from_keras(MyAdam())
    by_object = keras.optimizers.AdamW()
    by_object.exclude_from_weight_decay(var_list=[tf.Variable(1.0)])
    with pytest.raises(SpecValueError, match=r"by object \(exclude_from_weight_decay\(var_list=...\)\)"):
        optbridge.from_keras(by_object)
    with pytest.raises(SpecValueError, match="exclude_from_weight_decay= is for config data"):
        optbridge.from_keras(keras.optimizers.SGD(), exclude_from_weight_decay=["bias"])
