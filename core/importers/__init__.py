"""Importers: native optimizers (and their schedules) as dialect specs.

``from_torch`` reads a live ``torch.optim`` optimizer, ``from_keras`` a
``keras.optimizers`` optimizer or its serialised config; both return the dialect
optimizer whose build on the origin's backend reproduces the native numbers (DESIGN.md
section 2a). Neither imports a framework when ``optbridge`` is imported.
"""
from __future__ import annotations

from .keras_optimizers import from_keras
from .torch_optim import from_torch

__all__ = ["from_torch", "from_keras"]
