"""The ops namespace (:mod:`optbridge.ops`) for TensorFlow: ``tf.Variable``\\ s and tensors
inside the optimizer's step ``tf.function`` (also under XLA, one cluster per variable).

Every primitive is one TensorFlow op (or a short chain) in the array's dtype; nothing
calls back into Python, so a rule traces once and never again.

**Writes.** On a ``tf.Variable`` the ``*_`` primitives assign and return the variable,
so the rule's next read sees the written value (automatic control dependencies order
reads after writes of the same resource): ``assign_`` is ``assign(read_value=False)``,
``add_``/``sub_`` are ``assign_add``/``assign_sub``, and ``sub_scaled_``/``add_scaled_``
are one ``tf.raw_ops.ResourceApplyGradientDescent`` (``training_ops.cc``,
``ApplyGradientDescent``: ``var -= grad * alpha``: the product rounded, then the
difference, in one pass over ``var``; ``x + d·c`` is fed as ``x − d·(−c)``, which is the
same number: negation is exact and rounding to nearest symmetric). On a tensor (a
temporary the rule formed) they return the new value.

**Program order.** In a graph the executor runs any op whose inputs are ready, so an
expression the rule forms late (``(1 − β₂)·g·g``, a read of a slot it writes later) may
be computed early and kept alive beside the temporaries of the statements before it.
Inside :func:`program_order` the writes on variables and the reductions are sequence
points: every op the rule creates after one waits for it (control dependencies), as the
statements of an eager step run one after another. The temporaries alive together are
then those of one statement (a reduction's input, such as ``norm``'s float64 copy, is
freed before the next statement allocates). The ops are the same; Grappler's arithmetic
optimizer does not reorder a product chain whose ops wait for a sequence point
(``MinimizeBroadcasts`` turns ``s·(g·g)`` into ``(g·s)·g``, another rounding, where the
chain has no control inputs: the first statements of a bucket's first tensor).

**Flags.** Boolean host scalars (``first_step``, ``average``, ``lars``) reach a rule as
``1``/``0`` tensors in the parameter dtype; :func:`cond` and :func:`where` take them as
``x != 0``, and Python booleans as themselves.

**Rounding.** Operators, ``div``, ``sqrt`` and the writes round once per operation in
the array dtype, as NumPy does. TensorFlow's graph optimizer (Grappler's arithmetic
optimizer) would rewrite ``x / sqrt(y)`` into ``x · rsqrt(y)`` when the divisor is a
``Sqrt`` node; :func:`sqrt` hands its result through ``EnsureShape`` (which passes the
values through untouched), so the rewrite never matches. XLA's simplifier makes the same
rewrite and removes ``EnsureShape``: traced through :func:`jit`, :func:`sqrt` puts its
result behind XLA's optimization barrier instead. Two graph rewrites remain: Grappler
may hoist a common scalar factor out of ``a·s + b·s``, and it reassociates a chain of
products of an array by several scalars (``((x·s₁)·s₂)·s₃``, Keras Muon's ``lr_adjust``:
one rounding apart on about half of the elements, within the conformance tolerances); and
under XLA on CPU ``a·b + c`` becomes a fused multiply-add. Reductions (``sum``, ``norm``,
``mean_axes``) add in TensorFlow's order, not NumPy's pairwise one; ``sequential_sum`` is
left to right (the last element of ``tf.cumsum``). ``sign`` gives ``0`` for ``±0`` and NaN
for NaN; ``maximum``/``minimum`` propagate NaN.
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

try:  # XLA's optimization barrier (tf2xla's op; not in tf.raw_ops)
    from tensorflow.compiler.tf2xla.ops.gen_xla_ops import xla_optimization_barrier as _xla_barrier
except ImportError:  # pragma: no cover - every TensorFlow build with XLA has it
    _xla_barrier = None

name = "tensorflow"

#: ``sum`` adds in TensorFlow's order, not NumPy's pairwise one (held to the suite's tolerance)
EXACT_SUM = False

#: TensorFlow's CPU kernels run with subnormals flushed to zero (inputs and results, float32
#: and float64), as Keras's own steps do
FLUSHES_SUBNORMALS = True


def _is_variable(x: Any) -> bool:
    return isinstance(x, tf.Variable)


def _dtype(*values: Any) -> tf.DType | None:
    """The dtype of the first TensorFlow value among ``values`` (``None`` if there is none)."""
    for v in values:
        if isinstance(v, (tf.Tensor, tf.Variable)):
            return v.dtype
    return None


def _tensor(x: Any, dtype: tf.DType | None = None) -> tf.Tensor:
    """``x`` as a tensor (a variable is read), Python and NumPy scalars in ``dtype``."""
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return tf.convert_to_tensor(x)
    return tf.convert_to_tensor(x, dtype=dtype)


def _shaped(value: Any, like: Any) -> tf.Tensor:
    """``value`` as a tensor of ``like``'s dtype, broadcast to ``like``'s static shape."""
    value = _tensor(value, like.dtype)
    if value.shape != like.shape:
        value = tf.broadcast_to(value, like.shape)
    return value


_UNDER_XLA: contextvars.ContextVar[bool] = contextvars.ContextVar("optbridge_tensorflow_xla", default=False)


def jit(fn: Callable) -> Callable:
    """``fn`` compiled by XLA (``tf.function(jit_compile=True)``), traced with this
    namespace's XLA forms (:func:`sqrt` behind XLA's optimization barrier).

    A traced graph does not say whether XLA will compile it, so a rule compiled with XLA
    is traced through this function rather than through ``tf.function`` directly.
    """
    def traced(*args: Any, **kwargs: Any) -> Any:
        token = _UNDER_XLA.set(True)
        try:
            return fn(*args, **kwargs)
        finally:
            _UNDER_XLA.reset(token)

    return tf.function(traced, jit_compile=True, autograph=False)


class _Order:
    """:func:`program_order`'s state: its graph and the control dependencies now in force."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.waits: Any = None  # the ``graph.control_dependencies`` context entered last

    def point(self, op: Any) -> None:
        """Ops created from now on wait for ``op`` (and, through it, for the points before)."""
        if self.waits is not None:
            self.waits.__exit__(None, None, None)
        self.waits = self.graph.control_dependencies([op])
        self.waits.__enter__()


_ORDER: contextvars.ContextVar[_Order | None] = contextvars.ContextVar("optbridge_tensorflow_order", default=None)


@contextlib.contextmanager
def program_order() -> Iterator[None]:
    """Ops created in the block after a write on a variable or a reduction wait for it
    (see "Program order"); in the graph being traced only (not in a ``tf.cond``
    branch's, nor under :func:`jit`, where XLA plans the buffers)."""
    if tf.executing_eagerly() or _UNDER_XLA.get():
        yield
        return
    order = _Order(tf.compat.v1.get_default_graph())
    token = _ORDER.set(order)
    try:
        yield
    finally:
        _ORDER.reset(token)
        if order.waits is not None:
            order.waits.__exit__(None, None, None)


def _point(value: Any) -> Any:
    """``value`` (an op, or a tensor whose op) is a sequence point of :func:`program_order`'s
    graph; returns ``value``."""
    order = _ORDER.get()
    if order is not None and value is not None:
        op = getattr(value, "op", value)
        if op.graph is order.graph:
            order.point(op)
    return value


# -- values ----------------------------------------------------------------------------
def scalar(value: float, like: Any) -> tf.Tensor:
    return tf.constant(value, like.dtype)


def full_like(x: Any, value: float) -> tf.Tensor:
    return tf.fill(x.shape, tf.constant(value, x.dtype))


def astype(x: Any, dtype: str) -> tf.Tensor:
    return tf.cast(x, tf.as_dtype(dtype))


def dtype_of(x: Any) -> str:
    return tf.as_dtype(x.dtype).name


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(tf.TensorShape(x.shape).as_list())


def reshape(x: Any, shape: Sequence[int]) -> tf.Tensor:
    return tf.reshape(x, list(shape))


# -- elementwise -----------------------------------------------------------------------
def div(x: Any, y: Any) -> tf.Tensor:
    dtype = _dtype(x, y)
    x, y = _tensor(x, dtype), _tensor(y, dtype)
    constant = None if tf.executing_eagerly() else tf.get_static_value(y)
    if constant is not None and np.all(constant != 0):
        # a constant divisor (a transform's argument): Grappler's constant folding and XLA's
        # simplifier turn ``x / c`` into ``x · (1/c)`` (a third of float32 quotients 1 ulp
        # off); Grappler leaves DivNoNan alone (the same quotient for a nonzero divisor)
        if _UNDER_XLA.get() and _xla_barrier is not None:
            return tf.math.truediv(x, _xla_barrier([y])[0])
        return tf.math.divide_no_nan(x, y)
    return tf.math.truediv(x, y)


def sqrt(x: Any) -> tf.Tensor:
    root = tf.sqrt(x)
    if _UNDER_XLA.get() and _xla_barrier is not None:
        return _xla_barrier([root])[0]
    return tf.ensure_shape(root, root.shape)


def abs(x: Any) -> tf.Tensor:  # noqa: A001 - the protocol's name
    return tf.abs(x)


def sign(x: Any) -> tf.Tensor:
    return tf.sign(x)


def _binary(op: Callable, x: Any, y: Any) -> tf.Tensor:
    dtype = _dtype(x, y)
    return op(_tensor(x, dtype), _tensor(y, dtype))


def maximum(x: Any, y: Any) -> tf.Tensor:
    return _binary(tf.maximum, x, y)


def minimum(x: Any, y: Any) -> tf.Tensor:
    return _binary(tf.minimum, x, y)


def power(x: Any, y: Any) -> tf.Tensor:
    return _binary(tf.pow, x, y)


def square(x: Any) -> tf.Tensor:
    return x * x


def greater(x: Any, y: Any) -> tf.Tensor:
    return _binary(tf.greater, x, y)


def less(x: Any, y: Any) -> tf.Tensor:
    return _binary(tf.less, x, y)


def equal(x: Any, y: Any) -> tf.Tensor:
    return _binary(tf.equal, x, y)


def _flag(value: Any) -> Any:
    """A condition as a bool tensor (numeric flags are ``!= 0``), or a Python bool as is."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    value = _tensor(value)
    return value if value.dtype == tf.bool else tf.not_equal(value, tf.zeros([], value.dtype))


def where(condition: Any, x: Any, y: Any) -> tf.Tensor:
    dtype = _dtype(x, y)
    condition = _flag(condition)
    if isinstance(condition, bool):
        condition = tf.constant(condition)
    return tf.where(condition, _tensor(x, dtype), _tensor(y, dtype))


def lerp(a: Any, b: Any, w: Any, *, small: bool) -> tf.Tensor:
    diff = b - a
    if small:
        return a + w * diff
    return b - diff * (tf.ones([], a.dtype) - w)


# -- reductions ------------------------------------------------------------------------
def round_bfloat16(x: Any) -> tf.Tensor:
    """On the bits (as the NumPy ops): integer arithmetic no compiler folds into a cast pair."""
    x = _tensor(x)
    bits = tf.bitcast(x, tf.uint32)
    lsb = tf.bitwise.bitwise_and(tf.bitwise.right_shift(bits, tf.constant(16, tf.uint32)), tf.constant(1, tf.uint32))
    high = tf.constant(0xFFFF0000, tf.uint32)
    rounded = tf.bitwise.bitwise_and(bits + (lsb + tf.constant(0x7FFF, tf.uint32)), high)
    nan = tf.bitwise.bitwise_and(tf.bitwise.bitwise_or(bits, tf.constant(0x00400000, tf.uint32)), high)
    return tf.bitcast(tf.where(tf.math.is_nan(x), nan, rounded), tf.float32)


def matmul(x: Any, y: Any) -> tf.Tensor:
    return tf.linalg.matmul(x, y)


def transpose(x: Any) -> tf.Tensor:
    return tf.linalg.matrix_transpose(x)


def sum(x: Any) -> tf.Tensor:  # noqa: A001 - the protocol's name
    return _point(tf.reduce_sum(x))


def sum_axis(x: Any, axis: int) -> tf.Tensor:
    return _point(tf.reduce_sum(x, axis=axis, keepdims=True))


def mean_axes(x: Any, axes: Sequence[int]) -> tf.Tensor:
    return _point(tf.reduce_mean(x, axis=list(axes), keepdims=True))


def sequential_sum(x: Any, axis: int) -> tf.Tensor:
    x = _tensor(x)
    return _point(tf.gather(tf.cumsum(x, axis=axis), x.shape[axis] - 1, axis=axis))


def norm(x: Any, dtype: str | None = None) -> tf.Tensor:
    if dtype is not None:
        x = astype(x, dtype)
    # ``tf.square`` is ``x·x`` (one rounding); as a unary op it may square in the buffer of a
    # temporary ``x`` (the converted copy), where ``x * x`` allocates another array
    return _point(tf.sqrt(tf.reduce_sum(tf.square(x))))


def amax(x: Any) -> tf.Tensor:
    return tf.reduce_max(x)


# -- control ---------------------------------------------------------------------------
def cond(flag: Any, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Any:
    flag = _flag(flag)
    if isinstance(flag, bool):
        return if_true() if flag else if_false()
    return tf.cond(flag, lambda: _tensor(if_true()), lambda: _tensor(if_false()))


# -- writes ----------------------------------------------------------------------------
def assign_(x: Any, value: Any) -> Any:
    if _is_variable(x):
        _point(x.assign(_shaped(value, x), read_value=False))
        return x
    return _shaped(value, x)


def add_(x: Any, y: Any) -> Any:
    if _is_variable(x):
        _point(x.assign_add(_shaped(y, x), read_value=False))
        return x
    return x + y


def sub_(x: Any, y: Any) -> Any:
    if _is_variable(x):
        _point(x.assign_sub(_shaped(y, x), read_value=False))
        return x
    return x - y


def mul_(x: Any, y: Any) -> Any:
    if _is_variable(x):
        _point(x.assign(x * y, read_value=False))
        return x
    return x * y


def sub_scaled_(x: Any, delta: Any, alpha: Any) -> Any:
    if _is_variable(x):
        _point(tf.raw_ops.ResourceApplyGradientDescent(var=x.handle, alpha=_tensor(alpha, x.dtype),
                                                         delta=_shaped(delta, x), use_locking=False))
        return x
    return x - delta * alpha


def add_scaled_(x: Any, delta: Any, alpha: Any) -> Any:
    if _is_variable(x):
        _point(tf.raw_ops.ResourceApplyGradientDescent(var=x.handle, alpha=-_tensor(alpha, x.dtype),
                                                         delta=_shaped(delta, x), use_locking=False))
        return x
    return x + delta * alpha


def blockwise_(write: Callable[..., Any], x: Any, fn: Callable[..., Any], *operands: Any) -> Any:
    return write(x, fn(*operands))


def blockwise(fn: Callable[..., Any], *operands: Any) -> Any:
    return fn(*operands)
