"""The ops namespace (:mod:`optbridge.ops`) for MindSpore tensors, with NumPy's rounding.

The shared update rules (``optbridge.algorithms``) and the gradient pre-processing run
on this module eagerly (PYNATIVE), one MindSpore CPU kernel per primitive. MindSpore's
``+ − · /`` and ``sqrt`` are correctly rounded in float32 and float64, so they are
used as they are. Where MindSpore 2.10's CPU kernels depart
from the protocol's rounding table (``optbridge.ops``), this module does what the table
says instead:

* ``ops.maximum``/``ops.minimum`` return the second operand when the first is NaN
  (``maximum(NaN, 1) = 1``) and ``ops.sign(NaN)`` is ``0``: :func:`maximum`,
  :func:`minimum` and :func:`sign` put the NaN back with a select;
* ``ReduceSum`` adds in its own order (151 of 200 float32 sums of about 1,000 normal
  values differ from NumPy's in the last bits) and ``Pow`` is within 1.33 float32 ulp
  where NumPy's is within 1 (a third of the values differ): the reductions and
  :func:`power` run NumPy's on the host copy of the CPU tensor (``Tensor.asnumpy``;
  the same ``pow`` MindSpore's own fused CPU kernels such as ``ApplyFtrl`` call), so
  sums are in NumPy's pairwise order (``EXACT_SUM``).

MindSpore's CPU kernels may flush subnormals (:data:`FLUSHES_SUBNORMALS`).

Writes are in place: the result is computed, then copied into the tensor with
``Tensor.copy_`` (``Parameter.assign_value`` would make the parameter share the
result's memory), and the same tensor is returned, so a ``Parameter`` of a network is
trained where it lives. Flags are Python booleans (``cond`` branches in Python).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import Tensor
from mindspore import ops as P

__all__ = [
    "name", "EXACT_SUM", "FLUSHES_SUBNORMALS", "scalar", "full_like", "astype", "dtype_of", "shape_of", "reshape",
    "div", "sqrt", "abs", "sign", "maximum", "minimum", "power", "square", "greater", "less", "equal", "where",
    "lerp", "round_bfloat16", "matmul", "transpose",
    "sum", "sum_axis", "mean_axes", "sequential_sum", "norm", "cond", "assign_", "add_", "sub_", "mul_",
    "sub_scaled_", "add_scaled_", "blockwise_", "blockwise", "host",
]

name = "mindspore"
#: the reductions add in NumPy's pairwise order (they are NumPy's)
EXACT_SUM = True
#: MindSpore 2.10's CPU kernels keep subnormals in a fresh process; once some kernels have run
#: (``Sqrt``, ``Abs``: measured) later ones flush subnormal inputs and results to zero, or not,
#: depending on the worker thread that runs them. Values below 1.2e-38 (float32) / 2.2e-308
#: (float64) are therefore held to the flushing rule: either result may come out
FLUSHES_SUBNORMALS = True


def host(x: Any) -> Any:
    """``x`` as NumPy (a tensor's host view, without a copy on CPU; a number unchanged)."""
    return x.asnumpy() if isinstance(x, Tensor) else x


def _np_dtype(x: Tensor) -> np.dtype:
    return np.dtype(dtype_of(x))


def _tensor(value: Any, like: Tensor) -> Tensor:
    """``value`` as a tensor: a tensor unchanged, a number as a 0-d tensor of ``like``'s dtype."""
    return value if isinstance(value, Tensor) else Tensor(np.asarray(value, _np_dtype(like)))


def _from_host(value: Any, dtype: np.dtype) -> Tensor:
    return Tensor(np.ascontiguousarray(value, dtype=dtype))


# -- values ------------------------------------------------------------------------------
def scalar(value: float, like: Tensor) -> Tensor:
    return Tensor(np.asarray(value, _np_dtype(like)))


def full_like(x: Tensor, value: float) -> Tensor:
    return Tensor(np.full(tuple(x.shape), value, _np_dtype(x)))


def astype(x: Tensor, dtype: str) -> Tensor:
    return x.astype(getattr(ms, dtype))


def dtype_of(x: Tensor) -> str:
    return str(x.dtype).lower()


def shape_of(x: Tensor) -> tuple[int, ...]:
    return tuple(x.shape)


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    return x.reshape(tuple(shape))


# -- elementwise ---------------------------------------------------------------------------
def div(x: Any, y: Any) -> Tensor:
    return x / y if isinstance(x, Tensor) else _tensor(x, y) / y


def sqrt(x: Tensor) -> Tensor:
    return P.sqrt(x)


def abs(x: Tensor) -> Tensor:  # noqa: A001 - the protocol's name
    return P.abs(x)


def sign(x: Tensor) -> Tensor:
    return P.where(P.isnan(x), x, P.sign(x))


def _nan_select(x: Any, y: Any, picked: Tensor) -> Tensor:
    """``picked`` with NaN wherever ``x`` or ``y`` is NaN (``x + y`` is NaN there)."""
    return P.where(P.isnan(x) | P.isnan(y), x + y, picked)


def maximum(x: Any, y: Any) -> Tensor:
    x, y = _pair(x, y)
    return _nan_select(x, y, P.maximum(x, y))


def minimum(x: Any, y: Any) -> Tensor:
    x, y = _pair(x, y)
    return _nan_select(x, y, P.minimum(x, y))


def _pair(x: Any, y: Any) -> tuple[Tensor, Tensor]:
    return (x, _tensor(y, x)) if isinstance(x, Tensor) else (_tensor(x, y), y)


def power(x: Any, y: Any) -> Tensor:
    x, y = _pair(x, y)
    return _from_host(np.power(host(x), host(y)), _np_dtype(x))


def square(x: Tensor) -> Tensor:
    return x * x


def greater(x: Any, y: Any) -> Tensor:
    return P.gt(*_pair(x, y))


def less(x: Any, y: Any) -> Tensor:
    return P.lt(*_pair(x, y))


def equal(x: Any, y: Any) -> Tensor:
    return P.equal(*_pair(x, y))


def where(condition: Tensor, x: Any, y: Any) -> Tensor:
    x, y = _pair(x, y)
    out = P.where(condition, x, y)
    return out if out.dtype == x.dtype else out.astype(x.dtype)


def lerp(a: Tensor, b: Tensor, w: Any, *, small: bool) -> Tensor:
    diff = b - a
    if small:
        return a + w * diff
    return b - diff * (scalar(1.0, a) - w)


def round_bfloat16(x: Tensor) -> Tensor:
    """On the bits of the host copy (the NumPy ops' formula)."""
    bits = host(x).astype(np.float32).view(np.uint32)
    high = np.uint32(0xFFFF0000)
    rounded = (bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))) & high
    out = np.where(np.isnan(bits.view(np.float32)), (bits | np.uint32(0x00400000)) & high, rounded)
    return _from_host(out.astype(np.uint32).view(np.float32), np.dtype(np.float32))


# -- matrices --------------------------------------------------------------------------------
def matmul(x: Tensor, y: Tensor) -> Tensor:
    return P.matmul(x, y)


def transpose(x: Tensor) -> Tensor:
    return P.swapaxes(x, -1, -2)


# -- reductions: NumPy's, on the host copy -----------------------------------------------------
def sum(x: Tensor) -> Tensor:  # noqa: A001 - the protocol's name
    return _from_host(np.sum(host(x), dtype=_np_dtype(x)), _np_dtype(x))


def sum_axis(x: Tensor, axis: int) -> Tensor:
    return _from_host(np.sum(host(x), axis=axis, keepdims=True, dtype=_np_dtype(x)), _np_dtype(x))


def mean_axes(x: Tensor, axes: Sequence[int]) -> Tensor:
    return _from_host(np.mean(host(x), axis=tuple(axes), keepdims=True, dtype=_np_dtype(x)), _np_dtype(x))


def sequential_sum(x: Tensor, axis: int) -> Tensor:
    dtype = _np_dtype(x)
    return _from_host(np.take(np.cumsum(host(x), axis=axis, dtype=dtype), -1, axis=axis), dtype)


def norm(x: Tensor, dtype: str | None = None) -> Tensor:
    if dtype is not None:
        x = astype(x, dtype)
    return P.sqrt(sum(x * x))


def amax(x: Tensor) -> Tensor:
    # MindSpore's amax skips NaN; the protocol's is NaN when any element is
    top = P.amax(x)
    return P.where(P.isnan(x).any(), P.full_like(top, float("nan")), top)


def blockwise_(write: Callable[[Tensor, Any], Tensor], x: Tensor, fn: Callable[..., Any], *operands: Any) -> Tensor:
    return write(x, fn(*operands))


def blockwise(fn: Callable[..., Any], *operands: Any) -> Any:
    return fn(*operands)


# -- control ---------------------------------------------------------------------------------
def cond(flag: Any, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Any:
    return if_true() if bool(flag) else if_false()


# -- writes: in place, returning the tensor written ----------------------------------------
def assign_(x: Tensor, value: Any) -> Tensor:
    value = _tensor(value, x)
    if value.dtype != x.dtype:
        value = value.astype(x.dtype)
    if tuple(value.shape) != tuple(x.shape):
        value = P.broadcast_to(value, tuple(x.shape))
    x.copy_(value)
    return x


def add_(x: Tensor, y: Any) -> Tensor:
    return assign_(x, x + y)


def sub_(x: Tensor, y: Any) -> Tensor:
    return assign_(x, x - y)


def mul_(x: Tensor, y: Any) -> Tensor:
    return assign_(x, x * y)


def sub_scaled_(x: Tensor, delta: Any, alpha: Any) -> Tensor:
    return assign_(x, x - delta * alpha)


def add_scaled_(x: Tensor, delta: Any, alpha: Any) -> Tensor:
    return assign_(x, x + delta * alpha)
