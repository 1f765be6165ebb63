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
keras = pytest.importorskip("keras")

import optbridge  # noqa: E402
from optbridge.conformance import compare, streams  # noqa: E402
from optbridge.conformance.catalog import CONSTRUCT_ERRORS  # noqa: E402
from optbridge.dialects.base import dialect_registry  # noqa: E402
from optbridge.dialects.keras import optimizers  # noqa: E402
from optbridge.dialects.keras.optimizers import schedules  # noqa: E402

LAYOUT = (("dense/kernel", (7, 5)), ("dense/bias", (5,)), ("conv/kernel", (3, 3, 2, 4)), ("norm/gamma", (4,)))
NAMES = [n for n, _ in LAYOUT]
STEPS = 25
SEED = 23
GROUP_A = ["dense/kernel", "conv/kernel"]
GROUP_B = ["dense/bias", "norm/gamma"]


def _exp(lr):
    return ("ExponentialDecay", dict(initial_learning_rate=lr, decay_steps=4, decay_rate=0.7))


def _cos(lr):
    return ("CosineDecay", dict(initial_learning_rate=lr * 0.1, decay_steps=15, alpha=0.05, warmup_target=lr,
                                warmup_steps=5))


def _poly(lr):
    return ("PolynomialDecay", dict(initial_learning_rate=lr, decay_steps=8, end_learning_rate=lr * 0.1, power=2.0,
                                    cycle=True))


def _inverse(lr):
    return ("InverseTimeDecay", dict(initial_learning_rate=lr, decay_steps=3, decay_rate=0.5, staircase=True))


def _piecewise(lr):
    return ("PiecewiseConstantDecay", dict(boundaries=[5, 12], values=[lr, lr * 0.5, lr * 0.2]))


def _restarts(lr):
    return ("CosineDecayRestarts", dict(initial_learning_rate=lr, first_decay_steps=6, t_mul=1.5, m_mul=0.8,
                                        alpha=0.1))


#: (id, class, constructor arguments, learning-rate schedule or None, exclusion patterns, tf backend run)
CASES = [
    ("sgd_plain_wd", "SGD", dict(learning_rate=0.05, weight_decay=0.01), None, None, True),
    ("sgd_momentum_schedule", "SGD", dict(momentum=0.9, weight_decay=0.05), _exp(0.05), ["bias", "gamma"], False),
    ("sgd_nesterov", "SGD", dict(learning_rate=0.02, momentum=0.8, nesterov=True), _piecewise(0.05), None, True),
    ("adam_default", "Adam", dict(), None, None, True),
    ("adam_amsgrad_wd_schedule", "Adam", dict(beta_1=0.8, beta_2=0.95, epsilon=1e-6, amsgrad=True, weight_decay=0.1),
     _cos(0.01), None, True),
    ("adam_exclude", "Adam", dict(learning_rate=0.01, weight_decay=0.05), None, ["bias"], False),
    ("adamw_default", "AdamW", dict(learning_rate=0.01), None, None, True),
    ("adamw_amsgrad_schedule", "AdamW", dict(weight_decay=0.05, beta_1=0.5, amsgrad=True), _poly(0.02),
     ["gamma", "bias"], True),
    ("rmsprop_default", "RMSprop", dict(), None, None, False),
    ("rmsprop_centered_momentum", "RMSprop", dict(rho=0.8, momentum=0.9, epsilon=1e-5, centered=True,
                                                  weight_decay=0.02), _inverse(0.005), None, True),
    ("rmsprop_momentum_wd", "RMSprop", dict(learning_rate=0.01, momentum=0.5, weight_decay=0.1), None, ["norm"],
     False),
    ("adagrad_default", "Adagrad", dict(learning_rate=0.05), None, None, True),
    ("adagrad_wd_schedule", "Adagrad", dict(initial_accumulator_value=0.5, epsilon=1e-4, weight_decay=0.05),
     _restarts(0.1), None, False),
    ("adadelta_default", "Adadelta", dict(learning_rate=1.0), None, None, True),
    ("adadelta_wd_schedule", "Adadelta", dict(rho=0.8, epsilon=1e-5, weight_decay=0.02), _exp(0.5), ["bias"],
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

_STATS: dict[str, dict[str, float]] = {}


def _schedules(schedule):
    """The same schedule as optbridge's Keras-dialect object and as Keras's own."""
    if schedule is None:
        return None, None
    kind, kwargs = schedule
    return getattr(schedules, kind)(**kwargs), getattr(keras.optimizers.schedules, kind)(**kwargs)


def _keras_variables(start, names):
    return [tf.Variable(start[n].copy(), name=n) for n in names]


def _keras_optimizer(cls_name, kwargs, exclude):
    opt = getattr(keras.optimizers, cls_name)(**kwargs)
    if exclude:
        opt.exclude_from_weight_decay(var_names=list(exclude))
    return opt


def _record(cls_name, ours, theirs, where, backend="numpy"):
    """Assert the tolerance; add the bit-identical count and the worst ulp to the class stats."""
    stats = _STATS.setdefault((backend, cls_name), {"identical": 0, "total": 0, "worst_ulps": 0.0})
    for name in NAMES:
        a, b = ours[name], theirs[name]
        tolerance = 1e-6 + 1e-5 * np.abs(b.astype(np.float64))
        deviation = np.abs(a.astype(np.float64) - b)
        assert np.all(deviation <= tolerance), f"{where} {name}: {deviation.max():.3g}"
        stats["identical"] += compare.bitwise_equal_count(a, b)
        stats["total"] += a.size
        stats["worst_ulps"] = max(stats["worst_ulps"], compare.ulp_distance(a, b))


def _grads(step):
    return streams.as_dtype(streams.gradients(LAYOUT, step, SEED), "float32")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_numpy_backend_matches_keras(case):
    case_id, cls_name, kwargs, schedule, exclude, _ = case
    ours_lr, keras_lr = _schedules(schedule)
    spec = getattr(optimizers, cls_name)(**{**kwargs, **({"learning_rate": ours_lr} if ours_lr else {})},
                                         exclude_from_weight_decay=exclude)
    start = streams.as_dtype(streams.initial_params(LAYOUT, SEED), "float32")
    ours = {k: v.copy() for k, v in start.items()}
    opt = optbridge.build(spec, ours, backend="numpy")
    variables = _keras_variables(start, NAMES)
    reference = _keras_optimizer(cls_name, {**kwargs, **({"learning_rate": keras_lr} if keras_lr else {})}, exclude)
    for step in range(STEPS):
        grads = _grads(step)
        opt.step(grads)
        reference.apply_gradients([(tf.constant(grads[n]), v) for n, v in zip(NAMES, variables)])
        _record(cls_name, ours, {n: v.numpy() for n, v in zip(NAMES, variables)}, f"{case_id}: step {step}")


@pytest.mark.parametrize("case", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_groups_match_one_keras_optimizer_per_group(case):
    case_id, cls_name, shared, group_a, group_b = case
    params = [{"params": list(GROUP_A), **group_a}, {"params": list(GROUP_B), **group_b}]
    spec = getattr(optimizers, cls_name)(**shared, params=params)
    start = streams.as_dtype(streams.initial_params(LAYOUT, SEED), "float32")
    ours = {k: v.copy() for k, v in start.items()}
    opt = optbridge.build(spec, ours, backend="numpy")
    references = []
    for names, overrides in ((GROUP_A, group_a), (GROUP_B, group_b)):
        references.append((names, _keras_variables(start, names),
                           getattr(keras.optimizers, cls_name)(**{**shared, **overrides})))
    for step in range(STEPS):
        grads = _grads(step)
        opt.step(grads)
        theirs = {}
        for names, variables, reference in references:
            reference.apply_gradients([(tf.constant(grads[n]), v) for n, v in zip(names, variables)])
            theirs.update({n: v.numpy() for n, v in zip(names, variables)})
        _record(cls_name, ours, theirs, f"groups {case_id}: step {step}")


TF_CASES = [c for c in CASES if c[5]]


@pytest.mark.parametrize("case", TF_CASES, ids=[c[0] for c in TF_CASES])
def test_tensorflow_backend_matches_keras(case):
    case_id, cls_name, kwargs, schedule, exclude, _ = case
    ours_lr, keras_lr = _schedules(schedule)
    spec = getattr(optimizers, cls_name)(**{**kwargs, **({"learning_rate": ours_lr} if ours_lr else {})},
                                         exclude_from_weight_decay=exclude)
    start = streams.as_dtype(streams.initial_params(LAYOUT, SEED), "float32")
    ours = dict(zip(NAMES, _keras_variables(start, NAMES)))
    opt = optbridge.build(spec, ours)
    variables = _keras_variables(start, NAMES)
    reference = _keras_optimizer(cls_name, {**kwargs, **({"learning_rate": keras_lr} if keras_lr else {})}, exclude)
    for step in range(STEPS):
        grads = _grads(step)
        opt.step({n: tf.constant(g) for n, g in grads.items()})
        reference.apply_gradients([(tf.constant(grads[n]), v) for n, v in zip(NAMES, variables)])
        _record(cls_name, {n: v.numpy() for n, v in ours.items()}, {n: v.numpy() for n, v in zip(NAMES, variables)},
                f"tensorflow {case_id}: step {step}", backend="tensorflow")


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
        print(f"\nfloat32 vs keras.optimizers ({keras.__version__}, {STEPS} steps):")
        for backend, cls_name in sorted(expected):
            s = _STATS[backend, cls_name]
            print(f"  {backend:10s} {cls_name:8s} bit-identical {s['identical'] / s['total']:.2%} of {s['total']} "
                  f"worst {s['worst_ulps']:.0f} ulp")
    for cls_name in CLASSES:
        s = _STATS["numpy", cls_name]
        assert s["identical"] == s["total"], cls_name


# -- exclude_from_weight_decay -----------------------------------------------------------------
def test_exclusion_patterns_decide_like_keras_on_tensorflow():
    """Keras on TensorFlow searches the tf.Variable name (path + ':0'); unanchored patterns agree."""
    start = streams.as_dtype(streams.initial_params(LAYOUT, SEED), "float32")
    zero = {n: np.zeros_like(v) for n, v in start.items()}
    for patterns in (["bias"], ["^dense", "gamma"], ["conv/k.*"], ["kernel"]):
        spec = optimizers.SGD(0.5, weight_decay=0.1)
        spec.exclude_from_weight_decay(var_names=patterns)
        ours = {k: v.copy() for k, v in start.items()}
        optbridge.build(spec, ours, backend="numpy").step(zero)
        variables = _keras_variables(start, NAMES)
        reference = _keras_optimizer("SGD", dict(learning_rate=0.5, weight_decay=0.1), patterns)
        reference.apply_gradients([(tf.constant(zero[n]), v) for n, v in zip(NAMES, variables)])
        for name, var in zip(NAMES, variables):
            kept = np.array_equal(var.numpy(), start[name])
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
    "keras.sgd-lr_callable", "keras.sgd-clipnorm_not_modelled", "keras.sgd-global_clipnorm_not_modelled",
    "keras.sgd-clipvalue_not_modelled", "keras.sgd-ema_not_modelled", "keras.sgd-loss_scale_not_modelled",
    "keras.sgd-accumulation_not_modelled", "keras.sgd-weight_decay_str", "keras.sgd-weight_decay_schedule",
    "keras.sgd-exclude_bad_regex", "keras.sgd-nesterov_str", "keras.sgd-params_empty", "keras.sgd-group_no_params",
    "keras.sgd-group_bad_key", "keras.sgd-group_momentum_range", "keras.sgd-group_lr_int",
    "keras.sgd-params_bad_selector", "keras.adam-beta_1_str", "keras.adam-amsgrad_int",
    "keras.adam-group_epsilon_str", "keras.rmsprop-rho_none", "keras.rmsprop-centered_str",
    "keras.adagrad-accumulator_str", "keras.adadelta-epsilon_list",
}
KERAS_RECORDS = [r for r in CONSTRUCT_ERRORS if r.optimizer.split(".")[-1] in CLASSES
                 and r.optimizer.startswith("keras.optimizers.")]
_EXTENSIONS = ("params", "unassigned", "exclude_from_weight_decay")


@pytest.mark.parametrize("record", KERAS_RECORDS, ids=[r.id for r in KERAS_RECORDS])
def test_construct_record(record):
    cls = dialect_registry[record.optimizer]
    kwargs = dict(record.kwargs)
    if isinstance(kwargs.get("weight_decay"), dict):
        kwargs["weight_decay"] = optbridge.config._rebuild(kwargs["weight_decay"], "weight_decay")
    with pytest.raises(record.error_type, match=re.escape(record.message)):
        cls(**kwargs)
    if record.id in OPTBRIDGE_ONLY:
        return
    keras_kwargs = {k: v for k, v in record.kwargs.items() if k not in _EXTENSIONS}
    builtin = next(t for t in record.error_type.__mro__ if t.__module__ == "builtins")
    with pytest.raises(builtin, match=re.escape(record.message)):
        getattr(keras.optimizers, record.optimizer.split(".")[-1])(**keras_kwargs)


def test_every_class_has_records():
    assert {r.optimizer.split(".")[-1] for r in KERAS_RECORDS} == set(CLASSES)


def test_signatures_match_keras():
    """Argument names, order and defaults are Keras's (optbridge adds keyword-only extensions)."""
    import inspect

    for cls_name in CLASSES:
        theirs = inspect.signature(getattr(keras.optimizers, cls_name).__init__).parameters
        ours = inspect.signature(getattr(optimizers, cls_name).__init__).parameters
        keras_part = [(n, p.default) for n, p in ours.items() if n not in _EXTENSIONS]
        assert keras_part == [(n, p.default) for n, p in theirs.items()], cls_name
        assert all(ours[n].kind is inspect.Parameter.KEYWORD_ONLY for n in _EXTENSIONS), cls_name


def test_decay_keyword_warns_and_is_ignored_like_keras():
    with pytest.warns(UserWarning, match="Argument `decay` is no longer supported"):
        spec = optimizers.Adam(decay=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert spec == optimizers.Adam()
