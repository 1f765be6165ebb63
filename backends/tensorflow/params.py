"""Naming and unwrapping TensorFlow/Keras variables for the engine.

Names come from ``variable.path`` (Keras 3 variables: ``"dense/kernel"``, and the
``tf.Variable`` of TF versions that have it), else from ``variable.name`` without the
``":0"`` suffix. A ``{name: variable}`` mapping or ``(name, variable)`` pairs keep the
names given.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf

from optbridge.errors import SpecTypeError

__all__ = ["is_variable", "unwrap", "variable_name", "named_variables", "looks_like_tensorflow_params"]


def _keras_variable_type() -> type[Any] | None:
    keras = sys.modules.get("keras")
    return getattr(keras, "Variable", None) if keras is not None else None


def is_variable(obj: Any) -> bool:
    """Whether ``obj`` is a ``tf.Variable`` (incl. distributed) or a Keras 3 variable."""
    if isinstance(obj, tf.Variable):
        return True
    keras_variable = _keras_variable_type()
    return keras_variable is not None and isinstance(obj, keras_variable)


def unwrap(obj: Any) -> tf.Variable:
    """The ``tf.Variable`` behind a Keras 3 variable (itself for a ``tf.Variable``)."""
    keras_variable = _keras_variable_type()
    if keras_variable is not None and isinstance(obj, keras_variable):
        return obj.value
    return obj


def variable_name(obj: Any) -> str:
    """``obj.path`` where it exists, else ``obj.name`` without its ``":0"`` suffix."""
    path = getattr(obj, "path", None)
    if isinstance(path, str) and path:
        return path
    name = str(obj.name)
    return name[:-2] if name.endswith(":0") else name


def named_variables(params: Any) -> list[tuple[str, Any]]:
    """``[(name, variable)]`` from a mapping, ``(name, variable)`` pairs or variables.

    Raises:
        SpecTypeError: something is not a variable, a name is not a string, or two
            variables share a name (pass a ``{name: variable}`` mapping then).
    """
    if isinstance(params, Mapping):
        items = list(params.items())
    elif isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
        items = []
        for i, entry in enumerate(params):
            if is_variable(entry):
                items.append((variable_name(entry), entry))
            elif isinstance(entry, tuple) and len(entry) == 2 and is_variable(entry[1]):
                items.append(entry)
            else:
                raise SpecTypeError(
                    f"params[{i}] must be a tf.Variable, a keras.Variable or a (name, variable) pair. "
                    f"Received: {type(entry).__name__}"
                )
    else:
        raise SpecTypeError(
            "the tensorflow backend takes model.trainable_variables, (name, variable) pairs or a "
            f"{{name: variable}} mapping. Received: {type(params).__name__}"
        )
    seen: dict[str, int] = {}
    for i, (name, var) in enumerate(items):
        if not isinstance(name, str):
            raise SpecTypeError(f"parameter names must be strings. Received: {name!r}")
        if not is_variable(var):
            raise SpecTypeError(
                f"parameter {name!r} must be a tf.Variable or keras.Variable. Received: {type(var).__name__}"
            )
        if name in seen:
            raise SpecTypeError(
                f"two variables are named {name!r} (positions {seen[name]} and {i}); pass a {{name: variable}} "
                f"mapping with unique names"
            )
        seen[name] = i
    if not items:
        raise SpecTypeError("the tensorflow backend got no variables")
    return items


def looks_like_tensorflow_params(params: Any) -> bool:
    """Whether ``params`` is a non-empty collection of variables (for backend detection)."""
    if isinstance(params, Mapping):
        values = list(params.values())
    elif isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
        values = [p[1] if isinstance(p, tuple) and len(p) == 2 else p for p in params]
    else:
        return False
    return bool(values) and all(is_variable(v) for v in values)
