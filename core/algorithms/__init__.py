"""Canonical algorithms (DESIGN.md section 3): one module per algorithm, each registering
its class in :data:`algorithm_registry` (a plugin adds its own through ``optbridge_algorithms``)."""
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam
from .adam_weight_decay import AdamWeightDecay
from .adamax import Adamax
from .asgd import ASGD
from .base import Algorithm, HostStep, Slot, algorithm_registry, register_algorithm, scalar_type
from .ftrl import FTRL
from .lamb import Lamb
from .lars import LARS
from .lion import Lion
from .muon import Muon
from .nadam import NAdam
from .proximal_adagrad import ProximalAdagrad
from .radam import RAdam
from .rmsprop import RMSProp
from .rprop import Rprop
from .sgd import SGD

__all__ = [
    "Algorithm",
    "HostStep",
    "Slot",
    "algorithm_registry",
    "register_algorithm",
    "scalar_type",
    "ASGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamWeightDecay",
    "Adamax",
    "FTRL",
    "LARS",
    "Lamb",
    "Lion",
    "Muon",
    "NAdam",
    "ProximalAdagrad",
    "RAdam",
    "RMSProp",
    "Rprop",
    "SGD",
]
