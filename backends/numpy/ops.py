"""The ops namespace (:mod:`optbridge.ops`) for NumPy arrays: the reference rounding.

Every primitive is one NumPy ufunc or reduction in the array's dtype. Writes are in place
(``out=`` or augmented assignment) and return the same array. ``sum`` is ``np.sum`` with
the array's dtype, NumPy's pairwise order for a contiguous array: the order the protocol
names. ``sign`` gives ``+0`` for ``±0``; ``maximum``/``minimum`` propagate NaN.

**Memory.** NumPy has no fused ``x − d·α``, so a write of an expression stores its
temporaries. :func:`blockwise_`, ``sub_scaled_``/``add_scaled_`` and :func:`blockwise`
(a new array) evaluate the expression a block at a time (:func:`_chunk` elements;
contiguous arrays of equal shapes as flat blocks, broadcast operands by blocks of
leading-axis slices): the extra memory of such a write is a few blocks, 64 KiB each in
float32, or an eighth of the array above 131,072 elements. Each element is computed by
the same ufuncs either way, so the numbers do not change. :func:`norm` squares (and converts) a large
contiguous array a block at a time too: it follows NumPy's pairwise recursion
(:func:`_pairwise_squares`), so the sum is ``np.sum``'s to the bit.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

name = "numpy"

#: elements per block of :func:`blockwise_` at least (64 KiB of float32, about NumPy's ufunc
#: buffer size of 8192 elements times 2), and the most blocks an array is split into
#: (a larger array gets larger blocks: each block costs a few ufunc calls, about 5 µs
#: of Python and dispatch, which on a 16,384-element block is a quarter of the arithmetic)
BLOCK = 16384
PIECES = 8


def _chunk(size: int) -> int:
    """Elements per block for an array of ``size``: ``max(BLOCK, ⌈size / PIECES⌉)``."""
    return max(BLOCK, -(-size // PIECES))


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


def round_bfloat16(x: np.ndarray) -> np.ndarray:
    """float32 ``x`` rounded to bfloat16 (ties to even) on its bits: ``u + 0x7FFF + lsb``,
    the low 16 bits cleared; a NaN keeps its bits with the quiet bit set."""
    x = np.asarray(x, dtype=np.float32)
    bits = x.view(np.uint32)
    rounded = (bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))) & np.uint32(0xFFFF0000)
    out = np.where(np.isnan(x), (bits | np.uint32(0x00400000)) & np.uint32(0xFFFF0000), rounded)
    return out.astype(np.uint32).view(np.float32).reshape(x.shape)


def matmul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.matmul(x, y)


def transpose(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


def sum(x: np.ndarray) -> np.ndarray:  # noqa: A001 - the protocol's name
    return np.sum(x, dtype=x.dtype)


def sum_axis(x: np.ndarray, axis: int) -> np.ndarray:
    return np.sum(x, axis=axis, keepdims=True, dtype=x.dtype)


def mean_axes(x: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    return np.mean(x, axis=tuple(axes), keepdims=True, dtype=x.dtype)


def sequential_sum(x: np.ndarray, axis: int) -> np.ndarray:
    return np.take(np.cumsum(x, axis=axis, dtype=x.dtype), -1, axis=axis)


def norm(x: np.ndarray, dtype: str | None = None) -> np.ndarray:
    x = np.asarray(x)
    wide = x.dtype if dtype is None else np.dtype(dtype)
    if x.size <= BLOCK or not x.flags.c_contiguous:
        c = x.astype(wide, copy=False)
        return np.sqrt(np.sum(c * c, dtype=wide))
    return np.sqrt(wide.type(0.0) + _pairwise_squares(x.reshape(-1), 0, x.size, wide, _chunk(x.size)))


def amax(x: np.ndarray) -> np.ndarray:
    return np.max(x)


def _pairwise_squares(flat: np.ndarray, start: int, size: int, dtype: np.dtype, leaf: int) -> Any:
    """``Σ c·c`` over ``flat[start:start + size]`` converted to ``dtype``, in the order of
    ``np.sum`` over the whole array (``pairwise_sum`` in NumPy's ``loops_utils.h.src``: a
    run longer than 128 values is split at ``n/2`` rounded down to a multiple of 8 and
    the halves' sums added): the recursion is followed down to runs of at most
    ``leaf`` values, each summed by ``np.sum`` (which continues the same recursion
    from ``+0``; a ``+0`` start changes only the sign of a zero sum, and the caller's
    ``+0 + total``, NumPy's identity, makes that ``+0`` anyway)."""
    if size <= leaf:
        c = flat[start:start + size].astype(dtype, copy=False)
        return np.sum(c * c, dtype=dtype)
    half = size // 2
    half -= half % 8
    return (_pairwise_squares(flat, start, half, dtype, leaf)
            + _pairwise_squares(flat, start + half, size - half, dtype, leaf))


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
    return _scaled_(np.subtract, x, delta, alpha)


def add_scaled_(x: np.ndarray, delta: np.ndarray, alpha: Any) -> np.ndarray:
    return _scaled_(np.add, x, delta, alpha)


def _scaled_(op: np.ufunc, x: np.ndarray, delta: Any, alpha: Any) -> np.ndarray:
    """``x ← op(x, delta·alpha)``: :func:`blockwise_`'s flat blocks, written out (the
    product into one reused block of ``delta·alpha``'s dtype, then ``op`` in place), so
    a block costs two ufunc calls; other layouts go through :func:`blockwise_`."""
    n = x.size
    if n <= BLOCK or not (isinstance(delta, np.ndarray) and delta.shape == x.shape and x.flags.c_contiguous
                          and delta.flags.c_contiguous):
        return blockwise_(lambda x, v: op(x, v, out=x), x, lambda d: d * alpha, delta)
    flat_x, flat_d = x.reshape(-1), delta.reshape(-1)
    chunk = _chunk(n)
    product = np.empty(chunk, np.result_type(flat_d[:1] * alpha))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        part = product[:stop - start]
        np.multiply(flat_d[start:stop], alpha, out=part)
        op(flat_x[start:stop], part, out=flat_x[start:stop])
    return x


def blockwise_(write: Callable[[np.ndarray, Any], np.ndarray], x: np.ndarray, fn: Callable[..., Any],
               *operands: Any) -> np.ndarray:
    """``write(x, fn(*operands))``, a block at a time (:func:`_blocks`)."""
    if not x.flags.c_contiguous:
        return write(x, fn(*operands))
    blocks = _blocks(x.shape, operands)
    if blocks is None:
        return write(x, fn(*operands))
    flat_x = x.reshape(-1) if blocks[0] else x
    for part, pieces in blocks[1]:
        write(flat_x[part], fn(*pieces))
    return x


def blockwise(fn: Callable[..., Any], *operands: Any) -> np.ndarray:
    """``fn(*operands)`` as a new array, a block at a time (:func:`_blocks`):
    the first block's result gives the dtype."""
    shape = np.broadcast_shapes(*(np.shape(o) for o in operands))
    blocks = _blocks(shape, operands)
    if blocks is None:
        return fn(*operands)
    out: np.ndarray | None = None
    target: np.ndarray | None = None
    for part, pieces in blocks[1]:
        value = np.asarray(fn(*pieces))
        if out is None:
            out = np.empty(shape, value.dtype)
            target = out.reshape(-1) if blocks[0] else out
        assert target is not None
        target[part] = value
    assert out is not None
    return out


def _blocks(shape: tuple[int, ...], operands: Sequence[Any]) -> tuple[bool, Any] | None:
    """How to split an elementwise expression over an array of ``shape``: ``None`` for one
    piece, else ``(flat, [(part, operand pieces), ...])`` (a generator).

    Flat blocks of :func:`_chunk` elements (``flat``: ``part`` indexes the flattened array)
    when every array operand is C-contiguous of ``shape``; otherwise blocks of whole slices
    along the first axis, an operand sliced with them where it spans that axis and passed
    whole where it broadcasts along it. One piece for at most :data:`BLOCK` elements, or
    an operand whose first axis neither matches nor broadcasts.
    """
    size = int(np.prod(shape, dtype=np.int64))
    if size <= BLOCK or not shape:
        return None
    arrays = [i for i, o in enumerate(operands) if isinstance(o, np.ndarray) and o.ndim > 0]
    chunk = _chunk(size)
    if all(operands[i].shape == shape and operands[i].flags.c_contiguous for i in arrays):
        flat = [o.reshape(-1) if i in arrays else o for i, o in enumerate(operands)]
        return True, ((slice(start, start + chunk), [o[start:start + chunk] if i in arrays else o
                                                      for i, o in enumerate(flat)])
                      for start in range(0, size, chunk))
    rows = shape[0]
    if any(operands[i].ndim == len(shape) and operands[i].shape[0] not in (1, rows) for i in arrays):
        return None
    spans = [i for i in arrays if operands[i].ndim == len(shape) and operands[i].shape[0] == rows > 1]
    step = max(1, chunk // (size // rows))
    return False, ((slice(start, start + step), [o[start:start + step] if i in spans else o
                                                  for i, o in enumerate(operands)])
                   for start in range(0, rows, step))
