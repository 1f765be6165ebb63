"""NumPy kernels: one module per canonical algorithm.

Contract (shared by every backend): ``kernel(algorithm, params, grads, slots, scalars)``
updates one bucket in place. ``params``/``grads`` are lists of arrays of one dtype,
``slots`` maps each slot name to the list of state arrays in the same order, ``scalars``
holds the host scalars (Python numbers) from the algorithm's ``host_scalars``.
"""
from .adam import adam
from .adam_weight_decay import adam_weight_decay
from .asgd import asgd
from .sgd import sgd
# -- adaptive (H2b) --
from .adadelta import adadelta
from .adagrad import adagrad
from .adamax import adamax
from .rmsprop import rmsprop
from .rprop import rprop
from .adafactor import adafactor
# -- ms-only (H3) --
from .ftrl import ftrl
from .lamb import lamb
from .lars import lars
from .proximal_adagrad import proximal_adagrad
# -- sgd-adam (H2a) --
from .nadam import nadam
from .radam import radam
# -- lion (issue 6) --
from .lion import lion

KERNELS = {
    "sgd": sgd,
    "asgd": asgd,
    "adam": adam,
    "adam_weight_decay": adam_weight_decay,
    # -- ms-only (H3) --
    "ftrl": ftrl,
    "proximal_adagrad": proximal_adagrad,
    "lamb": lamb,
    "lars": lars,
    # -- sgd-adam (H2a) --
    "nadam": nadam,
    "radam": radam,
    # -- adaptive (H2b) --
    "rmsprop": rmsprop,
    "adagrad": adagrad,
    "adadelta": adadelta,
    "adamax": adamax,
    "rprop": rprop,
    "adafactor": adafactor,
    # -- lion (issue 6) --
    "lion": lion,
}

__all__ = ["KERNELS"]
