"""The NumPy backend's optimizer: updates a ``{name: ndarray}`` mapping in place."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from optbridge.engine import Engine, OptimizerAPI
from optbridge.errors import BackendError, SpecTypeError, StateDictError, StepInputError
from optbridge.groups import ParamInfo
from optbridge.spec import OptimizerSpec

from optbridge.algorithms.base import Algorithm
from optbridge.preprocess import preprocess_gradients

from . import ops as numpy_ops

__all__ = ["NumpyOptimizer"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _typed(scalars: Mapping[str, Any], t: type) -> dict[str, Any]:
    """Host scalars as NumPy scalars of type ``t`` (booleans kept; nested mappings too)."""
    return {k: _typed(v, t) if isinstance(v, Mapping) else v if isinstance(v, (bool, np.bool_)) else t(v)
            for k, v in scalars.items()}


class NumpyOptimizer(OptimizerAPI):
    """Reference optimizer over NumPy arrays (float32 or float64), updated in place.

    Args:
        spec: a canonical :class:`~optbridge.spec.OptimizerSpec`.
        params: ``{name: ndarray}``; the arrays are updated in place by :meth:`step`.
        kernels: ``{algorithm name: kernel}``.
    """

    def __init__(self, spec: OptimizerSpec, params: Mapping[str, np.ndarray], kernels: Mapping[str, Callable]):
        if not isinstance(params, Mapping):
            raise SpecTypeError(f"the numpy backend takes a {{name: ndarray}} mapping. Received: {type(params).__name__}")
        for name, arr in params.items():
            if not isinstance(name, str):
                raise SpecTypeError(f"parameter names must be strings. Received: {name!r}")
            if not isinstance(arr, np.ndarray) or arr.dtype not in _DTYPES:
                raise SpecTypeError(
                    f"parameter {name!r} must be a float32 or float64 numpy array. Received: "
                    f"{type(arr).__name__} {getattr(arr, 'dtype', '')}"
                )
        self._params = params
        self._engine = Engine(spec, [ParamInfo(n, tuple(a.shape)) for n, a in params.items()])
        algorithm = spec.algorithm.name
        if algorithm not in kernels:
            raise BackendError(f"the numpy backend has no kernel for algorithm {algorithm!r}")
        self._kernels = {g.algorithm.name: kernels[g.algorithm.name] for g in self._engine.groups}
        self._state: dict[str, dict[str, np.ndarray]] = {}
        for name, slots in self._engine.expected_slots().items():
            p = params[name]
            self._state[name] = {slot: np.full(p.shape, init, dtype=p.dtype) for slot, init in slots.items()}

    @property
    def params(self) -> Mapping[str, np.ndarray]:
        """The parameter mapping this optimizer updates."""
        return self._params

    def _grads_by_name(self, grads: Any) -> Mapping[str, np.ndarray]:
        names = self._engine.param_names
        if isinstance(grads, Mapping):
            missing = [n for n in names if n not in grads]
            if missing:
                raise StepInputError(f"step: no gradient for parameter(s) {missing[:5]}")
            by_name = grads
        elif isinstance(grads, Sequence) and not isinstance(grads, (str, bytes)):
            if len(grads) != len(names):
                raise StepInputError(
                    f"step: got {len(grads)} gradients for {len(names)} parameters (order: optimizer.param_names)"
                )
            by_name = dict(zip(names, grads))
        else:
            raise StepInputError(f"step: gradients must be a mapping by name or a sequence. Received: {type(grads).__name__}")
        for n in names:
            g, p = by_name[n], self._params[n]
            if not isinstance(g, np.ndarray) or g.shape != p.shape:
                raise StepInputError(
                    f"step: gradient of {n!r} must be an ndarray of shape {p.shape}. Received: "
                    f"{type(g).__name__} {getattr(g, 'shape', '')}"
                )
            if g.dtype != p.dtype:
                raise StepInputError(f"step: gradient of {n!r} has dtype {g.dtype}, parameter has {p.dtype}")
        return by_name

    def step(self, grads: Any) -> None:
        """Apply one update. ``grads``: ``{name: ndarray}`` or a sequence in ``param_names`` order.

        Validation and every host scalar come first, so a bad call changes nothing.
        """
        by_name = self._grads_by_name(grads)
        plan = self._engine.plan()
        for bs in plan.buckets:
            by_dtype: dict[np.dtype, list[str]] = {}
            for n in bs.bucket.names:
                by_dtype.setdefault(self._params[n].dtype, []).append(n)
            for dtype, names in by_dtype.items():
                t = dtype.type
                params = [self._params[n] for n in names]
                g = preprocess_gradients(
                    numpy_ops, params, [by_name[n] for n in names], negate=bs.negate,
                    weight_decay=t(bs.weight_decay) if bs.weight_decay != 0.0 else None, centralize=bs.centralize,
                    grad_scale=None if bs.grad_scale is None else t(bs.grad_scale))
                slots = {s.name: [self._state[n][s.name] for n in names] for s in bs.algorithm.slots()}
                alg = bs.algorithm
                if type(alg).update_tensor is not Algorithm.update_tensor or type(alg).update is not Algorithm.update:
                    alg.update(numpy_ops, params, g, slots, _typed(bs.scalars, t))
                else:
                    self._kernels[alg.name](alg, params, g, slots, bs.scalars)
        self._engine.commit(plan)

    def _export_slots(self) -> dict[str, dict[str, np.ndarray]]:
        return {n: {k: v.copy() for k, v in s.items()} for n, s in self._state.items()}

    def _import_slots(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        converted = {}
        for n, slots in state.items():
            dtype = self._params[n].dtype
            try:
                converted[n] = {k: np.array(v, dtype=dtype, copy=True) for k, v in slots.items()}
            except (TypeError, ValueError) as exc:
                raise StateDictError(f"state[{n!r}]: cannot convert to {dtype}: {exc}") from exc
        for n, slots in converted.items():
            for k, v in slots.items():
                self._state[n][k][...] = v
