"""The jitted bucket step: gradient pre-processing and the update rule, one XLA computation.

A kernel is a pure function over one bucket's arrays::

    kernel(algorithm, params, grads, slots, scalars) -> (new_params, new_slots)

Every algorithm's kernel is :func:`run_rule`: its shared update rule
(``Algorithm.update``) over the JAX ops namespace (:mod:`optbridge_jax.ops`); a plugin
may add a fast path for an algorithm (``optbridge_kernels``) with the same signature.
:func:`compiled_step` wraps a kernel with the shared gradient pre-processing
(``optbridge.preprocess``) in a ``jax.jit``. What is *static*
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
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np

from optbridge.algorithms import Algorithm, algorithm_registry
from optbridge.preprocess import preprocess_gradients

from . import ops as jax_ops

__all__ = ["KERNELS", "Kernels", "has_rule", "compiled_step", "run_rule", "split_scalars", "merge_scalars",
           "StaticAlgorithm", "Kernel", "EXACT_OPTIONS"]

Kernel = Callable[..., tuple[Sequence[jax.Array], Mapping[str, Sequence[jax.Array]]]]

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


def split_scalars(scalars: Mapping[str, Any], dtype: np.dtype, algorithm: Any = None) -> tuple[dict[str, Any], tuple]:
    """``(numeric, flags)``: numbers cast to ``dtype`` on the host, booleans as a hashable tuple.

    Numbers ``algorithm.float64_scalars`` names are cast to float64 instead (when
    ``jax_enable_x64`` is on). A nested mapping (a wrapping algorithm's
    ``scalars["inner"]``, for ``algorithm.inner``) is split the same way: its numbers stay
    nested in ``numeric`` and its flags nest in ``flags``.
    """
    wide = frozenset(getattr(algorithm, "float64_scalars", ())) if jax.config.jax_enable_x64 else frozenset()
    numeric: dict[str, Any] = {}
    flags: list[tuple[str, Any]] = []
    for key, value in scalars.items():
        if isinstance(value, Mapping):
            numeric[key], inner = split_scalars(value, dtype, getattr(algorithm, key, None))
            flags.append((key, inner))
        elif isinstance(value, (bool, np.bool_)):
            flags.append((key, bool(value)))
        else:
            numeric[key] = np.asarray(value, dtype=np.float64 if key in wide else dtype)
    return numeric, tuple(sorted(flags))


def merge_scalars(numeric: Mapping[str, Any], flags: tuple) -> dict[str, Any]:
    """The kernel's ``scalars``: :func:`split_scalars` undone (traced numbers, static flags)."""
    out = {k: v for k, v in numeric.items() if not isinstance(v, Mapping)}
    for key, value in flags:
        out[key] = merge_scalars(numeric[key], value) if isinstance(value, tuple) else value
    return out


def run_rule(algorithm: Any, params: Sequence[jax.Array], grads: Sequence[jax.Array],
             slots: Mapping[str, Sequence[jax.Array]], scalars: Mapping[str, Any]):
    """The kernel of every algorithm: ``algorithm.update`` over the JAX ops namespace.

    The rule rebinds the entries of the lists it is handed (copies, so the caller's are
    untouched); returns them as ``(new_params, new_slots)``.
    """
    new_params = list(params)
    new_slots = {k: list(v) for k, v in slots.items()}
    algorithm.update(jax_ops, new_params, list(grads), new_slots, scalars)
    return new_params, new_slots


def _bucket_step(kernel: Kernel, params, grads, slots, numeric, weight_decay, grad_scale, *,
                 algorithm, negate: bool, centralize: bool, flags: tuple):
    g = preprocess_gradients(jax_ops, params, grads, negate=negate, weight_decay=weight_decay,
                             centralize=centralize, grad_scale=grad_scale)
    new_params, new_slots = kernel(algorithm.algorithm, list(params), g, {k: list(v) for k, v in slots.items()},
                                   merge_scalars(numeric, flags))
    return tuple(new_params), {k: tuple(v) for k, v in new_slots.items()}


@functools.lru_cache(maxsize=None)
def compiled_step(kernel: Kernel, exact: bool) -> Callable[..., Any]:
    """The jitted bucket step of ``kernel`` (one per kernel and contraction mode).

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


def has_rule(algorithm: type) -> bool:
    """Whether an algorithm class defines its update rule (``update_tensor`` or ``update``)."""
    return algorithm.update_tensor is not Algorithm.update_tensor or algorithm.update is not Algorithm.update


class Kernels(Mapping):
    """``{algorithm name: kernel}``: :func:`run_rule` for every registered canonical algorithm
    that defines its rule (``optbridge.algorithms.algorithm_registry``, read at each access)."""

    def __getitem__(self, name: str) -> Kernel:
        cls = algorithm_registry.get(name)
        if cls is None or not has_rule(cls):
            raise KeyError(name)
        return run_rule

    def __iter__(self):
        return iter([name for name, cls in list(algorithm_registry.items()) if has_rule(cls)])

    def __len__(self) -> int:
        return len(list(iter(self)))


#: the JAX backend's kernels (see :class:`Kernels`)
KERNELS = Kernels()
