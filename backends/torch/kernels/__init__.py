"""Torch kernels: one module per canonical algorithm (contract: :mod:`.base`).

Adding an algorithm: write ``kernels/<name>.py`` with ``update`` (and ``native`` when a
torch kernel computes exactly the canonical formula) ending in
``KERNEL = TorchKernel("<name>", update[, native])``, then add one line below.
"""
from .base import TorchKernel, as_kernel
from . import (adadelta, adafactor, adagrad, adam, adam_weight_decay, adamax, asgd, ftrl, lamb, lars, nadam,
               proximal_adagrad, radam, rmsprop, rprop, sgd)
from . import lion

KERNELS: dict[str, TorchKernel] = {
    "sgd": sgd.KERNEL,
    "asgd": asgd.KERNEL,
    "adam": adam.KERNEL,
    "adam_weight_decay": adam_weight_decay.KERNEL,
    "nadam": nadam.KERNEL,
    "radam": radam.KERNEL,
    "ftrl": ftrl.KERNEL,
    "proximal_adagrad": proximal_adagrad.KERNEL,
    "lamb": lamb.KERNEL,
    "lars": lars.KERNEL,
    "rmsprop": rmsprop.KERNEL,
    "adagrad": adagrad.KERNEL,
    "adadelta": adadelta.KERNEL,
    "adamax": adamax.KERNEL,
    "rprop": rprop.KERNEL,
    "adafactor": adafactor.KERNEL,
    "lion": lion.KERNEL,
}

__all__ = ["KERNELS", "TorchKernel", "as_kernel"]
