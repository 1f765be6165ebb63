"""Exceptions raised by optbridge.

Every exception also subclasses the builtin that the origin framework raises for the
same mistake (MindSpore and torch raise ``TypeError``/``ValueError``/``KeyError``), so
code written as ``except ValueError`` around a MindSpore optimizer keeps working.
Messages name the place (group index and selector, config path), the rule and the
value received.
"""
from __future__ import annotations

__all__ = [
    "OptbridgeError",
    "SpecTypeError",
    "SpecValueError",
    "SpecKeyError",
    "GroupError",
    "SelectorTypeError",
    "DuplicateParameterError",
    "ConfigError",
    "ScheduleExhaustedError",
    "StaticLearningRateError",
    "BackendError",
    "StepInputError",
    "StateDictError",
    "ExpressionError",
]


class OptbridgeError(Exception):
    """Base class of every error optbridge raises on purpose."""


class SpecTypeError(OptbridgeError, TypeError):
    """An argument of an optimizer or schedule has the wrong type."""


class SpecValueError(OptbridgeError, ValueError):
    """An argument of an optimizer or schedule is out of its allowed range."""


class SpecKeyError(OptbridgeError, KeyError):
    """A group dictionary holds a key the dialect cannot parse (MindSpore raises KeyError)."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else ""


class GroupError(OptbridgeError, ValueError):
    """Parameter groups do not resolve against the model's named parameters."""


class SelectorTypeError(GroupError, TypeError):
    """A group selector has the wrong type (MindSpore raises TypeError for a non-Parameter)."""


class DuplicateParameterError(GroupError, RuntimeError):
    """A parameter is claimed by two groups (MindSpore raises RuntimeError, others ValueError)."""


class ConfigError(OptbridgeError, ValueError):
    """A configuration document is malformed; the message carries the path to the bad key."""


class ScheduleExhaustedError(OptbridgeError, IndexError, RuntimeError):
    """A per-step sequence of values was asked for a step past its end.

    An ``IndexError`` (an index past the end of a list) and a ``RuntimeError``: MindSpore
    2.10 raises ``RuntimeError`` when a per-step learning-rate list runs out mid-training
    (its ``Gather`` kernel: "the 'input_indices' should be in the range [0, N)").
    """


class StaticLearningRateError(OptbridgeError, TypeError):
    """``set_lr`` was called on a group whose learning rate is dynamic."""


class BackendError(OptbridgeError, RuntimeError):
    """No backend can run the request, or a backend plugin is broken."""


class StepInputError(OptbridgeError, ValueError):
    """Gradients handed to ``step`` do not match the parameters."""


class StateDictError(OptbridgeError, ValueError):
    """A state dictionary does not fit the optimizer it is loaded into."""


class ExpressionError(SpecValueError, ArithmeticError):
    """A schedule expression (``lr_lambda="1 / epoch"``) cannot be evaluated, or exceeds its bounds.

    Also an ``ArithmeticError``: a Python ``lr_lambda`` that divides by zero or overflows
    raises one (``ZeroDivisionError``, ``OverflowError``) in torch.
    """
