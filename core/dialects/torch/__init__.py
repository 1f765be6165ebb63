"""The torch dialect: ``from optbridge.dialects.torch import optim`` mirrors ``torch.optim`` (torch 2.13)."""
from . import optim

__all__ = ["optim"]
