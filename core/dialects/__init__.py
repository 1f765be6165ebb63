"""Dialects: optimizers and schedules as each framework spells them (DESIGN.md section 2).

``from optbridge.dialects.mindspore import nn`` mirrors ``mindspore.nn``.
"""
from .base import DialectOptimizer, dialect_registry, register_dialect

__all__ = ["DialectOptimizer", "dialect_registry", "register_dialect"]
