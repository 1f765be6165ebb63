"""``optbridge.dialects.keras.optimizers`` mirrors ``keras.optimizers`` (Keras 3): same class
names, signatures, defaults and numbers; parameters are chosen by selectors.
"""
# -- schedules (H1) --
from . import schedules
# -- keras-1: shared base, SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta --
from .sgd import SGD

__all__: list[str] = [
    # -- schedules (H1) --
    "schedules",
    # -- keras-1: shared base, SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta --
    "SGD",
]
