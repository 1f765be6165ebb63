"""``optbridge.dialects.mindspore.train`` mirrors the loss-scale managers of ``mindspore.train``."""
from __future__ import annotations

from . import loss_scale_manager
from .loss_scale_manager import DynamicLossScaleManager, FixedLossScaleManager, LossScaleManager

__all__ = ["loss_scale_manager", "LossScaleManager", "FixedLossScaleManager", "DynamicLossScaleManager"]
