"""The NumPy reference backend: float32 and float64, in-place ufuncs, the conformance truth.

An ops namespace (:mod:`.ops`) and an optimizer on the public base
(:class:`optbridge.base_optimizer.BaseOptimizer`): every algorithm runs its shared rule,
with no fast path. Registered through the ``optbridge`` entry-point group like any
third-party plugin.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from optbridge.plugin import Backend, hookimpl

from . import ops
from .optimizer import NumpyOptimizer

__all__ = ["NumpyOptimizer", "ops"]


def _build(spec, params, kernels):
    return NumpyOptimizer(spec, params, kernels=kernels)


def _make_params(values: Mapping[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    return {k: np.array(v, dtype=dtype, copy=True) for k, v in values.items()}


def _to_numpy(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in params.items()}


def _grads_from_numpy(grads: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.asarray(g, dtype=params[k].dtype) for k, g in grads.items()}


@hookimpl
def optbridge_backends() -> list[Backend]:
    return [
        Backend(
            name="numpy",
            build=_build,
            ops=ops,
            dtypes=("float32", "float64"),
            version=np.__version__,
            make_params=_make_params,
            to_numpy=_to_numpy,
            grads_from_numpy=_grads_from_numpy,
        )
    ]


@hookimpl
def optbridge_detect_backend(params: Any) -> str | None:
    if isinstance(params, Mapping) and params and all(isinstance(v, np.ndarray) for v in params.values()):
        return "numpy"
    return None
