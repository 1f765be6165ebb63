"""The stateful gradient pipeline traced into a TensorFlow graph step (``tf.function``,
``model.fit``): :class:`GraphCall` is a :class:`optbridge.transforms.PipelineCall` whose
scalar arithmetic (:class:`optbridge.transforms.pipeline.HostScalars`) builds TensorFlow
ops, whose host numbers live in ``tf.Variable`` s (float64, counters included: exact to
2**53), and whose gates are recorded for :func:`run_traced`, which puts the rest of the
step under a ``tf.cond``. The transforms' formulas are the shared ones; only where their
values live differs.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tensorflow as tf

from optbridge.transforms import GradientTransform
from optbridge.transforms.pipeline import SKIP, PipelineCall

from . import ops as tf_ops

__all__ = ["GraphCall", "run_traced", "state_variables"]

_F64 = tf.float64


def _f64(x: Any) -> Any:
    return tf.cast(x, _F64)


def state_variables(transforms: Sequence[GradientTransform],
                    states: Sequence[Mapping[str, float]]) -> list[dict[str, tf.Variable]]:
    """A float64 ``tf.Variable`` per host number of each transform, holding ``states``."""
    return [{k: tf.Variable(float(v), dtype=_F64, trainable=False, name=f"optbridge_{t.name}_{k}")
             for k, v in state.items()} for t, state in zip(transforms, states)]


def _flag(value: Any) -> Any:
    return value if isinstance(value, bool) else tf.convert_to_tensor(value, tf.bool)


class GraphCall(PipelineCall):
    """A pipeline call traced into a graph (see the module docstring)."""

    def __init__(self, transforms: Sequence[GradientTransform], step: Any, params: list[Any],
                 slots: dict[str, list[Any]], variables: Sequence[Mapping[str, tf.Variable]]):
        super().__init__(tf_ops, transforms, 0, params, slots, [{} for _ in transforms])
        self.step = step
        self.variables = variables
        self.pending: tuple[Any, str] | None = None

    @property
    def state(self) -> dict[str, Any]:
        return {k: v.read_value() for k, v in self.variables[self._current].items()}

    @state.setter
    def state(self, value: Mapping[str, Any]) -> None:
        for k, v in value.items():
            self.variables[self._current][k].assign(_f64(v))

    def gate(self, proceed: Any, outcome: str) -> None:
        self.pending = (proceed, outcome)

    # -- the scalar arithmetic, as TensorFlow ops ---------------------------------------------
    def where(self, flag: Any, a: Any, b: Any) -> Any:
        if isinstance(flag, bool):
            return a if flag else b
        return tf.where(flag, _f64(a), _f64(b))

    def equal(self, a: Any, b: Any) -> Any:
        return tf.equal(_f64(a), _f64(b))

    def at_least(self, a: Any, b: Any) -> Any:
        return tf.greater_equal(_f64(a), _f64(b))

    def both(self, a: Any, b: Any) -> Any:
        return tf.logical_and(_flag(a), _flag(b))

    def either(self, a: Any, b: Any) -> Any:
        return tf.logical_or(_flag(a), _flag(b))

    def negate(self, a: Any) -> Any:
        return tf.logical_not(_flag(a))

    def larger(self, a: Any, b: Any) -> Any:
        return tf.maximum(_f64(a), _f64(b))

    def is_finite(self, a: Any) -> Any:
        return tf.math.is_finite(_f64(a))

    def f32(self, x: Any) -> Any:
        return _f64(tf.cast(x, tf.float32))

    def mul32(self, a: Any, b: Any) -> Any:
        return _f64(tf.cast(a, tf.float32) * tf.cast(b, tf.float32))

    def reciprocal32(self, a: Any) -> Any:
        return _f64(tf.math.reciprocal(tf.cast(a, tf.float32)))

    def scalar(self, value: Any, like: Any) -> Any:
        if isinstance(value, (int, float)):
            return tf.constant(float(value), like.dtype)
        return tf.cast(value, like.dtype)

    def branch(self, flag: Any, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Any:
        if isinstance(flag, bool):
            return if_true() if flag else if_false()
        return tf.cond(flag, lambda: tf.nest.map_structure(tf.identity, if_true()),
                       lambda: tf.nest.map_structure(tf.identity, if_false()))

    def all_finite(self, grads: Sequence[Any]) -> Any:
        """Keras's ``check_finite``: every element of every gradient is finite."""
        return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(g)) for g in grads]))

    def host(self, value: Any) -> Any:
        return value


def run_traced(call: GraphCall, grads: list[Any], update: Callable[[list[Any]], None],
               proceeded: tf.Variable, params: list[Any], slots: dict[str, list[Any]]) -> None:
    """One traced step: the transforms' ``forward`` in order, each gate putting the rest (the
    later transforms, ``update(grads)``: the rule and the step count) under a ``tf.cond``;
    then the ``after`` stages on every parameter (``params``, ``slots``), those without
    ``runs_after_skip`` only when no loss scale skipped the step (``proceeded``)."""
    transforms = call.transforms
    proceeded.assign(True)

    def run_from(i: int, grads: list[Any]) -> Any:
        if i == len(transforms):
            update(grads)
            return tf.constant(True)
        transform = transforms[i]
        call._current = i
        call.pending = None
        grads = transform.apply(tf_ops, grads) if transform.stateless else transform.forward(tf_ops, grads, call)
        if call.pending is None:
            return run_from(i + 1, grads)
        proceed, outcome = call.pending
        call.pending = None

        def stop() -> Any:
            if outcome == SKIP:
                proceeded.assign(False)
            return tf.constant(False)

        if isinstance(proceed, bool):
            return run_from(i + 1, grads) if proceed else stop()
        return tf.cond(proceed, lambda: run_from(i + 1, grads), stop)

    run_from(0, list(grads))
    call.params, call.slots = params, slots
    for i, transform in enumerate(transforms):
        if type(transform).after is GradientTransform.after:
            continue
        call._current = i
        if transform.runs_after_skip:
            transform.after(tf_ops, list(params), call)
            continue

        def after(transform: GradientTransform = transform, i: int = i) -> Any:
            call._current = i
            transform.after(tf_ops, list(params), call)
            return tf.constant(True)

        tf.cond(proceeded.read_value(), after, lambda: tf.constant(False))
