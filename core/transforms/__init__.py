"""Gradient transforms: the gradient pipeline as data (DESIGN.md section 4a).

``OptimizerSpec.transforms`` lists them in the order they run, before each group's
pre-processing and update rule; dialects lower their own arguments to them (Keras
``clipnorm`` / ``clipvalue`` / ``global_clipnorm``) and torch- and MindSpore-style configs
name them directly (``transforms=[{"transform": "clip_by_global_norm", "max_norm": 1.0}]``).
"""
from __future__ import annotations

from .base import (
    GradientTransform,
    check_transforms,
    register_transform,
    transform_from_dict,
    transform_gradients,
    transform_registry,
)
from .clip import GLOBAL_NORM_FORMS, ClipByGlobalNorm, ClipByNorm, ClipByValue

__all__ = [
    "GradientTransform", "ClipByValue", "ClipByNorm", "ClipByGlobalNorm", "GLOBAL_NORM_FORMS",
    "check_transforms", "register_transform", "transform_from_dict", "transform_gradients", "transform_registry",
]
