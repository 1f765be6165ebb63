"""Validation shared by canonical algorithms whose flags take one of a few strings."""
from __future__ import annotations

from typing import Any

__all__ = ["check_choice"]


def check_choice(algorithm: Any, field: str, choices: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the algorithm and field when the flag is not one of ``choices``."""
    value = getattr(algorithm, field)
    if value not in choices:
        raise ValueError(f"algorithm {algorithm.name!r}: '{field}' must be one of {list(choices)}. Received: {value!r}")
