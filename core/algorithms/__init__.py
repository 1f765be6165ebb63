"""Canonical algorithms (DESIGN.md section 3): one module per algorithm."""
from .adam import Adam
from .adam_weight_decay import AdamWeightDecay
from .asgd import ASGD
from .base import Algorithm, HostStep, Slot, algorithm_registry, register_algorithm, scalar_type
from .sgd import SGD
# -- adaptive (H2b) --
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adamax import Adamax
from .rmsprop import RMSProp
from .rprop import Rprop
from .adafactor import Adafactor
# -- ms-only (H3) --
from .ftrl import FTRL
from .lamb import Lamb
from .lars import LARS
from .proximal_adagrad import ProximalAdagrad
# -- sgd-adam (H2a) --
from .nadam import NAdam
from .radam import RAdam
# -- lion (issue 6) --
from .lion import Lion

__all__ = [
    "Algorithm",
    "HostStep",
    "Slot",
    "algorithm_registry",
    "register_algorithm",
    "scalar_type",
    "SGD",
    "ASGD",
    "Adam",
    "AdamWeightDecay",
    # -- ms-only (H3) --
    "FTRL",
    "ProximalAdagrad",
    "Lamb",
    "LARS",
    # -- sgd-adam (H2a) --
    "NAdam",
    "RAdam",
    # -- adaptive (H2b) --
    "RMSProp",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Rprop",
    "Adafactor",
    # -- lion (issue 6) --
    "Lion",
]
