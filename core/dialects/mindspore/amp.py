"""``optbridge.dialects.mindspore.amp`` mirrors the loss-scale managers of ``mindspore.amp``
(MindSpore 2.10 re-exports them there from ``mindspore.train.loss_scale_manager``)."""
from __future__ import annotations

from .train.loss_scale_manager import DynamicLossScaleManager, FixedLossScaleManager, LossScaleManager

__all__ = ["LossScaleManager", "FixedLossScaleManager", "DynamicLossScaleManager"]
