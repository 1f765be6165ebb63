"""The Keras dialect: ``from optbridge.dialects.keras import optimizers`` mirrors ``keras.optimizers`` (Keras 3)."""
from . import optimizers

__all__ = ["optimizers"]
