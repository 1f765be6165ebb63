"""``optbridge.dialects.mindspore.nn`` mirrors ``mindspore.nn`` (MindSpore 2.10).

Optimizers: :class:`Momentum`, :class:`SGD`, :class:`ASGD`, :class:`Adam`,
:class:`AdamOffload`, :class:`AdamWeightDecay`, :class:`LazyAdam`, :class:`RMSProp`,
:class:`Adagrad`, :class:`Adadelta`, :class:`AdaMax`, :class:`Rprop`, :class:`AdaFactor`,
:class:`FTRL`, :class:`ProximalAdagrad`, :class:`Lamb`, :class:`LARS`. Learning rates: the
:mod:`dynamic_lr` list functions and the :mod:`learning_rate_schedule` classes, also available
at this level as in MindSpore
(``nn.cosine_decay_lr``, ``nn.PolynomialDecayLR``).
"""
from . import dynamic_lr, learning_rate_schedule

# -- adaptive (H2b) --
from .adadelta import Adadelta
from .adafactor import AdaFactor
from .adagrad import Adagrad
from .adam import Adam, AdamOffload, AdamWeightDecay
from .adamax import AdaMax
from .asgd import ASGD
from .dynamic_lr import (
    cosine_decay_lr,
    exponential_decay_lr,
    inverse_decay_lr,
    natural_exp_decay_lr,
    piecewise_constant_lr,
    polynomial_decay_lr,
    warmup_lr,
)

# -- ms-only (H3) --
from .ftrl import FTRL
from .lamb import Lamb
from .lars import LARS

# -- sgd-adam (H2a) --
from .lazyadam import LazyAdam
from .learning_rate_schedule import (
    CosineDecayLR,
    ExponentialDecayLR,
    InverseDecayLR,
    LearningRateSchedule,
    NaturalExpDecayLR,
    PolynomialDecayLR,
    WarmUpLR,
)
from .momentum import Momentum
from .proximal_adagrad import ProximalAdagrad
from .rmsprop import RMSProp
from .rprop import Rprop
from .sgd import SGD

__all__ = [
    "Momentum",
    "SGD",
    "ASGD",
    "Adam",
    "AdamOffload",
    "AdamWeightDecay",
    # -- sgd-adam (H2a) --
    "LazyAdam",
    # -- adaptive (H2b) --
    "RMSProp",
    "Adagrad",
    "Adadelta",
    "AdaMax",
    "Rprop",
    "AdaFactor",
    # -- ms-only (H3) --
    "FTRL",
    "ProximalAdagrad",
    "Lamb",
    "LARS",
    # --
    "dynamic_lr",
    "learning_rate_schedule",
    "piecewise_constant_lr",
    "exponential_decay_lr",
    "natural_exp_decay_lr",
    "inverse_decay_lr",
    "cosine_decay_lr",
    "polynomial_decay_lr",
    "warmup_lr",
    "LearningRateSchedule",
    "ExponentialDecayLR",
    "NaturalExpDecayLR",
    "InverseDecayLR",
    "CosineDecayLR",
    "PolynomialDecayLR",
    "WarmUpLR",
]
