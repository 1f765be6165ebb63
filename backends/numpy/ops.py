"""The ops namespace (:mod:`optbridge.ops`) for NumPy arrays: the reference rounding.

Every primitive is one NumPy ufunc or reduction in the array's dtype. Writes are in place
(``out=`` or augmented assignment) and return the same array. ``sum`` is ``np.sum`` with
the array's dtype, NumPy's pairwise order for a contiguous array: the order the protocol
names. ``sign`` gives ``+0`` for ``±0``; ``maximum``/``minimum`` propagate NaN.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

name = "numpy"


def scalar(value: float, like: np.ndarray) -> np.generic:
    return like.dtype.type(value)


def full_like(x: np.ndarray, value: float) -> np.ndarray:
    return np.full(x.shape, value, dtype=x.dtype)


def astype(x: np.ndarray, dtype: str) -> np.ndarray:
    return np.asarray(x).astype(dtype)


def dtype_of(x: np.ndarray) -> str:
    return np.asarray(x).dtype.name


def shape_of(x: np.ndarray) -> tuple[int, ...]:
    return tuple(np.shape(x))


def reshape(x: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    return np.reshape(x, tuple(shape))


def div(x: np.ndarray, y: Any) -> np.ndarray:
    return np.divide(x, y)


def sqrt(x: np.ndarray) -> np.ndarray:
    return np.sqrt(x)


def abs(x: np.ndarray) -> np.ndarray:  # noqa: A001 - the protocol's name
    return np.abs(x)


def sign(x: np.ndarray) -> np.ndarray:
    return np.sign(x)


def maximum(x: np.ndarray, y: Any) -> np.ndarray:
    return np.maximum(x, y)


def minimum(x: np.ndarray, y: Any) -> np.ndarray:
    return np.minimum(x, y)


def power(x: np.ndarray, y: Any) -> np.ndarray:
    return np.power(x, y)


def square(x: np.ndarray) -> np.ndarray:
    return x * x


def greater(x: np.ndarray, y: Any) -> np.ndarray:
    return np.greater(x, y)


def less(x: np.ndarray, y: Any) -> np.ndarray:
    return np.less(x, y)


def equal(x: np.ndarray, y: Any) -> np.ndarray:
    return np.equal(x, y)


def where(condition: np.ndarray, x: Any, y: Any) -> np.ndarray:
    dtype = next((v.dtype for v in (x, y) if isinstance(v, (np.ndarray, np.generic))), None)
    out = np.where(condition, x, y)
    return out if dtype is None or out.dtype == dtype else out.astype(dtype)


def lerp(a: np.ndarray, b: np.ndarray, w: Any, *, small: bool) -> np.ndarray:
    diff = b - a
    if small:
        return a + w * diff
    return b - diff * (a.dtype.type(1.0) - w)


def sum(x: np.ndarray) -> np.ndarray:  # noqa: A001 - the protocol's name
    return np.sum(x, dtype=x.dtype)


def sum_axis(x: np.ndarray, axis: int) -> np.ndarray:
    return np.sum(x, axis=axis, keepdims=True, dtype=x.dtype)


def mean_axes(x: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    return np.mean(x, axis=tuple(axes), keepdims=True, dtype=x.dtype)


def sequential_sum(x: np.ndarray, axis: int) -> np.ndarray:
    return np.take(np.cumsum(x, axis=axis, dtype=x.dtype), -1, axis=axis)


def norm(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(x * x, dtype=x.dtype))


def cond(flag: Any, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Any:
    return if_true() if flag else if_false()


def assign_(x: np.ndarray, value: Any) -> np.ndarray:
    x[...] = value
    return x


def add_(x: np.ndarray, y: Any) -> np.ndarray:
    x += y
    return x


def sub_(x: np.ndarray, y: Any) -> np.ndarray:
    x -= y
    return x


def mul_(x: np.ndarray, y: Any) -> np.ndarray:
    x *= y
    return x


def sub_scaled_(x: np.ndarray, delta: np.ndarray, alpha: Any) -> np.ndarray:
    x -= delta * alpha
    return x


def add_scaled_(x: np.ndarray, delta: np.ndarray, alpha: Any) -> np.ndarray:
    x += delta * alpha
    return x
