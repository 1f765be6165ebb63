"""The ``optbridge`` entry point of optbridge-mindspore: the ``mindspore`` backend's hooks.

Declared in this distribution's ``pyproject.toml``::

    [project.entry-points.optbridge]
    mindspore = "optbridge_mindspore.plugin"

Every hook returns data. The backend trains float32 and float64 ``Parameter``\\ s and
runs every canonical algorithm through its shared rule.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor

from optbridge.plugin import Backend, hookimpl

from . import ops
from .optimizer import DTYPES, MindSporeOptimizer

__all__ = ["optbridge_backends", "optbridge_detect_backend", "build", "make_params", "to_numpy", "grads_from_numpy"]


def build(spec: Any, params: Any, kernels: Mapping[str, Any]) -> MindSporeOptimizer:
    """``Backend.build``: a :class:`~optbridge_mindspore.optimizer.MindSporeOptimizer`."""
    return MindSporeOptimizer(spec, params, kernels)


def make_params(values: Mapping[str, np.ndarray], dtype: str) -> dict[str, Parameter]:
    """``{name: Parameter}`` of ``dtype`` from NumPy values (the conformance suite's)."""
    return {k: Parameter(Tensor(np.array(v, dtype=dtype)), name=k) for k, v in values.items()}


def to_numpy(params: Mapping[str, Tensor]) -> dict[str, np.ndarray]:
    """``{name: ndarray}`` copies."""
    return {k: np.array(v.asnumpy(), copy=True) for k, v in params.items()}


def grads_from_numpy(grads: Mapping[str, np.ndarray], params: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """NumPy gradients as tensors of each parameter's dtype."""
    return {k: Tensor(np.array(g, dtype=ops.dtype_of(params[k]))) for k, g in grads.items()}


@hookimpl
def optbridge_backends() -> list[Backend]:
    return [Backend(name="mindspore", build=build, ops=ops, dtypes=DTYPES, version=f"{ms.__version__} (CPU)",
                    make_params=make_params, to_numpy=to_numpy, grads_from_numpy=grads_from_numpy)]


def _leaves(params: Any) -> list[Any]:
    if isinstance(params, Mapping):
        return list(params.values())
    if isinstance(params, (list, tuple)):
        return [p[1] if isinstance(p, tuple) and len(p) == 2 else p for p in params]
    return []


@hookimpl
def optbridge_detect_backend(params: Any) -> str | None:
    leaves = _leaves(params)
    return "mindspore" if leaves and all(isinstance(p, Tensor) for p in leaves) else None
