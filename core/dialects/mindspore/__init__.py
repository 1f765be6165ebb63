"""The MindSpore dialect: ``from optbridge.dialects.mindspore import nn`` mirrors ``mindspore.nn``."""
from . import nn

__all__ = ["nn"]
