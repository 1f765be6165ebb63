"""The NumPy backend's optimizer: updates a ``{name: ndarray}`` mapping in place.

Written on the public backend base (:class:`optbridge.base_optimizer.BaseOptimizer`): the
NumPy ops namespace and three adapters. It is the reference every other backend is
compared with, so it has no fast path: every bucket runs the shared pre-processing and
the algorithm's shared rule.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from optbridge.base_optimizer import BaseOptimizer
from optbridge.engine import BucketStep
from optbridge.errors import BackendError, SpecTypeError
from optbridge.spec import OptimizerSpec

from . import ops as numpy_ops

__all__ = ["NumpyOptimizer"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class NumpyOptimizer(BaseOptimizer):
    """Reference optimizer over NumPy arrays (float32 or float64), updated in place.

    Args:
        spec: a canonical :class:`~optbridge.spec.OptimizerSpec`.
        params: ``{name: ndarray}``; the arrays are updated in place by :meth:`step`.
        kernels: ``{algorithm name: kernel}`` run instead of the algorithm's shared rule (a
            plugin's algorithm without a rule, or a plugin's replacement registered
            through ``optbridge_kernels``): ``kernel(algorithm, params, grads, slots,
            scalars)`` updates a bucket in place, exactly like ``algorithm.update`` without
            the ops argument: pre-processed gradients, scalars in the bucket's dtype.

    Raises:
        BackendError: an algorithm of the spec has neither a rule nor a kernel.
    """

    ops: ClassVar[Any] = numpy_ops
    backend_name = "numpy"

    def __init__(self, spec: OptimizerSpec, params: Mapping[str, np.ndarray],
                 kernels: Mapping[str, Callable[..., None]] | None = None):
        if not isinstance(params, Mapping):
            raise SpecTypeError(
                f"the numpy backend takes a {{name: ndarray}} mapping. Received: {type(params).__name__}"
            )
        self.kernels = dict(kernels or {})
        super().__init__(spec, params)
        for group in self.engine.groups:
            if not group.algorithm.has_rule() and group.algorithm.name not in self.kernels:
                raise BackendError(f"the numpy backend has no rule or kernel for algorithm {group.algorithm.name!r}")

    def run_bucket(self, bucket: BucketStep, params: list, grads: list, slots: dict[str, list],
                   scalars: Mapping[str, Any]) -> None:
        kernel = self.kernels.get(bucket.algorithm.name)
        if kernel is None:
            super().run_bucket(bucket, params, grads, slots, scalars)
            return
        kernel(bucket.algorithm, params, self.preprocess(bucket, params, grads), slots, scalars)

    def check_param(self, name: str, array: Any) -> str | None:
        if not isinstance(array, np.ndarray) or array.dtype not in _DTYPES:
            return f"it must be a float32 or float64 numpy array. Received: {type(array).__name__} " \
                   f"{getattr(array, 'dtype', '')}"
        return None

    def check_gradient(self, name: str, grad: Any, param: np.ndarray) -> str | None:
        if not isinstance(grad, np.ndarray) or grad.shape != param.shape:
            return (f"must be an ndarray of shape {param.shape}. Received: {type(grad).__name__} "
                    f"{getattr(grad, 'shape', '')}")
        return super().check_gradient(name, grad, param)

    def from_numpy(self, value: np.ndarray, like: np.ndarray) -> np.ndarray:
        return np.array(value, dtype=like.dtype, copy=True)

    def step(self, grads: Any) -> None:
        """Apply one update in place. ``grads``: ``{name: ndarray}`` or a sequence in
        ``param_names`` order. Validation and every host scalar come first, so a bad call
        changes nothing."""
        super().step(grads)
