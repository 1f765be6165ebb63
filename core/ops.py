"""The ops namespace: the primitives every update rule is written against (DESIGN.md section 4).

An update rule (``Algorithm.update`` in ``optbridge.algorithms.<name>``) and the gradient
pre-processing (:mod:`optbridge.preprocess`) are written once, against this protocol. A
backend implements it once for its arrays, as a module or an object with these names,
and every algorithm then runs on it; fast paths (fused or native kernels) are optional.

**Arrays and scalars.** A rule sees the backend's own arrays (NumPy ``ndarray``, torch
``Tensor``, ``tf.Variable``/``tf.Tensor``, ``jax.Array``, ...). The per-step host scalars
arrive already converted by the backend into scalars of the bucket's dtype (a NumPy
scalar, a 0-d tensor, a traced 0-d array), so ``x * s["lr"]`` computes in the array dtype.
Boolean host scalars (``first_step``) may arrive as Python booleans or as traced values:
a rule branches on them only through :meth:`Ops.cond`.

**Operators.** ``x + y``, ``x - y``, ``x * y`` and ``-x`` are written as Python operators:
every backend's arrays implement them as one IEEE 754 operation rounded to nearest in the
array dtype (bitwise equal on every backend). Basic indexing with Python slices and
``...`` (``x[..., :1]``) is an operator too; reshaping is :meth:`Ops.reshape`. Everything else
goes through the namespace, because that is where backends differ: division and square root are correctly rounded
only if the compiler is kept from rewriting them (XLA turns ``x / s`` into ``x · (1/s)``
and ``x / sqrt(y)`` into ``x · rsqrt(y)``); reductions have an order; writes are in place,
an assignment or a returned value.

**Writing results back.** Arrays a rule changes (a parameter, a slot) are written with the
``*_`` primitives, which return the array to use from then on: NumPy and torch update
in place and return the same object, TensorFlow assigns to the variable and returns it,
JAX returns the new value (arrays are immutable). A rule therefore always rebinds::

    m = state["exp_avg"] = ops.add_(state["exp_avg"], (g - state["exp_avg"]) * s["one_minus_beta1"])

and returns the new parameter. Reading an array after writing it gives the written
value on every backend.

**Memory.** A write whose value is an elementwise expression is written with
:meth:`Ops.blockwise_` where the expression's temporaries would be full-size arrays::

    p = ops.blockwise_(ops.sub_, p, lambda g, acc: ops.div(s["clr"] * g, ops.sqrt(acc) + s["eps"]), g, acc)

It is ``ops.sub_(p, <the expression>)`` on every backend, with the same numbers; NumPy
evaluates it a block at a time, so the step's extra memory is a few blocks instead of
one array per temporary (``benchmarks/memory.py``). :meth:`Ops.blockwise` does the same
for an expression the rule keeps (a new array), and :meth:`Ops.norm` takes the dtype to
accumulate in, so a float32 array's float64 norm needs no float64 copy. An in-place write to a temporary the
rule formed itself (``ops.add_(ops.sqrt(v), s["eps"])``) likewise saves an array on
NumPy and torch and is the plain expression elsewhere.

**Rounding each backend must give** (checked primitive by primitive against NumPy
float64, rounded once, by ``tests/test_ops_protocol.py``):

==================  ===================================================================
primitive            required result
==================  ===================================================================
operators            correctly rounded (one rounding per operator); bitwise everywhere
``div``              correctly rounded ``x / y``, also for a scalar or broadcast ``y``
``sqrt``             correctly rounded (IEEE 754). torch's eager CPU ``sqrt`` is not (17 %
                     of float32 values one ulp off): the torch ops use NumPy's on CPU
                     tensors, inductor's when compiled; XLA's ``x·rsqrt(y)`` rewrite is
                     kept out by a barrier (JAX), Grappler's by the TF ops
``lerp``             ATen's formula with separate roundings (see :meth:`Ops.lerp`)
``sign``             ``−1``, ``+1``, ``0`` for ``±0`` (sign of the zero not specified),
                     NaN for NaN
``maximum``          NaN if either operand is NaN (NumPy, torch, TF, JAX agree)
``amax``             exact; NaN if any element is NaN
``sum``              the sum in NumPy's pairwise order (see :meth:`Ops.sum`); a backend
                     whose reduction order differs sets ``EXACT_SUM = False`` in its ops
                     module and is held to the suite's float32 tolerance, not bitwise
``matmul``           the product over the last two axes in the backend's BLAS order (blocked,
                     vectorised sums: NumPy's BLAS, ATen, Eigen, XLA differ), so not bitwise
                     across backends: within ``k·ε·Σ|x||y|`` of the exact sum of ``k`` products
                     (the standard bound); a rule using it is held to the suite's tolerances
``transpose``        exact (a permutation of the elements)
``round_bfloat16``   float32 ``x`` rounded to the nearest bfloat16 (ties to even; NaN stays
                     NaN, overflow gives ±inf), returned in float32: exact everywhere
subnormals           kept (IEEE gradual underflow) on NumPy and torch; TensorFlow's and
                     XLA's CPU kernels flush subnormal inputs and results to zero of the
                     same sign: such an ops module sets ``FLUSHES_SUBNORMALS = True``
                     (values below 1.2e-38 in float32, 2.2e-308 in float64)
==================  ===================================================================
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["Ops", "PRIMITIVES", "WRITES", "missing_primitives"]

Array = Any
Scalar = Any


@runtime_checkable
class Ops(Protocol):
    """The protocol. Each method is one primitive; see the module docstring for the rules."""

    #: the backend's name (``"numpy"``, ``"torch"``, ...), for messages
    name: str

    # -- values ------------------------------------------------------------------------
    def scalar(self, value: float, like: Array) -> Scalar:
        """``value`` rounded to ``like``'s dtype, as a scalar that combines with ``like``."""

    def full_like(self, x: Array, value: float) -> Array:
        """A new array of ``x``'s shape and dtype filled with ``value`` (rounded to the dtype)."""

    def astype(self, x: Array, dtype: str) -> Array:
        """``x`` converted (rounded to nearest) to ``"float32"`` or ``"float64"``."""

    def dtype_of(self, x: Array) -> str:
        """``x``'s dtype name (``"float32"``, ``"float64"``, ``"float16"``, ``"bfloat16"``)."""

    def shape_of(self, x: Array) -> tuple[int, ...]:
        """``x``'s static shape."""

    def reshape(self, x: Array, shape: Sequence[int]) -> Array:
        """``x`` with the same elements in row-major order and a new static shape."""

    # -- elementwise -----------------------------------------------------------------------
    def div(self, x: Array, y: Array | Scalar) -> Array:
        """``x / y``, correctly rounded, also when ``y`` is a scalar or broadcast."""

    def sqrt(self, x: Array) -> Array:
        """``√x``, correctly rounded, also where the result becomes a denominator."""

    def abs(self, x: Array) -> Array:
        """``|x|``."""

    def sign(self, x: Array) -> Array:
        """``−1`` / ``+1`` / ``0`` (for ``±0``), NaN for NaN, in ``x``'s dtype."""

    def maximum(self, x: Array, y: Array | Scalar) -> Array:
        """Elementwise maximum; NaN if either is NaN."""

    def minimum(self, x: Array, y: Array | Scalar) -> Array:
        """Elementwise minimum; NaN if either is NaN."""

    def power(self, x: Array, y: Array | Scalar) -> Array:
        """``x ** y`` in ``x``'s dtype (the backend's ``pow``; not required to be correctly
        rounded: NumPy's float32 ``pow`` is within 1 ulp, torch's within 0.6, TF's 1.4)."""

    def square(self, x: Array) -> Array:
        """``x · x`` (one rounding)."""

    def greater(self, x: Array, y: Array | Scalar) -> Array:
        """Elementwise ``x > y`` (a boolean array)."""

    def less(self, x: Array, y: Array | Scalar) -> Array:
        """Elementwise ``x < y`` (a boolean array)."""

    def equal(self, x: Array, y: Array | Scalar) -> Array:
        """Elementwise ``x == y`` (a boolean array)."""

    def where(self, condition: Array, x: Array | Scalar, y: Array | Scalar) -> Array:
        """``x`` where ``condition`` holds, else ``y``, in the dtype of the array operand(s)."""

    def lerp(self, a: Array, b: Array, w: Scalar, *, small: bool) -> Array:
        """ATen's ``torch.lerp(a, b, w)`` with separate roundings
        (``aten/src/ATen/native/Lerp.h``): ``a + w·(b − a)`` when ``|w| < 0.5``, else
        ``b − (b − a)·(1 − w)``. ``small`` is ``|w| < 0.5``, decided by the rule from
        hyperparameters, so no backend branches on a traced value."""

    def round_bfloat16(self, x: Array) -> Array:
        """float32 ``x`` rounded to the nearest bfloat16 value (round half to even, NaN kept,
        ±inf past bfloat16's range), as float32: a bfloat16 computation carried in float32
        (torch's CPU kernels compute a bfloat16 op in float32 and round the result once)."""

    # -- matrices -----------------------------------------------------------------------------
    def matmul(self, x: Array, y: Array) -> Array:
        """The matrix product over the last two axes, ``Σₖ x[..., i, k]·y[..., k, j]``, in
        ``x``'s dtype, summed in the backend's BLAS order (not bitwise across backends;
        see the module docstring)."""

    def transpose(self, x: Array) -> Array:
        """``x`` with its last two axes swapped (no rounding)."""

    # -- reductions -------------------------------------------------------------------------
    def sum(self, x: Array) -> Scalar:
        """The sum of every element of ``x`` in ``x``'s dtype, as a 0-d array, in NumPy's
        pairwise order for a contiguous array (``numpy/_core/src/umath/loops_utils.h.src``)."""

    def sum_axis(self, x: Array, axis: int) -> Array:
        """The sum along ``axis``, kept as a size-1 dimension, in ``x``'s dtype."""

    def mean_axes(self, x: Array, axes: Sequence[int]) -> Array:
        """The mean over ``axes``, kept as size-1 dimensions, in ``x``'s dtype
        (``np.mean(x, axis=axes, keepdims=True, dtype=x.dtype)``)."""

    def sequential_sum(self, x: Array, axis: int) -> Array:
        """The left-to-right sum along ``axis`` in ``x``'s dtype (a C loop's ``s += x[i]``),
        with ``axis`` removed."""

    def norm(self, x: Array, dtype: str | None = None) -> Scalar:
        """``√(Σ c·c)`` with ``c = astype(x, dtype)`` (``dtype`` ``None``: ``c = x``), as a
        0-d array in ``c``'s dtype: the conversion, the squares, then :meth:`sum`, then
        :meth:`sqrt` (the numbers of ``norm(astype(x, dtype))``; NumPy never forms ``c``
        whole, see "Memory")."""

    def amax(self, x: Array) -> Scalar:
        """The largest element of ``x`` as a 0-d array in ``x``'s dtype; NaN if any element
        is NaN (exact: every backend gives the same value)."""

    # -- control ----------------------------------------------------------------------------
    def cond(self, flag: Any, if_true: Callable[[], Array], if_false: Callable[[], Array]) -> Array:
        """``if_true()`` if ``flag`` else ``if_false()``; ``flag`` is a boolean host scalar
        (a Python bool, or a traced value on backends that feed flags as tensors)."""

    # -- writes (see "Writing results back") ------------------------------------------------
    def assign_(self, x: Array, value: Array) -> Array:
        """``x ← value``; returns the array to use from now on."""

    def add_(self, x: Array, y: Array | Scalar) -> Array:
        """``x ← x + y`` (one rounding)."""

    def sub_(self, x: Array, y: Array | Scalar) -> Array:
        """``x ← x − y`` (one rounding)."""

    def mul_(self, x: Array, y: Array | Scalar) -> Array:
        """``x ← x · y`` (one rounding)."""

    def sub_scaled_(self, x: Array, delta: Array, alpha: Scalar) -> Array:
        """``x ← x − delta·alpha`` (the product rounded, then the difference): one pass over
        ``x`` where the backend has such an op (TensorFlow's ``ResourceApplyGradientDescent``)."""

    def add_scaled_(self, x: Array, delta: Array, alpha: Scalar) -> Array:
        """``x ← x + delta·alpha`` (the product rounded, then the sum)."""

    def blockwise_(self, write: Callable[[Array, Array], Array], x: Array, fn: Callable[..., Array],
                   *operands: Array | Scalar) -> Array:
        """``write(x, fn(*operands))``: a write (one of this namespace's ``assign_``,
        ``add_``, ``sub_``, ``mul_``, or a function ``(x, value)`` that calls one, such as
        ``lambda x, d: ops.sub_scaled_(x, d, lr)``) of an elementwise expression, which a
        backend may evaluate piece by piece so that ``fn``'s temporaries never exist at
        full size.

        ``fn`` combines its operands element by element only (operators, elementwise
        primitives, scalars; no reduction, reshape or write other than on its own
        temporaries), and each array operand has ``x``'s shape or broadcasts to it. Each
        element of the result is then the same number however the elements are split,
        so every backend gives the numbers of ``write(x, fn(*operands))``; an operand may
        be ``x`` itself (each piece is read before it is written). NumPy evaluates it in
        blocks (16,384 elements, or an eighth of a larger array); the other backends in
        one piece (their compilers fuse the expression, or their executors free each
        temporary after its last use).
        """

    def blockwise(self, fn: Callable[..., Array], *operands: Array | Scalar) -> Array:
        """``fn(*operands)``, a new array of the operands' broadcast shape, for an
        elementwise ``fn`` as in :meth:`blockwise_` (there is no array to write it into):
        NumPy allocates the result and evaluates ``fn`` into it a block at a time."""


#: the primitive names of the protocol, in declaration order
PRIMITIVES: tuple[str, ...] = tuple(
    name for name, value in vars(Ops).items() if callable(value) and not name.startswith("_")
)

#: the primitives that write their first argument (``blockwise_`` writes its second, with
#: one of these)
WRITES: tuple[str, ...] = tuple(name for name in PRIMITIVES if name.endswith("_") and name != "blockwise_")


def missing_primitives(ops: Any) -> list[str]:
    """The protocol's primitives ``ops`` lacks (empty when it implements them all)."""
    return [name for name in PRIMITIVES if not callable(getattr(ops, name, None))]
