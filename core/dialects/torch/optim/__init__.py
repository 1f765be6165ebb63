"""``optbridge.dialects.torch.optim`` mirrors ``torch.optim`` (torch 2.13): same class names,
signatures, defaults, validation messages and numbers; parameters are chosen by selectors.

The shared base class is :class:`~._base.TorchOptimizer` (how to write a class on it: its
module docstring).
"""
from ._base import TorchOptimizer
# -- sgd-adam (H2a) --
from .sgd import SGD

__all__: list[str] = [
    "TorchOptimizer",
    # -- sgd-adam (H2a) --
    "SGD",
]
