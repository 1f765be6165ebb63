"""Naming and unwrapping TensorFlow/Keras variables for the engine.

Names come from ``variable.path`` (Keras 3 variables: ``"dense/kernel"``, and the
``tf.Variable`` of TF versions that have it), else from ``variable.name`` without the
``":0"`` suffix. A ``{name: variable}`` mapping or ``(name, variable)`` pairs keep the
names given. A Keras model (or any Keras layer) stands for its ``trainable_variables``,
and :func:`layer_roles` gives each one's role (:mod:`optbridge.roles`) from its layer's type.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf

from optbridge.errors import SpecTypeError

__all__ = ["is_variable", "is_keras_layer", "unwrap", "variable_name", "named_variables", "layer_roles",
           "looks_like_tensorflow_params"]

#: Keras layer classes whose every variable is a norm's (those this Keras version has).
_NORM_LAYERS = ("BatchNormalization", "LayerNormalization", "GroupNormalization", "RMSNormalization")


def _keras_variable_type() -> type[Any] | None:
    keras = sys.modules.get("keras")
    return getattr(keras, "Variable", None) if keras is not None else None


def is_variable(obj: Any) -> bool:
    """Whether ``obj`` is a ``tf.Variable`` (incl. distributed) or a Keras 3 variable."""
    if isinstance(obj, tf.Variable):
        return True
    keras_variable = _keras_variable_type()
    return keras_variable is not None and isinstance(obj, keras_variable)


def is_keras_layer(obj: Any) -> bool:
    """Whether ``obj`` is a Keras 3 layer (a model is one)."""
    keras = sys.modules.get("keras")
    layer = getattr(getattr(keras, "layers", None), "Layer", None)
    return isinstance(layer, type) and isinstance(obj, layer)


def _sublayers(layer: Any) -> list[Any]:
    """``layer`` and every layer inside it, depth first."""
    out = [layer]
    # Keras 3 tracks a layer's sublayers in ``_layers`` (``Model.layers`` is that list for models)
    for child in getattr(layer, "_layers", None) or []:
        out.extend(_sublayers(child))
    return out


def layer_roles(model: Any) -> dict[str, str]:
    """The role of each of ``model.trainable_variables``, keyed by :func:`variable_name`.

    Every variable of a ``BatchNormalization``, ``LayerNormalization``,
    ``GroupNormalization`` or ``RMSNormalization`` (and their subclasses) is ``"norm"``,
    the table of an ``Embedding`` ``"embedding"``; a rank-1 variable that is a layer's
    ``bias`` attribute (``Dense``, ``Conv*``, ``EinsumDense``, ...) is ``"bias"``; any
    other ``"weight"``.
    """
    keras = sys.modules["keras"]
    norm_types = tuple(t for t in (getattr(keras.layers, n, None) for n in _NORM_LAYERS) if isinstance(t, type))
    roles: dict[int, str] = {}
    layers = _sublayers(model)
    for layer in layers:
        kind = "norm" if isinstance(layer, norm_types) else \
            "embedding" if isinstance(layer, keras.layers.Embedding) else None
        if kind is not None:
            for var in layer.trainable_variables:
                roles.setdefault(id(var), kind)
    for layer in layers:
        bias = getattr(layer, "bias", None)
        if bias is not None and is_variable(bias) and len(bias.shape) == 1:
            roles.setdefault(id(bias), "bias")
    return {variable_name(v): roles.get(id(v), "weight") for v in model.trainable_variables}


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
    """``[(name, variable)]`` from a mapping, ``(name, variable)`` pairs, variables, or a
    Keras layer or model (its ``trainable_variables``).

    Raises:
        SpecTypeError: something is not a variable, a name is not a string, or two
            variables share a name (pass a ``{name: variable}`` mapping then).
    """
    if is_keras_layer(params):
        params = list(params.trainable_variables)
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
    """Whether ``params`` is a Keras layer or model, or a non-empty collection of variables
    (for backend detection)."""
    if is_keras_layer(params):
        return True
    if isinstance(params, Mapping):
        values = list(params.values())
    elif isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
        values = [p[1] if isinstance(p, tuple) and len(p) == 2 else p for p in params]
    else:
        return False
    return bool(values) and all(is_variable(v) for v in values)
