"""Every primitive of the ops protocol (optbridge.ops) on every installed backend.

Each primitive runs on float32 and float64 inputs (ordinary values, both zeros, NaN, ±inf,
subnormals, values near overflow) and is compared with NumPy float64 arithmetic rounded
once to the dtype (for float32 inputs: the float64 result of +, −, ·, / and √ rounded to
float32 is the correctly rounded float32 result, since float64 carries more than 2·24 + 2
bits). Bitwise where the protocol's table says so; the stated bound otherwise.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

from optbridge.ops import PRIMITIVES, WRITES, Ops, missing_primitives


@dataclass
class Adapter:
    """How the test makes a backend's arrays and reads them back."""

    name: str
    ops: Any
    array: Callable[[np.ndarray], Any]            # a value (immutable where the backend has that)
    target: Callable[[np.ndarray], Any]           # something a write primitive may write
    read: Callable[[Any], np.ndarray]
    in_place: bool                                # writes return the same object
    scalar_of: Callable[[float, str], Any]        # a host scalar as a rule receives it
    compiled: Callable[[Callable], Callable] | None = None  # the backend's graph compiler, if it rewrites
    exact_sum: bool = True                        # ``sum`` in NumPy's pairwise order, bitwise

    @property
    def flushes_subnormals(self) -> bool:
        """The backend computes with subnormals flushed to zero (TensorFlow's CPU kernels)."""
        return bool(getattr(self.ops, "FLUSHES_SUBNORMALS", False))


def _numpy() -> Adapter:
    from optbridge.backends.numpy import ops

    return Adapter("numpy", ops, lambda a: a.copy(), lambda a: a.copy(), np.asarray, True,
                   lambda v, dtype: np.dtype(dtype).type(v))


def _torch() -> Adapter | None:
    try:
        torch = importlib.import_module("torch")
        ops = importlib.import_module("optbridge.backends.torch.ops")
    except ImportError:
        return None

    def compiled(fn):
        return torch.compile(fn, fullgraph=True, dynamic=False)

    return Adapter("torch", ops, lambda a: torch.from_numpy(a.copy()), lambda a: torch.from_numpy(a.copy()),
                   lambda t: t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t), True,
                   lambda v, dtype: torch.tensor(v, dtype=getattr(torch, dtype)), compiled,
                   exact_sum=getattr(ops, "EXACT_SUM", False))


def _tensorflow() -> Adapter | None:
    try:
        tf = importlib.import_module("tensorflow")
        ops = importlib.import_module("optbridge.backends.tensorflow.ops")
    except ImportError:
        return None

    def compiled(fn):
        # XLA rewrites x / sqrt(y) as x * rsqrt(y); the ops keep it out when the function is
        # traced through ops.jit (a traced graph cannot tell whether XLA will compile it)
        return ops.jit(fn)

    return Adapter("tensorflow", ops, lambda a: tf.constant(a), lambda a: tf.Variable(a),
                   lambda t: np.asarray(t.numpy() if hasattr(t, "numpy") else t), True,
                   lambda v, dtype: tf.constant(v, dtype=dtype), compiled,
                   exact_sum=getattr(ops, "EXACT_SUM", False))


def _jax() -> Adapter | None:
    try:
        jax = importlib.import_module("jax")
        ops = importlib.import_module("optbridge_jax.ops")
    except ImportError:
        return None
    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def compiled(fn):
        return jax.jit(fn)

    return Adapter("jax", ops, lambda a: jnp.asarray(a), lambda a: jnp.asarray(a), np.asarray, False,
                   lambda v, dtype: jnp.asarray(v, dtype=dtype), compiled, exact_sum=getattr(ops, "EXACT_SUM", True))


def _mindspore() -> Adapter | None:
    try:
        ms = importlib.import_module("mindspore")
        ops = importlib.import_module("optbridge_mindspore.ops")
    except ImportError:
        return None

    def compiled(fn):
        # the MindSpore backend steps eagerly; this checks the ops inside a GRAPH_MODE function
        return ms.jit(fn, capture_mode="ast")

    return Adapter("mindspore", ops, lambda a: ms.Tensor(a.copy()), lambda a: ms.Parameter(ms.Tensor(a.copy())),
                   lambda t: t.asnumpy() if hasattr(t, "asnumpy") else np.asarray(t), True,
                   lambda v, dtype: ms.Tensor(np.asarray(v, dtype=dtype)), None,
                   exact_sum=getattr(ops, "EXACT_SUM", False))


ADAPTERS = [a for a in (_numpy(), _torch(), _tensorflow(), _jax(), _mindspore()) if a is not None]
DTYPES = ("float32", "float64")


def _values(dtype: str, n: int = 4096, seed: int = 0) -> np.ndarray:
    """Ordinary values plus the odd ones: ±0, ±inf, NaN, subnormals, near-overflow."""
    rng = np.random.default_rng(seed)
    info = np.finfo(dtype)
    x = (rng.standard_normal(n) * np.exp(rng.uniform(-20, 20, n))).astype(dtype)
    odd = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, info.tiny / 4, -info.tiny / 3, info.max / 2,
                    -info.max / 3, 1.0, -1.0, 0.5], dtype=dtype)
    x[:odd.size] = odd
    return _flushed(x) if FLUSH else x


def _positive(dtype: str) -> np.ndarray:
    x = np.abs(_values(dtype, seed=1))
    x[np.isnan(x)] = 2.0
    return x


def _rounded(value64: np.ndarray, dtype: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(value64, dtype=np.float64).astype(dtype)


FLUSH = False  # set per test by the ``adapter`` fixture


def _flushed(x: np.ndarray) -> np.ndarray:
    """``x`` with subnormals replaced by zeros of the same sign (what FTZ/DAZ hardware gives)."""
    x = np.array(x, copy=True)
    if x.dtype.kind == "f":
        sub = (x != 0) & (np.abs(x) < np.finfo(x.dtype).tiny)
        x[sub] = np.copysign(0.0, x[sub]).astype(x.dtype)
    return x


def _same_bits(got: np.ndarray, want: np.ndarray) -> None:
    got = np.asarray(got)
    want = np.asarray(want)
    if FLUSH:
        want = _flushed(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    # zeros must also agree in sign
    zero = (got == 0) & (want == 0)
    same &= ~zero | (np.signbit(got) == np.signbit(want))
    bad = np.flatnonzero(~same)
    assert bad.size == 0, f"{bad.size} of {got.size} differ, e.g. at {bad[:3]}: got {got.flat[bad[0]]!r}, " \
                          f"want {want.flat[bad[0]]!r}"


def _ulps(got: np.ndarray, want: np.ndarray) -> float:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want)
    finite = np.isfinite(want)
    spacing = np.spacing(np.abs(want[finite]).astype(want.dtype)).astype(np.float64)
    return float(np.max(np.abs(got[finite] - want[finite].astype(np.float64)) / spacing, initial=0.0))


pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def test_every_backend_ops_implements_the_protocol():
    for adapter in ADAPTERS:
        assert missing_primitives(adapter.ops) == [], adapter.name
        assert isinstance(adapter.ops, Ops), adapter.name
        assert adapter.ops.name == adapter.name
    assert set(WRITES) == {"assign_", "add_", "sub_", "mul_", "sub_scaled_", "add_scaled_"}
    assert "sqrt" in PRIMITIVES and "lerp" in PRIMITIVES


@pytest.fixture(params=ADAPTERS, ids=lambda a: a.name)
def adapter(request, monkeypatch) -> Adapter:
    monkeypatch.setitem(globals(), "FLUSH", request.param.flushes_subnormals)
    return request.param


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["+", "-", "*"])
def test_operators_are_correctly_rounded(adapter, dtype, op):
    x, y = _values(dtype), _values(dtype, seed=2)
    fn = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}[op]
    with np.errstate(all="ignore"):
        want = _rounded(fn(x.astype(np.float64), y.astype(np.float64)), dtype)
    _same_bits(adapter.read(fn(adapter.array(x), adapter.array(y))), want)
    s = adapter.scalar_of(0.3, dtype)
    with np.errstate(all="ignore"):
        want_s = _rounded(fn(x.astype(np.float64), np.float64(np.dtype(dtype).type(0.3))), dtype)
    _same_bits(adapter.read(fn(adapter.array(x), s)), want_s)


def _maybe_compiled(adapter: Adapter, fn: Callable, compiled: bool) -> Callable:
    if not compiled:
        return fn
    if adapter.compiled is None:
        pytest.skip(f"{adapter.name} has no graph compiler")
    return adapter.compiled(fn)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_div_and_sqrt_are_correctly_rounded(adapter, dtype, compiled):
    ops = adapter.ops
    x, y, p = _values(dtype), _values(dtype, seed=3), _positive(dtype)
    s = adapter.scalar_of(3.0, dtype)
    with np.errstate(all="ignore"):
        want_div = _rounded(x.astype(np.float64) / y.astype(np.float64), dtype)
        want_div_s = _rounded(x.astype(np.float64) / 3.0, dtype)
        want_sqrt = _rounded(np.sqrt(p.astype(np.float64)), dtype)
        # √ as a denominator: XLA's rewrite would make it x·rsqrt(y)
        want_ratio = _rounded(x.astype(np.float64) / np.sqrt(p.astype(np.float64)).astype(dtype), dtype)
    fn = _maybe_compiled(adapter, lambda a, b, c, k: (ops.div(a, b), ops.div(a, k), ops.sqrt(c),
                                                      ops.div(a, ops.sqrt(c))), compiled)
    got = fn(adapter.array(x), adapter.array(y), adapter.array(p), s)
    _same_bits(adapter.read(got[0]), want_div)
    _same_bits(adapter.read(got[1]), want_div_s)
    _same_bits(adapter.read(got[2]), want_sqrt)
    _same_bits(adapter.read(got[3]), want_ratio)


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_primitives(adapter, dtype):
    ops = adapter.ops
    x, y = _values(dtype), _values(dtype, seed=4)
    a, b = adapter.array(x), adapter.array(y)
    _same_bits(adapter.read(ops.abs(a)), np.abs(x))
    _same_bits(adapter.read(ops.square(a)), _rounded(x.astype(np.float64) ** 2, dtype))
    _same_bits(adapter.read(ops.maximum(a, b)), np.maximum(x, y))
    _same_bits(adapter.read(ops.minimum(a, b)), np.minimum(x, y))
    sign = adapter.read(ops.sign(a))
    want = np.sign(x)
    assert sign.dtype == want.dtype
    nonzero = x != 0
    _same_bits(sign[nonzero], want[nonzero])
    assert np.all(sign[~nonzero & ~np.isnan(x)] == 0)
    assert np.array_equal(adapter.read(ops.greater(a, b)), x > y)
    assert np.array_equal(adapter.read(ops.less(a, b)), x < y)
    assert np.array_equal(adapter.read(ops.equal(a, b)), x == y)
    _same_bits(adapter.read(ops.where(ops.greater(a, b), a, b)), np.where(x > y, x, y))
    zero = adapter.scalar_of(0.0, dtype)
    _same_bits(adapter.read(ops.where(ops.greater(a, b), a, zero)), np.where(x > y, x, np.dtype(dtype).type(0)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_power_within_the_stated_bound(adapter, dtype):
    ops = adapter.ops
    x = _positive(dtype)
    x = x[(x > 1e-30) & (x < 1e30)]
    e = adapter.scalar_of(-0.5, dtype)
    got = adapter.read(ops.power(adapter.array(x), e))
    want = _rounded(np.power(x.astype(np.float64), -0.5), dtype)
    assert _ulps(got, want) <= 2.0


@pytest.mark.parametrize("small", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_lerp_is_atens_formula_with_separate_roundings(adapter, dtype, small):
    ops = adapter.ops
    t = np.dtype(dtype).type
    x, y = _values(dtype), _values(dtype, seed=5)
    w = t(0.1) if small else t(0.9)
    with np.errstate(all="ignore"):
        want = x + w * (y - x) if small else y - (y - x) * (t(1.0) - w)
    got = adapter.read(ops.lerp(adapter.array(x), adapter.array(y), adapter.scalar_of(float(w), dtype), small=small))
    _same_bits(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [5, 100, 1000, 12345])
def test_sum_and_norm(adapter, dtype, n):
    ops = adapter.ops
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    got_sum = adapter.read(ops.sum(adapter.array(x)))
    got_norm = adapter.read(ops.norm(adapter.array(x)))
    want_sum = np.sum(x, dtype=x.dtype)
    want_norm = np.sqrt(np.sum(x * x, dtype=x.dtype))
    if adapter.exact_sum:
        _same_bits(np.asarray(got_sum).reshape(()), np.asarray(want_sum).reshape(()))
        _same_bits(np.asarray(got_norm).reshape(()), np.asarray(want_norm).reshape(()))
    else:
        exact = math.fsum(x.astype(np.float64).tolist())
        bound = n * np.finfo(dtype).eps * float(np.sum(np.abs(x.astype(np.float64))))
        assert abs(float(got_sum) - exact) <= bound
        assert abs(float(got_norm) - float(want_norm)) <= n * np.finfo(dtype).eps * float(want_norm)


@pytest.mark.parametrize("dtype", DTYPES)
def test_amax_is_exact_and_nan_if_any_element_is(adapter, dtype):
    ops = adapter.ops
    x = np.random.default_rng(7).standard_normal((37, 11)).astype(dtype)
    _same_bits(np.asarray(adapter.read(ops.amax(adapter.array(x)))).reshape(()), np.max(x).reshape(()))
    x[3, 4] = np.inf
    assert float(adapter.read(ops.amax(adapter.array(x)))) == np.inf
    for position in (0, 200, x.size - 1):
        y = x.copy()
        y.flat[position] = np.nan
        assert np.isnan(float(adapter.read(ops.amax(adapter.array(y))))), position


@pytest.mark.parametrize("dtype", ["float32", "float64", None])
@pytest.mark.parametrize("shape", [(12345,), (16385,), (513, 257), (3, 200, 300), (1000003,)])
def test_norm_in_a_dtype_is_the_norm_of_the_converted_array(adapter, shape, dtype):
    """``norm(x, dtype)`` is ``norm(astype(x, dtype))`` bit for bit, past NumPy's block size
    (which it squares a block at a time) and for shapes whose pairwise split is uneven."""
    ops = adapter.ops
    x = (np.random.default_rng(math.prod(shape)).standard_normal(shape)
         * np.exp(np.random.default_rng(1).uniform(-8, 8, shape))).astype(np.float32)
    x.flat[:4] = [0.0, -0.0, 1e-30, -3.5]
    got = adapter.read(ops.norm(adapter.array(x), dtype))
    want = adapter.read(ops.norm(ops.astype(adapter.array(x), dtype) if dtype else adapter.array(x)))
    _same_bits(np.asarray(got).reshape(()), np.asarray(want).reshape(()))
    if adapter.exact_sum:
        c = x.astype(dtype or x.dtype)
        _same_bits(np.asarray(got).reshape(()), np.sqrt(np.sum(c * c, dtype=c.dtype)).reshape(()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [
    [(40000,), (40000,)],              # flat blocks
    [(300, 211), (300, 1), (1, 211)],  # a factored estimate: row and column statistics
    [(5, 70, 130), (5, 70, 1), (5, 1, 130), (5, 1, 1)],
    [(37,), (37,)],                    # one piece
])
def test_blockwise_is_the_expression(adapter, dtype, shapes):
    """``blockwise(fn, *operands)`` is ``fn(*operands)``, a new array of the broadcast shape."""
    ops = adapter.ops
    arrays = [np.resize(_positive(dtype) if i else _values(dtype, seed=9), shape) for i, shape in enumerate(shapes)]
    one = adapter.scalar_of(1.0, dtype)

    def fn(g, *stats):
        estimate = stats[0] if len(stats) == 1 else ops.div(stats[0] * stats[1], stats[2] if len(stats) > 2 else one)
        return ops.div(one, ops.sqrt(ops.maximum(estimate, one * one))) * g

    want = adapter.read(fn(*(adapter.array(a) for a in arrays)))
    got = adapter.read(ops.blockwise(fn, *(adapter.array(a) for a in arrays)))
    _same_bits(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_axis_reductions(adapter, dtype):
    ops = adapter.ops
    x = np.random.default_rng(7).standard_normal((6, 16, 3, 3)).astype(dtype)
    mean = adapter.read(ops.mean_axes(adapter.array(x), (1, 2, 3)))
    want = np.mean(x, axis=(1, 2, 3), keepdims=True, dtype=x.dtype)
    assert mean.shape == want.shape
    if adapter.exact_sum:
        _same_bits(mean, want)
    else:
        assert np.max(np.abs(mean - want)) <= 64 * np.finfo(dtype).eps * np.max(np.abs(x))
    rows = adapter.read(ops.sum_axis(adapter.array(x[0, 0]), 1))
    assert rows.shape == (3, 1)
    seq = adapter.read(ops.sequential_sum(adapter.array(x[0]), 0))
    want_seq = x[0, 0].copy()
    for i in range(1, 16):
        want_seq = want_seq + x[0, i]
    _same_bits(seq, want_seq)


@pytest.mark.parametrize("dtype", DTYPES)
def test_values_and_conversions(adapter, dtype):
    ops = adapter.ops
    x = _values(dtype)[:8].reshape(2, 4)
    a = adapter.array(x)
    assert ops.dtype_of(a) == dtype
    assert tuple(ops.shape_of(a)) == (2, 4)
    _same_bits(adapter.read(ops.reshape(a, (4, 2))), x.reshape(4, 2))
    filled = adapter.read(ops.full_like(a, 0.1))
    _same_bits(filled, np.full((2, 4), 0.1, dtype))
    other = "float64" if dtype == "float32" else "float32"
    with np.errstate(all="ignore"):
        _same_bits(adapter.read(ops.astype(a, other)), x.astype(other))
    s = ops.scalar(0.1, a)
    _same_bits(adapter.read(a * s), x * np.dtype(dtype).type(0.1))
    assert adapter.read(ops.cond(True, lambda: a, lambda: a * s)) is not None
    _same_bits(adapter.read(ops.cond(False, lambda: a, lambda: a * s)), x * np.dtype(dtype).type(0.1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("write", WRITES)
def test_writes_store_the_formula_and_return_the_array_to_use(adapter, dtype, write):
    ops = adapter.ops
    t = np.dtype(dtype).type
    x, y = _values(dtype), _values(dtype, seed=6)
    alpha = t(0.37)
    with np.errstate(all="ignore"):
        want = {
            "assign_": y,
            "add_": x + y,
            "sub_": x - y,
            "mul_": x * y,
            "sub_scaled_": x - y * alpha,
            "add_scaled_": x + y * alpha,
        }[write]
    target = adapter.target(x)
    args = (adapter.array(y), adapter.scalar_of(float(alpha), dtype)) if write.endswith("scaled_") \
        else (adapter.array(y),)
    out = getattr(ops, write)(target, *args)
    _same_bits(adapter.read(out), want)
    if adapter.in_place:
        assert out is target
        _same_bits(adapter.read(target), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, other", [
    ((40000,), (40000,)),              # flat blocks, more than one, the last one short
    ((300, 211), (300, 211)),          # flat blocks of a 2-d array
    ((300, 211), (211,)),              # an operand broadcast along the leading axis: blocks of rows
    ((5, 70, 130), (5, 1, 130)),       # an operand spanning the leading axis, broadcast inside
    ((37,), (37,)),                    # smaller than a block: one piece
    ((400003,), (400003,)),            # NumPy's blocks an eighth of the array
    ((3, 300, 700), (700,)),           # blocks of one leading slice
])
@pytest.mark.parametrize("write", ["assign_", "add_", "sub_", "mul_", "sub_scaled_"])
def test_blockwise_is_the_unblocked_write(adapter, dtype, shape, other, write):
    """``blockwise_(write, x, fn, *operands)`` stores exactly ``write(x, fn(*operands))``,
    with ``x`` itself among the operands, a broadcast operand and a scalar."""
    ops = adapter.ops
    t = np.dtype(dtype).type
    n = math.prod(shape)
    x = np.resize(_values(dtype, seed=7), shape)
    y = np.resize(_positive(dtype), shape)
    z = np.resize(_values(dtype, seed=8), other)
    alpha = t(0.37)
    s = adapter.scalar_of(float(alpha), dtype)

    def fn(x, y, z):
        return ops.div(x * s - z, ops.sqrt(y) + s)

    def target_write(name):
        if name == "sub_scaled_":
            return lambda x, d: ops.sub_scaled_(x, d, s)
        return getattr(ops, name)

    # the reference in one piece (``sub_scaled_``'s formula spelled out: NumPy's blocks it too)
    value = fn(adapter.array(x), adapter.array(y), adapter.array(z))
    if write == "sub_scaled_":
        want = adapter.read(ops.sub_(adapter.target(x), value * s))
    else:
        want = adapter.read(getattr(ops, write)(adapter.target(x), value))
    target = adapter.target(x)
    out = ops.blockwise_(target_write(write), target, fn, target, adapter.array(y), adapter.array(z))
    assert n > 16384 or shape == (37,)
    _same_bits(adapter.read(out), want)
    if adapter.in_place:
        assert out is target
        _same_bits(adapter.read(target), want)


def test_round_bfloat16_is_exact(adapter):
    """Ties to even, NaN kept, overflow to ±inf: against the bits of each value's two
    bfloat16 neighbours (independent of the bit formula the NumPy ops use)."""
    x = _values("float32", seed=11)
    bits = x.view(np.uint32).astype(np.uint64)
    low = (bits & 0xFFFF0000).astype(np.uint32).view(np.float32).astype(np.float64)
    high = ((bits & 0xFFFF0000) + 0x10000).astype(np.uint32).view(np.float32).astype(np.float64)
    with np.errstate(all="ignore"):
        v = x.astype(np.float64)
        pick_low = (np.abs(v - low) < np.abs(high - v)) | (
            (np.abs(v - low) == np.abs(high - v)) & ((bits >> 16) % 2 == 0))
        want = np.where(pick_low | ~np.isfinite(v), low, high).astype(np.float32)
        want[np.isnan(x)] = np.nan
    _same_bits(adapter.read(adapter.ops.round_bfloat16(adapter.array(x))), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_within_the_stated_bound_and_transpose_exact(adapter, dtype):
    ops = adapter.ops
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((2, 37, 64)).astype(dtype), rng.standard_normal((2, 64, 19)).astype(dtype)
    got = adapter.read(ops.matmul(adapter.array(x), adapter.array(y)))
    exact = np.matmul(x.astype(np.float64), y.astype(np.float64))
    bound = 64 * np.finfo(dtype).eps * np.matmul(np.abs(x).astype(np.float64), np.abs(y).astype(np.float64))
    assert got.dtype == np.dtype(dtype) and got.shape == (2, 37, 19)
    assert np.all(np.abs(got - exact) <= bound)
    _same_bits(adapter.read(ops.transpose(adapter.array(x))), np.swapaxes(x, -1, -2))
