"""Shared machinery of the Keras-dialect tests (``test_keras_optimizers_live_part*.py``,
``test_keras_dialect.py``).

A live case builds the optbridge Keras-dialect spec and ``keras.optimizers.<Cls>`` from the
same arguments (and the same learning-rate schedule, built by both), feeds both the
deterministic float32 gradient streams of :mod:`optbridge.conformance.streams` for
:data:`STEPS` steps (Keras applies them to real ``tf.Variable``\\ s; optbridge runs on its
NumPy backend, or on its TensorFlow backend over ``tf.Variable``\\ s) and compares every
variable after every step:

* ``|ours − keras| ≤ 1e-6 + 1e-5·|keras|`` per float32 element;
* the bit-identical count and the worst ulp distance are added to the per-(backend, class)
  stats that :func:`report` prints; each test file asserts the share it measured.

A group case compares an optbridge optimizer with two parameter groups (:data:`GROUP_A`,
:data:`GROUP_B`) against two Keras optimizers, one per group, with the group's
hyperparameters (what a group means in Keras terms).

Also here: the check of a catalog ``construct`` record against Keras's own message, the
signature check against Keras, and the config round trip. Importing this module does not
import Keras or TensorFlow (the core tox env has neither, and ``test_keras_dialect.py`` runs
without them): :func:`frameworks` imports them on first use.
"""
from __future__ import annotations

import functools
import inspect
import json
import re

import numpy as np
import pytest

import optbridge
from optbridge.conformance import compare, streams
from optbridge.conformance.against import KERAS_VARIABLE_CLASSES, keras_group_optimizers
from optbridge.dialects.base import dialect_registry
from optbridge.dialects.keras import optimizers
from optbridge.dialects.keras.optimizers import schedules as ob_schedules


@functools.cache
def frameworks():
    """``(keras, tensorflow)``, imported on the first call; ``(None, None)`` where either is missing."""
    try:
        import keras
        import tensorflow as tf
    except ImportError:  # the core tox env has neither
        return None, None
    return keras, tf


LAYOUT = (("dense/kernel", (7, 5)), ("dense/bias", (5,)), ("conv/kernel", (3, 3, 2, 4)), ("norm/gamma", (4,)))
NAMES = [n for n, _ in LAYOUT]
STEPS = 25
GROUP_A = ["dense/kernel", "conv/kernel"]
GROUP_B = ["dense/bias", "norm/gamma"]
#: optbridge's keyword-only extensions of the Keras signatures.
EXTENSIONS = ("params", "unassigned", "exclude_from_weight_decay")


# -- learning-rate schedules as (Keras class name, arguments) -------------------------------------
def exponential(lr):
    return ("ExponentialDecay", dict(initial_learning_rate=lr, decay_steps=4, decay_rate=0.7))


def cosine(lr):
    return ("CosineDecay", dict(initial_learning_rate=lr * 0.1, decay_steps=15, alpha=0.05, warmup_target=lr,
                                warmup_steps=5))


def polynomial(lr):
    return ("PolynomialDecay", dict(initial_learning_rate=lr, decay_steps=8, end_learning_rate=lr * 0.1, power=2.0,
                                    cycle=True))


def inverse_time(lr):
    return ("InverseTimeDecay", dict(initial_learning_rate=lr, decay_steps=3, decay_rate=0.5, staircase=True))


def piecewise(lr):
    return ("PiecewiseConstantDecay", dict(boundaries=[5, 12], values=[lr, lr * 0.5, lr * 0.2]))


def restarts(lr):
    return ("CosineDecayRestarts", dict(initial_learning_rate=lr, first_decay_steps=6, t_mul=1.5, m_mul=0.8,
                                        alpha=0.1))


def schedule_pair(schedule):
    """The same schedule as optbridge's Keras-dialect object and as Keras's own (``None, None`` for none)."""
    if schedule is None:
        return None, None
    keras = frameworks()[0]
    kind, kwargs = schedule
    return getattr(ob_schedules, kind)(**kwargs), getattr(keras.optimizers.schedules, kind)(**kwargs)


# -- both sides from the same arguments ------------------------------------------------------------
def initial_values(seed):
    return streams.as_dtype(streams.initial_params(LAYOUT, seed), "float32")


def gradients(step, seed):
    return streams.as_dtype(streams.gradients(LAYOUT, step, seed), "float32")


def keras_variables(start, names, cls_name=None):
    keras, tf = frameworks()
    if cls_name in KERAS_VARIABLE_CLASSES:
        return [keras.Variable(start[n].copy(), name=n.replace("/", "_")) for n in names]
    return [tf.Variable(start[n].copy(), name=n) for n in names]


def keras_optimizer(spec):
    """The Keras optimizer of an ungrouped Keras-dialect spec, built as ``optbridge conform
    --against keras`` builds it (its arguments, its schedule as Keras's own,
    ``exclude_from_weight_decay(var_names=...)``)."""
    [(_, opt)] = keras_group_optimizers(spec, LAYOUT)
    return opt


def apply_keras(reference, grads, names, variables):
    """One Keras step on ``variables``; their values afterwards by name."""
    tf = frameworks()[1]
    reference.apply_gradients([(tf.constant(grads[n]), v) for n, v in zip(names, variables)])
    return {n: v.numpy() for n, v in zip(names, variables)}


def _with_lr(kwargs, lr):
    return {**kwargs, **({"learning_rate": lr} if lr else {})}


# -- tolerance and agreement stats -----------------------------------------------------------------
def assert_close_and_count(stats, cls_name, ours, theirs, where, backend="numpy"):
    """Assert the tolerance; add the bit-identical count and the worst ulp to ``stats[backend, cls_name]``."""
    entry = stats.setdefault((backend, cls_name), {"identical": 0, "total": 0, "worst_ulps": 0.0})
    for name in NAMES:
        a, b = ours[name], theirs[name]
        assert a.dtype == b.dtype == np.float32, name
        tolerance = 1e-6 + 1e-5 * np.abs(b.astype(np.float64))
        deviation = np.abs(a.astype(np.float64) - b)
        assert np.all(deviation <= tolerance), f"{where} {name}: {deviation.max():.3g}"
        entry["identical"] += compare.bitwise_equal_count(a, b)
        entry["total"] += a.size
        entry["worst_ulps"] = max(entry["worst_ulps"], compare.ulp_distance(a, b))


def report(stats, expected):
    """The float32 agreement lines of the ``(backend, class)`` pairs in ``expected``, sorted."""
    keras = frameworks()[0]
    width = max(len(c) for _, c in expected)
    lines = [f"float32 vs keras.optimizers ({keras.__version__}, {STEPS} steps):"]
    for backend, cls_name in sorted(expected):
        s = stats[backend, cls_name]
        lines.append(f"  {backend:10s} {cls_name:{width}s} bit-identical {s['identical'] / s['total']:.2%} "
                     f"of {s['total']} worst {s['worst_ulps']:.0f} ulp")
    return lines


# -- the comparisons -------------------------------------------------------------------------------
def assert_matches_keras(case, seed, stats, backend="numpy"):
    """Run a case ``(id, class, arguments, schedule, exclusions, _)`` on ``backend`` against Keras.

    ``backend="numpy"`` steps NumPy arrays; ``"tensorflow"`` builds optbridge on ``tf.Variable``\\ s
    (asserting that the TensorFlow backend took them) and steps ``tf.constant`` gradients.
    """
    tf = frameworks()[1]
    case_id, cls_name, kwargs, schedule, exclude, _ = case
    ours_lr, _ = schedule_pair(schedule)
    spec = getattr(optimizers, cls_name)(**_with_lr(kwargs, ours_lr), exclude_from_weight_decay=exclude)
    start = initial_values(seed)
    if backend == "numpy":
        ours = {k: v.copy() for k, v in start.items()}
        opt = optbridge.build(spec, ours, backend="numpy")
        where = case_id
    else:
        ours = dict(zip(NAMES, keras_variables(start, NAMES)))
        opt = optbridge.build(spec, ours)
        assert type(opt).__module__.startswith("optbridge.backends.tensorflow")
        where = f"tensorflow {case_id}"
    variables = keras_variables(start, NAMES, cls_name)
    reference = keras_optimizer(spec)
    for step in range(STEPS):
        grads = gradients(step, seed)
        if backend == "numpy":
            opt.step(grads)
            values = ours
        else:
            opt.step({n: tf.constant(g) for n, g in grads.items()})
            values = {n: v.numpy() for n, v in ours.items()}
        theirs = apply_keras(reference, grads, NAMES, variables)
        assert_close_and_count(stats, cls_name, values, theirs, f"{where}: step {step}", backend=backend)


def assert_groups_match_keras(case, seed, stats):
    """Run a group case ``(id, class, shared, group-A overrides, group-B overrides)``: optbridge with two
    groups on the NumPy backend against one Keras optimizer per group."""
    keras = frameworks()[0]
    case_id, cls_name, shared, group_a, group_b = case
    params = [{"params": list(GROUP_A), **group_a}, {"params": list(GROUP_B), **group_b}]
    spec = getattr(optimizers, cls_name)(**shared, params=params)
    start = initial_values(seed)
    ours = {k: v.copy() for k, v in start.items()}
    opt = optbridge.build(spec, ours, backend="numpy")
    references = []
    for names, overrides in ((GROUP_A, group_a), (GROUP_B, group_b)):
        references.append((names, keras_variables(start, names),
                           getattr(keras.optimizers, cls_name)(**{**shared, **overrides})))
    for step in range(STEPS):
        grads = gradients(step, seed)
        opt.step(grads)
        theirs = {}
        for names, variables, reference in references:
            theirs.update(apply_keras(reference, grads, names, variables))
        assert_close_and_count(stats, cls_name, ours, theirs, f"groups {case_id}: step {step}")


def assert_construct_record(record, optbridge_only):
    """The dialect raises the record's error and message; Keras raises the same message (as the
    builtin base of the error type) unless the record's id is in ``optbridge_only``.

    Without Keras the Keras half is skipped.
    """
    kwargs = dict(record.kwargs)
    if isinstance(kwargs.get("weight_decay"), dict):
        kwargs["weight_decay"] = optbridge.config._rebuild(kwargs["weight_decay"], "weight_decay")
    with pytest.raises(record.error_type, match=re.escape(record.message)):
        dialect_registry[record.optimizer](**kwargs)
    if record.id in optbridge_only:
        return
    keras = frameworks()[0]
    if keras is None:
        pytest.skip("needs keras to compare the message with Keras's own")
    keras_kwargs = {k: v for k, v in record.kwargs.items() if k not in EXTENSIONS}
    builtin = next(t for t in record.error_type.__mro__ if t.__module__ == "builtins")
    with pytest.raises(builtin, match=re.escape(record.message)):
        getattr(keras.optimizers, record.optimizer.split(".")[-1])(**keras_kwargs)


def assert_signatures_match_keras(classes):
    """Argument names, order and defaults are Keras's; optbridge's :data:`EXTENSIONS` are keyword-only."""
    keras = frameworks()[0]
    for cls_name in classes:
        theirs = inspect.signature(getattr(keras.optimizers, cls_name).__init__).parameters
        ours = inspect.signature(getattr(optimizers, cls_name).__init__).parameters
        keras_part = [(n, p.default) for n, p in ours.items() if n not in EXTENSIONS]
        assert keras_part == [(n, p.default) for n, p in theirs.items()], cls_name
        assert all(ours[n].kind is inspect.Parameter.KEYWORD_ONLY for n in EXTENSIONS), cls_name


def assert_config_round_trip(spec, fmt, tmp_path):
    """``spec`` survives ``fmt`` (``dict`` through JSON text, or a ``json``/``toml``/``yaml`` file) equal,
    with an equal canonical spec."""
    if fmt == "dict":
        again = optbridge.from_dict(json.loads(json.dumps(optbridge.to_dict(spec))))
    else:
        if fmt == "yaml":
            pytest.importorskip("yaml")
        again = optbridge.load(optbridge.save(spec, tmp_path / f"opt.{fmt}"))
    assert again == spec
    assert again.to_canonical() == spec.to_canonical()
