"""JAX kernels: one module per canonical algorithm, registered here with one line each.

Contract (functional; compare the in-place NumPy contract in ``docs/plugins.md``)::

    kernel(algorithm, params, grads, slots, scalars) -> (new_params, new_slots)

* ``algorithm`` — the canonical algorithm instance (per-group overrides applied); its
  hyperparameters are static, so branch on them with Python ``if``;
* ``params``, ``grads`` — lists of arrays of one dtype (one bucket), gradients already
  pre-processed;
* ``slots`` — ``{slot name: [array per parameter]}`` in the same order; the kernel
  returns every slot it was given;
* ``scalars`` — the algorithm's host scalars: numbers as 0-d arrays of the bucket's dtype
  (traced: a branch on one is ``jnp.where``), booleans as Python ``bool`` (static).

Kernels are pure and run inside ``jax.jit`` (:mod:`optbridge_jax.step`); they follow
the algorithm's canonical op order (the numbered list in its module docstring)
operation by operation, so results are bitwise those of the NumPy reference on CPU.
"""
from .adadelta import adadelta
from .adafactor import adafactor
from .adagrad import adagrad
from .adam import adam
from .adam_weight_decay import adam_weight_decay
from .adamax import adamax
from .asgd import asgd
from .ftrl import ftrl
from .lamb import lamb
from .lars import lars
from .lion import lion
from .nadam import nadam
from .proximal_adagrad import proximal_adagrad
from .radam import radam
from .rmsprop import rmsprop
from .rprop import rprop
from .sgd import sgd

LEGACY_KERNELS = {
    "sgd": sgd,
    "asgd": asgd,
    "adam": adam,
    "adam_weight_decay": adam_weight_decay,
    "nadam": nadam,
    "radam": radam,
    "ftrl": ftrl,
    "proximal_adagrad": proximal_adagrad,
    "lamb": lamb,
    "lars": lars,
    "rmsprop": rmsprop,
    "adagrad": adagrad,
    "adadelta": adadelta,
    "adamax": adamax,
    "rprop": rprop,
    "adafactor": adafactor,
    "lion": lion,
}

__all__ = ["LEGACY_KERNELS"]
