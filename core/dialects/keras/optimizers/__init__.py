"""``optbridge.dialects.keras.optimizers`` mirrors ``keras.optimizers`` (Keras 3): same class
names, signatures, defaults and numbers; parameters are chosen by selectors.
"""
# -- schedules (H1) --
from . import schedules

# -- keras-1: shared base, SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta --
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam

# -- keras-2: Adamax, Nadam, Ftrl, Lion, Lamb --
from .adamax import Adamax
from .adamw import AdamW
from .ftrl import Ftrl
from .lamb import Lamb
from .lion import Lion
from .loss_scale_optimizer import LossScaleOptimizer
from .multi_optimizer import MultiOptimizer, OptimizerMap
from .muon import Muon
from .nadam import Nadam
from .rmsprop import RMSprop
from .sgd import SGD

__all__: list[str] = [
    "schedules",
    "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "Lion", "Muon", "Lamb",
    "Adafactor",
    "LossScaleOptimizer", "MultiOptimizer", "OptimizerMap",
]
