"""The jitted bucket step: gradient pre-processing and the update rule, one XLA computation.

:func:`compiled_step` traces the shared gradient pre-processing
(``optbridge.preprocess``) and then the algorithm's shared rule (``Algorithm.update``)
over the JAX ops namespace (:mod:`optbridge_jax.ops`) — or, in place of the rule, a
kernel (a fast path, or the only way to run an algorithm without a rule)::

    kernel(algorithm, params, grads, slots, scalars) -> None

which, like the rule, rebinds the entries of the lists it is handed (copies: the caller's
are untouched). Each bucket of ``JaxOptimizer.run_bucket`` is one call. What is *static*
(part of the compiled program, one trace per value) and what is *traced* (fed as
arrays, so a new learning rate every step does not recompile):

* static — the algorithm instance (its flags decide the program; wrapped in
  :class:`StaticAlgorithm` so that any hyperparameter value hashes), which
  pre-processing steps run, and every ``bool`` host scalar (``first_step``, ``average``);
* traced — the parameters, gradients and slots, and every numeric host scalar, cast on
  the host to the bucket's dtype exactly like the NumPy reference casts it
  (``p.dtype.type(scalars[key])``), or to float64 where the algorithm names the scalar
  in ``float64_scalars`` (with ``jax_enable_x64``; the bucket's dtype without it).

Floating-point contraction: on CPU, XLA's LLVM backend fuses ``a·b + c`` into one fused
multiply-add, which rounds once where the canonical op order rounds twice. With
``fma=False`` (the default) the step is compiled with
``xla_backend_optimization_level=0``, which keeps every multiply and add a separate
IEEE operation, so float32 and float64 results are bitwise those of the NumPy
reference; ``fma=True`` lets XLA contract (measured about 2.4× faster on a 1M-element
Adam step on CPU, results within the conformance pass rule but not bitwise equal).
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from optbridge.preprocess import preprocess_gradients

from . import ops as jax_ops

__all__ = ["compiled_step", "split_scalars", "merge_scalars", "StaticAlgorithm", "Kernel", "EXACT_OPTIONS"]

#: ``kernel(algorithm, params, grads, slots, scalars) -> None``, rebinding ``params`` and ``slots[name]``
Kernel = Callable[..., None]

#: Compiler options that keep a·b + c as two rounded operations (see the module docstring).
EXACT_OPTIONS = {"xla_backend_optimization_level": 0}


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a hyperparameter value (dicts and lists become sorted tuples)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__,) + tuple((f.name, _frozen(getattr(value, f.name)))
                                                   for f in dataclasses.fields(value))
    return value


class StaticAlgorithm:
    """An algorithm as a ``jax.jit`` static argument: hashable even when a hyperparameter is a
    dict (``lars``'s ``lars_filter`` selector); equal when the algorithms are equal."""

    __slots__ = ("algorithm", "_key")

    def __init__(self, algorithm: Any):
        self.algorithm = algorithm
        self._key = _frozen(algorithm)

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaticAlgorithm) and self._key == other._key


def split_scalars(scalars: Mapping[str, Any]) -> tuple[dict[str, Any], tuple]:
    """``(numeric, flags)``: the numbers (already cast on the host,
    ``JaxOptimizer.convert_scalars``) and the booleans as a hashable tuple. A nested
    mapping (a wrapping algorithm's ``scalars["inner"]``) is split the same way: its
    numbers stay nested in ``numeric`` and its flags nest in ``flags``.
    """
    numeric: dict[str, Any] = {}
    flags: list[tuple[str, Any]] = []
    for key, value in scalars.items():
        if isinstance(value, Mapping):
            numeric[key], inner = split_scalars(value)
            flags.append((key, inner))
        elif isinstance(value, (bool, np.bool_)):
            flags.append((key, bool(value)))
        else:
            numeric[key] = value
    return numeric, tuple(sorted(flags))


def merge_scalars(numeric: Mapping[str, Any], flags: tuple) -> dict[str, Any]:
    """The kernel's ``scalars``: :func:`split_scalars` undone (traced numbers, static flags)."""
    out = {k: v for k, v in numeric.items() if not isinstance(v, Mapping)}
    for key, value in flags:
        out[key] = merge_scalars(numeric[key], value) if isinstance(value, tuple) else value
    return out


def _bucket_step(kernel: Kernel | None, params, grads, slots, numeric, weight_decay, grad_scale, *,
                 algorithm, negate: bool, centralize: bool, flags: tuple):
    g = preprocess_gradients(jax_ops, params, grads, negate=negate, weight_decay=weight_decay,
                             centralize=centralize, grad_scale=grad_scale)
    new_params, new_slots = list(params), {k: list(v) for k, v in slots.items()}
    scalars = merge_scalars(numeric, flags)
    if kernel is None:
        algorithm.algorithm.update(jax_ops, new_params, g, new_slots, scalars)
    else:
        kernel(algorithm.algorithm, new_params, g, new_slots, scalars)
    return tuple(new_params), {k: tuple(v) for k, v in new_slots.items()}


@functools.cache
def compiled_step(kernel: Kernel | None, exact: bool) -> Callable[..., Any]:
    """The jitted bucket step running ``kernel``, or the algorithm's shared rule when
    ``kernel`` is ``None`` (one per kernel and contraction mode).

    Call it as ``step(params, grads, slots, numeric, weight_decay, grad_scale,
    algorithm=StaticAlgorithm(...), negate=..., centralize=..., flags=...)`` with tuples of arrays,
    ``slots`` as ``{name: tuple}``, ``numeric``/``flags`` from :func:`split_scalars`, and
    ``weight_decay``/``grad_scale`` an array or ``None`` (step skipped). Returns
    ``(new_params, new_slots)`` as tuples.
    """
    options = EXACT_OPTIONS if exact else None
    return jax.jit(functools.partial(_bucket_step, kernel),
                   static_argnames=("algorithm", "negate", "centralize", "flags"),
                   compiler_options=options)
