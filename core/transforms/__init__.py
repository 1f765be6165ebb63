"""Gradient transforms: the gradient pipeline as data (DESIGN.md section 4a).

``OptimizerSpec.transforms`` lists them in the order they run, before each group's
pre-processing and update rule (an EMA's part runs after it); dialects lower their own arguments to them (Keras
``clipnorm`` / ``clipvalue`` / ``global_clipnorm``) and torch- and MindSpore-style configs
name them directly (``transforms=[{"transform": "clip_by_global_norm", "max_norm": 1.0}]``).
"""
from __future__ import annotations

from .accumulate import AccumulateGradients
from .base import (
    GradientTransform,
    check_transforms,
    register_transform,
    transform_from_dict,
    transform_gradients,
    transform_registry,
)
from .clip import GLOBAL_NORM_FORMS, ClipByGlobalNorm, ClipByNorm, ClipByValue
from .ema import EMA_FORMS, ExponentialMovingAverage
from .loss_scale import LOSS_SCALE_FORMS, LossScale
from .pipeline import PipelineCall

__all__ = [
    "GradientTransform", "ClipByValue", "ClipByNorm", "ClipByGlobalNorm", "GLOBAL_NORM_FORMS",
    "AccumulateGradients", "ExponentialMovingAverage", "EMA_FORMS", "LossScale", "LOSS_SCALE_FORMS",
    "PipelineCall",
    "check_transforms", "register_transform", "transform_from_dict", "transform_gradients", "transform_registry",
]
