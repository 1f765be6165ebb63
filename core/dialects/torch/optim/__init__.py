"""``optbridge.dialects.torch.optim`` mirrors ``torch.optim`` (torch 2.13): same class names,
signatures, defaults, validation messages and numbers; parameters are chosen by selectors.

The shared base class is :class:`~._base.TorchOptimizer` (how to write a class on it: its
module docstring).
"""
# -- schedules (H1) --
from . import lr_scheduler
from ._base import TorchOptimizer

# -- adaptive (H2b) --
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad

# -- sgd-adam (H2a) --
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .muon import Muon
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__: list[str] = [
    "TorchOptimizer",
    # -- schedules (H1) --
    "lr_scheduler",
    # -- sgd-adam (H2a) --
    "SGD",
    "Adam",
    "AdamW",
    "ASGD",
    "NAdam",
    "RAdam",
    # -- adaptive (H2b) --
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Rprop",
    "Adafactor",
    # -- orthogonalised updates --
    "Muon",
]
