"""The TensorFlow backend: compiled group kernels, ``GradientTape`` loops and Keras ``model.fit``.

Registered through the ``optbridge`` entry-point group like any third-party plugin.
Importing this package (which listing the installed backends does) never imports
TensorFlow: the backend is offered when TensorFlow is installed, and TensorFlow is
imported when an optimizer is built or a conformance hook runs. Without TensorFlow the
plugin provides no backend and is not reported as broken.

``optbridge.build(spec, model.trainable_variables)`` returns a
:class:`~optbridge.backends.tensorflow.optimizer.TensorFlowOptimizer`;
``optbridge.keras(spec)`` returns a ``keras.optimizers.Optimizer``
(:class:`~optbridge.backends.tensorflow.keras_adapter.KerasOptimizer`).
"""
from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import numpy as np

from optbridge.plugin import Backend, hookimpl

from .kernels import KERNELS, unsupported

__all__ = ["KERNELS", "available", "tensorflow_version"]

_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos", "tf-nightly")


def available() -> bool:
    """Whether TensorFlow can be imported (checked without importing it)."""
    return "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is not None


def tensorflow_version() -> str:
    """The installed TensorFlow version, read from package metadata (no import)."""
    module = sys.modules.get("tensorflow")
    if module is not None and getattr(module, "__version__", None):
        return module.__version__
    for dist in _DISTRIBUTIONS:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return ""


def _build(spec, params, kernels, *, jit_compile=None, fused=True, native=True, horizon=None):
    """``optbridge.build(spec, variables, **options)``: the options of :class:`TensorFlowOptimizer`
    (``jit_compile``, ``fused``, ``native``, ``horizon``; ``None``: its default horizon)."""
    from .optimizer import DEFAULT_HORIZON, TensorFlowOptimizer

    return TensorFlowOptimizer(spec, params, kernels, jit_compile=jit_compile, fused=fused, native=native,
                               horizon=DEFAULT_HORIZON if horizon is None else horizon)


def _make_params(values: Mapping[str, np.ndarray], dtype: str) -> dict[str, Any]:
    import tensorflow as tf

    return {name: tf.Variable(np.array(v, dtype=dtype, copy=True)) for name, v in values.items()}


def _to_numpy(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {name: np.array(v.numpy(), copy=True) for name, v in params.items()}


def _grads_from_numpy(grads: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> dict[str, Any]:
    import tensorflow as tf

    return {name: tf.constant(np.asarray(g, dtype=params[name].dtype.as_numpy_dtype)) for name, g in grads.items()}


@hookimpl
def optbridge_backends() -> list[Backend]:
    if not available():
        return []
    return [
        Backend(
            name="tensorflow",
            build=_build,
            kernels=KERNELS,
            dtypes=("float32", "float64"),
            version=tensorflow_version(),
            unsupported=unsupported(),
            make_params=_make_params,
            to_numpy=_to_numpy,
            grads_from_numpy=_grads_from_numpy,
        )
    ]


@hookimpl
def optbridge_detect_backend(params: Any) -> str | None:
    if "tensorflow" not in sys.modules:
        return None  # no TensorFlow variable can exist before TensorFlow is imported
    from .params import looks_like_tensorflow_params

    return "tensorflow" if looks_like_tensorflow_params(params) else None


@hookimpl
def optbridge_adapters() -> dict[str, Any]:
    """``{"keras": factory}``: ``optbridge.keras(spec)`` builds a ``keras.optimizers.Optimizer``
    (:class:`~optbridge.backends.tensorflow.keras_adapter.KerasOptimizer`); TensorFlow is
    imported when the factory is called, not here."""

    def keras_optimizer(spec: Any, **options: Any) -> Any:
        from .keras_adapter import KerasOptimizer

        return KerasOptimizer(spec, **options)

    return {"keras": keras_optimizer}
