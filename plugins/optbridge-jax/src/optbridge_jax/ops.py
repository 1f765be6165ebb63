"""The ops namespace (:mod:`optbridge.ops`) for JAX arrays, with NumPy's rounding.

The shared update rules (``optbridge.algorithms``) and gradient pre-processing
(``optbridge.preprocess``) run on this module inside the jitted bucket step
(:mod:`optbridge_jax.step`), compiled with the exact compiler options. Arrays are
immutable, so every write (``assign_``, ``add_``, ...) returns the new value, which the
rule rebinds. Flags are static Python booleans on this backend (``cond`` branches in
Python); a traced boolean is accepted too and selects elementwise.

Where XLA's rewrites would change NumPy's rounding:

* XLA's algebraic simplifier replaces a division by a broadcast scalar, ``x / s``, with
  ``x · (1/s)``: two roundings instead of one, so about one result in eight differs from
  NumPy's ``x / s`` in the last bit (measured on the centralization mean, float32).
  :func:`div` broadcasts the divisor behind ``lax.optimization_barrier``, which the
  simplifier cannot see through.
* It also rewrites ``x / sqrt(y)`` as ``x · rsqrt(y)``, whose reciprocal square root is
  not correctly rounded (measured: up to 9 float32 ulps on Adadelta, about one value in
  ten off in RMSProp and Adagrad): :func:`sqrt` hides its result behind a barrier.
* XLA sums in its own order: :func:`sum`, :func:`sum_axis` and :func:`mean_axes` add in
  NumPy's (:func:`pairwise_sum` along a contiguous axis, left to right along another),
  so means and norms match the reference bit for bit (``EXACT_SUM``).

XLA's CPU kernels flush subnormal inputs and results to zero (``FLUSHES_SUBNORMALS``):
values below 1.2e-38 in float32 and 2.2e-308 in float64 differ from NumPy's.
"""
from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = [
    "name", "EXACT_SUM", "FLUSHES_SUBNORMALS", "scalar", "full_like", "astype", "dtype_of", "shape_of", "reshape",
    "div", "sqrt", "abs", "sign", "maximum", "minimum", "power", "square", "greater", "less", "equal", "where",
    "lerp", "sum", "sum_axis", "mean_axes", "sequential_sum", "norm", "cond", "assign_", "add_", "sub_", "mul_",
    "sub_scaled_", "add_scaled_", "blockwise_", "blockwise", "pairwise_sum", "total",
]

name = "jax"
#: :func:`sum` adds in NumPy's pairwise order
EXACT_SUM = True
#: XLA's CPU kernels flush subnormals to zero
FLUSHES_SUBNORMALS = True

_BLOCK = 128   # NumPy's PW_BLOCKSIZE
_LANES = 8     # accumulators of NumPy's unrolled block loop


# -- NumPy's summation order -------------------------------------------------------------
def _block_sums(blocks: jax.Array) -> jax.Array:
    """Sums over the last axis (at most 128 values) in NumPy's order for one block."""
    n = blocks.shape[-1]
    if n < _LANES:
        acc = jnp.zeros(blocks.shape[:-1], blocks.dtype)
        for i in range(n):
            acc = acc + blocks[..., i]
        return acc
    lanes = blocks[..., :_LANES]
    end = n - n % _LANES
    for i in range(_LANES, end, _LANES):
        lanes = lanes + blocks[..., i:i + _LANES]
    r = [lanes[..., j] for j in range(_LANES)]
    acc = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for i in range(end, n):
        acc = acc + blocks[..., i]
    return acc


@functools.lru_cache(maxsize=256)
def _pairwise_plan(n: int) -> tuple[dict[int, tuple[int, ...]], tuple[tuple[tuple[int, int], ...], ...]]:
    """NumPy's recursion over ``n`` values as data: ``({block length: block starts}, levels)``.

    Blocks are numbered in the order of the first mapping's items; each level lists the
    ``(left, right)`` node numbers added to make its nodes, numbered after everything
    before them; the last node is the sum.
    """
    blocks: dict[int, list[int]] = {}
    leaves: list[tuple[int, int]] = []
    nodes: list[tuple[int, Any, Any]] = []     # (height, left, right); left/right: node ids

    def split(start: int, size: int) -> tuple[str, int]:
        if size <= _BLOCK:
            leaves.append((start, size))
            return ("leaf", len(leaves) - 1)
        half = size // 2
        half -= half % _LANES
        left, right = split(start, half), split(start + half, size - half)
        height = 1 + builtins.max(_height(nodes, left), _height(nodes, right))
        nodes.append((height, left, right))
        return ("node", len(nodes) - 1)

    split(0, n)
    for start, size in leaves:
        blocks.setdefault(size, []).append(start)
    number: dict[tuple[str, int], int] = {}
    for size, starts in blocks.items():
        for start in starts:
            number[("leaf", leaves.index((start, size)))] = len(number)
    levels = []
    for height in range(1, builtins.max((h for h, _, _ in nodes), default=0) + 1):
        level = []
        for i, (h, left, right) in enumerate(nodes):
            if h == height:
                level.append((number[left], number[right]))
                number[("node", i)] = len(number)
        levels.append(tuple(level))
    return {k: tuple(v) for k, v in blocks.items()}, tuple(levels)


def _height(nodes: list, ref: tuple[str, int]) -> int:
    return 0 if ref[0] == "leaf" else nodes[ref[1]][0]


def pairwise_sum(rows: jax.Array) -> jax.Array:
    """Row sums of a 2-D array in exactly NumPy's order for a contiguous reduction.

    NumPy's ``add.reduce`` over a contiguous axis (``pairwise_sum`` in
    ``numpy/_core/src/umath/loops_utils.h.src``): fewer than 8 values are added one by
    one; up to 128 values go to 8 running accumulators, combined as
    ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))``, then the remainder one by one; longer rows
    are split at ``n/2`` rounded down to a multiple of 8 and the halves' sums added.
    XLA's reductions use another order, which changes the last bit of a mean. The
    reduction starts from the identity ``+0`` (a row of ``-0`` sums to ``+0``).

    The recursion is evaluated breadth-first so the program stays small for long rows:
    the blocks of each length are gathered and summed at once, then each level of the
    tree adds its pairs at once (gathers round nothing; every addition is NumPy's).
    """
    n = rows.shape[1]
    if n <= _BLOCK:
        return _plus_zero(_block_sums(rows))
    blocks, levels = _pairwise_plan(n)
    sums = [_block_sums(rows[:, np.asarray(starts)[:, None] + np.arange(size)]) for size, starts in blocks.items()]
    values = jnp.concatenate(sums, axis=1)
    for level in levels:
        left, right = np.asarray(level).T
        values = jnp.concatenate([values, values[:, left] + values[:, right]], axis=1)
    return _plus_zero(values[:, -1])


def _plus_zero(x: jax.Array) -> jax.Array:
    """``x`` with ``-0`` as ``+0``: ``0 + x``, which XLA would simplify away."""
    return jnp.where(x == 0, jnp.zeros_like(x), x)


def total(x: jax.Array) -> jax.Array:
    """``np.sum(x, dtype=x.dtype)`` of a contiguous array, in NumPy's order (a 0-d array)."""
    return pairwise_sum(jnp.reshape(x, (1, -1)))[0]


def _sequential(x: jax.Array, axis: int) -> jax.Array:
    """``x[0] + x[1] + ...`` along ``axis`` (left to right), ``axis`` removed."""
    return jnp.take(jnp.cumsum(x, axis=axis, dtype=x.dtype), -1, axis=axis)


# -- values --------------------------------------------------------------------------------
def scalar(value: float, like: jax.Array) -> jax.Array:
    return jnp.asarray(value, dtype=jnp.result_type(like))


def full_like(x: jax.Array, value: float) -> jax.Array:
    return jnp.full(jnp.shape(x), value, dtype=jnp.result_type(x))


def astype(x: jax.Array, dtype: str) -> jax.Array:
    return jnp.asarray(x).astype(jnp.dtype(dtype))


def dtype_of(x: jax.Array) -> str:
    return jnp.result_type(x).name


def shape_of(x: jax.Array) -> tuple[int, ...]:
    return tuple(jnp.shape(x))


def reshape(x: jax.Array, shape: Sequence[int]) -> jax.Array:
    return jnp.reshape(x, tuple(shape))


# -- elementwise ---------------------------------------------------------------------------
def div(x: Any, y: Any) -> jax.Array:
    """``x / y`` correctly rounded, also when ``y`` is a scalar or broadcast (see the module
    docstring): the divisor is broadcast to the result's shape behind a barrier."""
    x, y = jnp.asarray(x), jnp.asarray(y)
    shape = jnp.broadcast_shapes(x.shape, y.shape)
    if y.shape != shape:
        y = lax.optimization_barrier(jnp.broadcast_to(y, shape))
    return x / y


def sqrt(x: jax.Array) -> jax.Array:
    """``√x`` correctly rounded even as a denominator (hidden from the ``x / sqrt(y)`` rewrite)."""
    return lax.optimization_barrier(jnp.sqrt(x))


def abs(x: jax.Array) -> jax.Array:  # noqa: A001 - the protocol's name
    return jnp.abs(x)


def sign(x: jax.Array) -> jax.Array:
    return jnp.sign(x)


def maximum(x: Any, y: Any) -> jax.Array:
    return jnp.maximum(x, y)


def minimum(x: Any, y: Any) -> jax.Array:
    return jnp.minimum(x, y)


def power(x: Any, y: Any) -> jax.Array:
    return jnp.power(x, y)


def square(x: jax.Array) -> jax.Array:
    return x * x


def greater(x: Any, y: Any) -> jax.Array:
    return jnp.greater(x, y)


def less(x: Any, y: Any) -> jax.Array:
    return jnp.less(x, y)


def equal(x: Any, y: Any) -> jax.Array:
    return jnp.equal(x, y)


def where(condition: Any, x: Any, y: Any) -> jax.Array:
    return jnp.where(condition, x, y)


def lerp(a: jax.Array, b: jax.Array, w: Any, *, small: bool) -> jax.Array:
    diff = b - a
    if small:
        return a + w * diff
    return b - diff * (jnp.ones((), jnp.result_type(a)) - w)


# -- reductions ----------------------------------------------------------------------------
def round_bfloat16(x: jax.Array) -> jax.Array:
    """On the bits (as the NumPy ops): XLA may drop a float32 → bfloat16 → float32 cast pair."""
    x = jnp.asarray(x, jnp.float32)
    bits = lax.bitcast_convert_type(x, jnp.uint32)
    high = jnp.uint32(0xFFFF0000)
    rounded = (bits + (jnp.uint32(0x7FFF) + ((bits >> jnp.uint32(16)) & jnp.uint32(1)))) & high
    nan = (bits | jnp.uint32(0x00400000)) & high
    return lax.bitcast_convert_type(jnp.where(jnp.isnan(x), nan, rounded), jnp.float32)


def matmul(x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.matmul(x, y, precision=lax.Precision.HIGHEST)


def transpose(x: jax.Array) -> jax.Array:
    return jnp.swapaxes(x, -1, -2)


def sum(x: jax.Array) -> jax.Array:  # noqa: A001 - the protocol's name
    return total(x)


def sum_axis(x: jax.Array, axis: int) -> jax.Array:
    """NumPy's ``np.sum(x, axis, keepdims=True)`` order: pairwise when ``axis`` is the innermost
    axis longer than one, else left to right (NumPy's loop over an outer axis)."""
    x = jnp.asarray(x)
    axis = axis % x.ndim
    if builtins.all(n == 1 for n in x.shape[axis + 1:]):
        moved = jnp.moveaxis(x, axis, -1)
        out = pairwise_sum(moved.reshape(-1, x.shape[axis])).reshape(moved.shape[:-1])
    else:
        out = _plus_zero(_sequential(x, axis))
    return jnp.expand_dims(out, axis)


def mean_axes(x: jax.Array, axes: Sequence[int]) -> jax.Array:
    """``np.mean(x, axis=axes, keepdims=True, dtype=x.dtype)`` bit for bit: the sum in NumPy's
    order (trailing axes: one contiguous pairwise sum per row), then :func:`div` by the count."""
    x = jnp.asarray(x)
    axes = sorted({a % x.ndim for a in axes})
    count = 1
    for a in axes:
        count *= x.shape[a]
    if axes and axes == list(range(axes[0], x.ndim)):
        rows = x.reshape(-1, count)
        kept = tuple(n if i < axes[0] else 1 for i, n in enumerate(x.shape))
        return div(pairwise_sum(rows).reshape(kept), jnp.asarray(count, x.dtype))
    out = x
    for a in axes:
        out = sum_axis(out, a)
    return div(out, jnp.asarray(count, x.dtype))


def sequential_sum(x: jax.Array, axis: int) -> jax.Array:
    return _sequential(jnp.asarray(x), axis)


def norm(x: jax.Array, dtype: str | None = None) -> jax.Array:
    if dtype is not None:
        x = astype(x, dtype)
    return sqrt(total(x * x))


def amax(x: jax.Array) -> jax.Array:
    return jnp.max(x)


# -- control -------------------------------------------------------------------------------
def cond(flag: Any, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Any:
    """A Python branch on a static flag; a traced flag selects elementwise (``jnp.where``)."""
    if isinstance(flag, jax.Array) and not isinstance(flag, jax.core.Tracer):
        flag = bool(flag)
    if isinstance(flag, jax.core.Tracer):
        return jnp.where(flag, if_true(), if_false())
    return if_true() if flag else if_false()


# -- writes: the new value ---------------------------------------------------------------------
def _like(x: jax.Array, value: Any) -> jax.Array:
    """``value`` with ``x``'s shape and dtype (what an in-place write would leave in ``x``)."""
    value = jnp.asarray(value)
    dtype = jnp.result_type(x)
    if value.dtype != dtype:
        value = value.astype(dtype)
    if value.shape != jnp.shape(x):
        value = jnp.broadcast_to(value, jnp.shape(x))
    return value


def assign_(x: jax.Array, value: Any) -> jax.Array:
    return _like(x, value)


def add_(x: jax.Array, y: Any) -> jax.Array:
    return _like(x, x + y)


def sub_(x: jax.Array, y: Any) -> jax.Array:
    return _like(x, x - y)


def mul_(x: jax.Array, y: Any) -> jax.Array:
    return _like(x, x * y)


def sub_scaled_(x: jax.Array, delta: Any, alpha: Any) -> jax.Array:
    return _like(x, x - delta * alpha)


def add_scaled_(x: jax.Array, delta: Any, alpha: Any) -> jax.Array:
    return _like(x, x + delta * alpha)


def blockwise_(write: Callable[..., Any], x: jax.Array, fn: Callable[..., Any], *operands: Any) -> Any:
    return write(x, fn(*operands))


def blockwise(fn: Callable[..., Any], *operands: Any) -> Any:
    return fn(*operands)
