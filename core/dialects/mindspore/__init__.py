"""The MindSpore dialect: ``from optbridge.dialects.mindspore import nn`` mirrors ``mindspore.nn``;
``amp`` (and ``train.loss_scale_manager``) hold the loss-scale managers."""
from . import amp, nn, train

__all__ = ["nn", "amp", "train"]
