"""MindSpore 2.10 ``mindspore._checkparam`` checks that the shared base does not mirror.

Messages are MindSpore's own words (recorded in ``tests/goldens/mindspore_errors.json``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ....errors import SpecTypeError, SpecValueError

__all__ = ["INC_NEITHER", "INC_BOTH", "INC_LEFT", "check_float_range", "check_value_types"]

INC_NEITHER, INC_BOTH, INC_LEFT = "neither", "both", "left"
_BRACKETS = {INC_NEITHER: ("(", ")"), INC_BOTH: ("[", "]"), INC_LEFT: ("[", ")")}


def check_float_range(value: Any, lower: float, upper: float, rel: str, name: str, cls_name: str) -> None:
    """``validator.check_float_range``: a float (not bool) within the bounds ``rel`` names.

    The bounds are written as the caller gives them (``(0.0, 1.0)`` or ``(0, 1)``).
    """
    if not isinstance(value, (float, np.floating)) or isinstance(value, bool):
        raise SpecTypeError(f"For '{cls_name}', the '{name}' must be 'float',  but got '{type(value).__name__}'.")
    inside = {
        INC_NEITHER: lower < value < upper,
        INC_BOTH: lower <= value <= upper,
        INC_LEFT: lower <= value < upper,
    }[rel]
    if not inside:
        left, right = _BRACKETS[rel]
        raise SpecValueError(
            f"For '{cls_name}', the '{name}' must be in range of {left}{lower}, {upper}{right}, but got {value} "
            f"with type '{type(value).__name__}'."
        )


def check_value_types(name: str, value: Any, types: tuple[type, ...], cls_name: str) -> None:
    """``validator.check_value_type`` with several accepted types (a bool is never an int)."""
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        names = [t.__name__ for t in types]
        raise SpecTypeError(
            f"For '{cls_name}', the type of '{name}' should be one of '{names}', but got type '{type(value).__name__}'."
        )
