"""Safe arithmetic expressions over ``epoch`` / ``step``: serialisable lambda schedules.

torch's ``LambdaLR`` and ``MultiplicativeLR`` take a Python callable, which a config file
cannot carry. An :class:`Expression` is the serialisable alternative: a string such as
``"0.95 ** epoch"`` or ``"1.0 - epoch / 100 if epoch <= 100 else 0.0"``, parsed once into
a syntax tree (``ast.parse``, which only parses) and checked against an allow-list; it is
then evaluated by walking that tree. Nothing is ever passed to ``eval``/``exec``/
``compile``, no attribute, subscript or name other than the allowed ones can be reached.

Grammar (Python syntax, this subset only):

* numbers (``int``/``float`` literals, ``True``/``False`` are refused);
* the variable ``epoch`` and its synonym ``step`` — both the argument torch passes to
  ``lr_lambda`` (the scheduler's ``last_epoch``: epochs for ``interval="epoch"``,
  optimizer steps for ``interval="step"``); ``pi``, ``e``, ``inf`` constants;
* ``+ - * / // % **``, unary ``+``/``-``; comparisons ``< <= > >= == !=`` (chains
  allowed); ``A if COND else B``; ``and``/``or``/``not``;
* calls of ``min``, ``max``, ``abs``, ``floor``, ``ceil``, ``exp``, ``log``, ``sqrt``,
  ``sin``, ``cos``, ``tan``, ``tanh`` (``floor``/``ceil``/``exp``/... are ``math``'s).

Evaluation follows Python's own semantics (``int`` stays ``int`` until mixed with
``float``), so ``"0.95 ** epoch"`` returns exactly what ``lambda epoch: 0.95 ** epoch``
returns.

Bounds, so that a config cannot make the host hang or exhaust memory:

* the source is at most :data:`MAX_SOURCE_LENGTH` characters, its syntax tree at most
  :data:`MAX_NODES` nodes nested at most :data:`MAX_DEPTH` deep;
* every integer (literal or intermediate result) stays below ``2 ** MAX_INT_BITS`` in
  magnitude; a power, product or shift that would exceed it is refused *before* it is
  computed (``((9**1024)**1024)**1024`` is refused at once; a float result past
  ``1.8e308`` already overflows in Python).

Evaluation failures: an expression that divides by zero, overflows, leaves a function's
domain (``log(0)``, ``sqrt(-1)``), exceeds the bounds or yields a complex number raises
:class:`~optbridge.errors.ExpressionError` (a ``SpecValueError`` and an
``ArithmeticError``) naming the expression and the value of ``epoch``. Evaluation has no
side effects, so the schedulers that call it leave their state unchanged when it fails.
"""
from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from ..errors import ExpressionError, SpecTypeError, SpecValueError

__all__ = ["Expression", "VARIABLES", "MAX_SOURCE_LENGTH", "MAX_NODES", "MAX_DEPTH", "MAX_INT_BITS"]

#: Names the expression may use for the scheduler's counter.
VARIABLES = ("epoch", "step")
_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs,
    "floor": math.floor, "ceil": math.ceil, "exp": math.exp, "log": math.log, "sqrt": math.sqrt,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "tanh": math.tanh,
}
#: Longest expression source, in characters.
MAX_SOURCE_LENGTH = 2_000
#: Most syntax-tree nodes an expression may have.
MAX_NODES = 500
#: Deepest nesting of the syntax tree.
MAX_DEPTH = 50
#: Integers (literals and results) must stay below ``2 ** MAX_INT_BITS`` in magnitude.
MAX_INT_BITS = 4096
#: Arguments each function takes (min, max).
_ARITY = {"min": (2, 64), "max": (2, 64), "log": (1, 2)}


class _Bound(Exception):
    """An integer bound was hit (turned into ExpressionError with the expression's text)."""


def _bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def _bounded(value: Any, what: str) -> Any:
    if isinstance(value, int) and _bits(value) > MAX_INT_BITS:
        raise _Bound(what)
    return value


def _pow(a: Any, b: Any) -> Any:
    # (bits(a) - 1) * b is a lower bound of the result's bit length: refuse before computing.
    if isinstance(a, int) and isinstance(b, int) and b > 0 and (_bits(a) - 1) * b >= MAX_INT_BITS:
        raise _Bound("a power")
    result = a**b
    if isinstance(result, complex):
        raise ValueError(f"{a!r} ** {b!r} is a complex number")
    return _bounded(result, "a power")


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and _bits(a) + _bits(b) > MAX_INT_BITS + 1:
        raise _Bound("a product")
    return _bounded(a * b, "a product")


def _add(a: Any, b: Any) -> Any:
    return _bounded(a + b, "a sum")


def _sub(a: Any, b: Any) -> Any:
    return _bounded(a - b, "a difference")


_BINARY = {
    ast.Add: _add, ast.Sub: _sub, ast.Mult: _mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}


class Expression:
    """A parsed, allow-listed arithmetic expression; call it with the counter value.

    Args:
        source: the expression text, e.g. ``"0.95 ** epoch"``.
        variables: the names bound to the argument (default ``("epoch", "step")``;
            CyclicLR's ``scale_fn`` uses ``("x",)``).

    Raises:
        SpecTypeError: ``source`` is not a string.
        SpecValueError: a syntax error, or an element outside the grammar (the message
            names it and the position).
    """

    __slots__ = ("source", "variables", "_tree", "_nodes")

    def __init__(self, source: str, variables: tuple[str, ...] = VARIABLES):
        if not isinstance(source, str):
            raise SpecTypeError(f"an expression must be a string. Received: {source!r} of type {type(source).__name__}")
        if len(source) > MAX_SOURCE_LENGTH:
            raise SpecValueError(
                f"expression {source[:40]!r}... is {len(source)} characters long; the limit is {MAX_SOURCE_LENGTH}"
            )
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise SpecValueError(f"expression {source!r} is not valid: {exc.msg}") from None
        except (RecursionError, MemoryError):
            raise SpecValueError(f"expression {source!r} nests too deeply (at most {MAX_DEPTH} levels)") from None
        self.source = source
        self.variables = tuple(variables)
        self._tree = tree.body
        self._nodes = 0
        self._check(self._tree, 1)

    # -- validation ------------------------------------------------------------------------
    def _refuse(self, node: ast.AST, what: str) -> SpecValueError:
        col = getattr(node, "col_offset", 0)
        return SpecValueError(
            f"expression {self.source!r}: {what} at column {col + 1} is not allowed; allowed: numbers, "
            f"{', '.join(self.variables)}, {', '.join(_CONSTANTS)}, + - * / // % **, comparisons, 'if/else', "
            f"and/or/not, and the functions {', '.join(_FUNCTIONS)}"
        )

    def _check(self, node: ast.AST, depth: int) -> None:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise SpecValueError(f"expression {self.source!r} has more than {MAX_NODES} syntax-tree nodes")
        if depth > MAX_DEPTH:
            raise SpecValueError(f"expression {self.source!r} nests deeper than {MAX_DEPTH} levels")
        depth += 1
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self._refuse(node, f"the constant {node.value!r}")
            if _bits(node.value) > MAX_INT_BITS:
                raise self._refuse(node, f"an integer literal of {_bits(node.value)} bits (at most {MAX_INT_BITS})")
        elif isinstance(node, ast.Name):
            if node.id not in self.variables and node.id not in _CONSTANTS:
                raise self._refuse(node, f"the name {node.id!r}")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise self._refuse(node, f"the operator {type(node.op).__name__}")
            self._check(node.left, depth)
            self._check(node.right, depth)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise self._refuse(node, f"the operator {type(node.op).__name__}")
            self._check(node.operand, depth)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _COMPARE:
                    raise self._refuse(node, f"the comparison {type(op).__name__}")
            for child in (node.left, *node.comparators):
                self._check(child, depth)
        elif isinstance(node, ast.BoolOp):
            for child in node.values:
                self._check(child, depth)
        elif isinstance(node, ast.IfExp):
            for child in (node.test, node.body, node.orelse):
                self._check(child, depth)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
                raise self._refuse(node, "this call")
            if node.keywords:
                raise self._refuse(node, "a keyword argument")
            low, high = _ARITY.get(node.func.id, (1, 1))
            if not low <= len(node.args) <= high:
                count = f"{low}" if low == high else f"{low} to {high}"
                raise self._refuse(node, f"{node.func.id}() with {len(node.args)} argument(s) (it takes {count})")
            for child in node.args:
                if isinstance(child, ast.Starred):
                    raise self._refuse(child, "a starred argument")
                self._check(child, depth)
        else:
            raise self._refuse(node, f"the syntax {type(node).__name__}")

    # -- evaluation ------------------------------------------------------------------------
    def __call__(self, epoch: int | float) -> Any:
        """The expression's value with ``epoch`` (= ``step``) bound to ``epoch``.

        Raises:
            ExpressionError: the evaluation fails (division by zero, overflow, a math
                domain error, an integer bound, a complex result); the message names the
                expression and ``epoch``.
        """
        try:
            result = self._eval(self._tree, epoch)
        except _Bound as exc:
            raise ExpressionError(
                f"expression {self.source!r} at {self.variables[0]}={epoch!r}: {exc} is too large "
                f"(integers in expressions stay below 2**{MAX_INT_BITS})"
            ) from None
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise ExpressionError(f"expression {self.source!r} at {self.variables[0]}={epoch!r} fails: {exc}") from exc
        if isinstance(result, int) and not isinstance(result, bool) and _bits(result) > MAX_INT_BITS:
            raise ExpressionError(
                f"expression {self.source!r} at {self.variables[0]}={epoch!r}: the result is too large "
                f"(integers in expressions stay below 2**{MAX_INT_BITS})"
            )
        return result

    def _eval(self, node: ast.AST, x: Any) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return x if node.id in self.variables else _CONSTANTS[node.id]
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](self._eval(node.left, x), self._eval(node.right, x))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, x))
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, x)
            for op, comparator in zip(node.ops, node.comparators):
                right = self._eval(comparator, x)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                value: Any = True
                for child in node.values:
                    value = self._eval(child, x)
                    if not value:
                        return value
                return value
            value = False
            for child in node.values:
                value = self._eval(child, x)
                if value:
                    return value
            return value
        if isinstance(node, ast.IfExp):
            return self._eval(node.body, x) if self._eval(node.test, x) else self._eval(node.orelse, x)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(self._eval(a, x) for a in node.args))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and (other.source, other.variables) == (self.source, self.variables)

    def __hash__(self) -> int:
        return hash((self.source, self.variables))

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"
