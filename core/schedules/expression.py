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
returns. Integer powers are bounded (``|exponent| <= 1024``) so a config cannot make the
host compute a gigantic integer.
"""
from __future__ import annotations

import ast
import math
import operator
from typing import Any, Callable

from ..errors import SpecTypeError, SpecValueError

__all__ = ["Expression", "VARIABLES"]

#: Names the expression may use for the scheduler's counter.
VARIABLES = ("epoch", "step")
_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs,
    "floor": math.floor, "ceil": math.ceil, "exp": math.exp, "log": math.log, "sqrt": math.sqrt,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "tanh": math.tanh,
}
_MAX_INT_EXPONENT = 1024


def _pow(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and abs(b) > _MAX_INT_EXPONENT:
        raise SpecValueError(f"integer power with exponent {b} is too large (|exponent| <= {_MAX_INT_EXPONENT})")
    return a**b


_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE = {
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

    __slots__ = ("source", "variables", "_tree")

    def __init__(self, source: str, variables: tuple[str, ...] = VARIABLES):
        if not isinstance(source, str):
            raise SpecTypeError(f"an expression must be a string. Received: {source!r} of type {type(source).__name__}")
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise SpecValueError(f"expression {source!r} is not valid: {exc.msg}") from None
        self.source = source
        self.variables = tuple(variables)
        self._tree = tree.body
        self._check(self._tree)

    # -- validation ------------------------------------------------------------------------
    def _refuse(self, node: ast.AST, what: str) -> SpecValueError:
        col = getattr(node, "col_offset", 0)
        return SpecValueError(
            f"expression {self.source!r}: {what} at column {col + 1} is not allowed; allowed: numbers, "
            f"{', '.join(self.variables)}, {', '.join(_CONSTANTS)}, + - * / // % **, comparisons, 'if/else', "
            f"and/or/not, and the functions {', '.join(_FUNCTIONS)}"
        )

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self._refuse(node, f"the constant {node.value!r}")
        elif isinstance(node, ast.Name):
            if node.id not in self.variables and node.id not in _CONSTANTS:
                raise self._refuse(node, f"the name {node.id!r}")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise self._refuse(node, f"the operator {type(node.op).__name__}")
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise self._refuse(node, f"the operator {type(node.op).__name__}")
            self._check(node.operand)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _COMPARE:
                    raise self._refuse(node, f"the comparison {type(op).__name__}")
            for child in (node.left, *node.comparators):
                self._check(child)
        elif isinstance(node, ast.BoolOp):
            for child in node.values:
                self._check(child)
        elif isinstance(node, ast.IfExp):
            for child in (node.test, node.body, node.orelse):
                self._check(child)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
                raise self._refuse(node, "this call")
            if node.keywords:
                raise self._refuse(node, "a keyword argument")
            if not node.args:
                raise self._refuse(node, f"{node.func.id}() without arguments")
            for child in node.args:
                if isinstance(child, ast.Starred):
                    raise self._refuse(child, "a starred argument")
                self._check(child)
        else:
            raise self._refuse(node, f"the syntax {type(node).__name__}")

    # -- evaluation ------------------------------------------------------------------------
    def __call__(self, epoch: int | float) -> Any:
        """The expression's value with ``epoch`` (= ``step``) bound to ``epoch``."""
        return self._eval(self._tree, epoch)

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
