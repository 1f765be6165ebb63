"""The TensorFlow kernel record and the lazy reference the registry holds.

A kernel updates one *bucket* (parameters of one group that share pre-processing) as a
whole. It is traced into the optimizer's step ``tf.function``; nothing in it may depend
on a per-step Python value, so nothing retraces after the first step.

``update(alg, params, grads, slots, scalars)``
    The group-wide update in the canonical op order (``optbridge.algorithms.<name>``;
    the NumPy kernel is the executable reference). ``params`` are ``tf.Variable``s,
    ``grads`` pre-processed tensors in the same order, ``slots`` maps each slot name to
    its variables, ``scalars`` maps each host scalar name to a scalar tensor in the
    parameter dtype (booleans such as ``first_step`` arrive as ``1``/``0``). It runs
    inside the step ``tf.function``; under XLA (``Kernel.jit_compile`` or the optimizer's
    ``jit_compile=True``) it is called with one variable at a time, each its own XLA
    cluster, so a kernel must update every variable independently of the others. It may
    use ``tf.raw_ops.ResourceApply*`` ops that take every constant as an input where their
    formula rounds in the canonical order (``_ops.descend``, ``_ops.divide_descend``).

``fused(alg, params, grads, slots, scalars)`` (optional)
    The same update through TensorFlow's fused training ops (``tf.raw_ops.ResourceApply*``),
    one op per variable, used only when ``can_fuse(alg, probe, dtype)`` says the op
    computes exactly the canonical formula for these hyperparameters. ``probe`` holds the
    algorithm's host scalars of a first step as Python numbers. The optimizer considers
    fusing only when the spec's host ``precision`` is the parameter dtype, since fused ops
    form constants such as ``1 − β`` themselves, in the parameter dtype.

``native(alg, params, grads, slots, scalars)`` (optional)
    The same update through optbridge's own single-pass CPU ops
    (:mod:`optbridge.backends.tensorflow.native`), used when ``can_native(alg)`` says the
    op implements these hyperparameters, the library is available and every variable of
    the bucket lives on a CPU device. It evaluates the canonical op order with every
    operation rounded in the parameter dtype (bit for bit the NumPy reference; ``update``
    is too, except where Grappler rewrites ``x/√y`` as ``x·rsqrt(y)``); it is preferred to
    ``fused`` (one pass over memory where TensorFlow's ops take up to three).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = ["Kernel", "KernelRef", "resolve_kernel", "flag"]


@dataclass(frozen=True)
class Kernel:
    """A TensorFlow kernel for one canonical algorithm (see the module docstring).

    Attributes:
        name: the canonical algorithm's name.
        update: the group-wide compiled update.
        jit_compile: whether ``update`` runs under XLA (the measured choice; see
            ``benchmarks/tensorflow_step.py``).
        fused: the fused-op update, or ``None``.
        can_fuse: ``can_fuse(alg, probe, dtype) -> bool``; required with ``fused``.
        native: the native-op update, or ``None``.
        can_native: ``can_native(alg) -> bool``; required with ``native``.
        unsupported: ``unsupported(alg) -> reason or None``: hyperparameter values the
            kernel does not implement (checked when the optimizer is built, so a flag
            added to the algorithm later fails loudly instead of computing something else).
        hyperparameters: the algorithm hyperparameters the kernel was written for; any
            other hyperparameter set away from its default makes the build fail, naming it.
        separable_decay: the kernel's only use of a kernel-side ``weight_decay_form``
            (``"keras"``, ``"decoupled"``) is the canonical step 0 (``apply_kernel_decay``),
            which the canonical order skips when ``wd == 0``; a bucket whose weight decay is
            zero on every step then runs the kernel with ``weight_decay_form="coupled"``
            (no decay pass at all).
    """

    name: str
    update: Callable[..., None]
    jit_compile: bool = False
    fused: Callable[..., None] | None = None
    can_fuse: Callable[[Any, Mapping[str, Any], Any], bool] | None = None
    unsupported: Callable[[Any], str | None] | None = None
    hyperparameters: frozenset[str] | None = None
    separable_decay: bool = False
    native: Callable[..., None] | None = None
    can_native: Callable[[Any], bool] | None = None

    def __post_init__(self) -> None:
        if (self.fused is None) != (self.can_fuse is None):
            raise ValueError(f"kernel {self.name!r}: 'fused' and 'can_fuse' go together")
        if (self.native is None) != (self.can_native is None):
            raise ValueError(f"kernel {self.name!r}: 'native' and 'can_native' go together")


@dataclass(frozen=True)
class KernelRef:
    """A kernel module not imported yet: ``optbridge.backends.tensorflow.kernels.<module>``.

    The registry holds these so that listing the installed backends never imports
    TensorFlow; :meth:`load` imports the module and returns its ``KERNEL``.
    """

    module: str

    def load(self) -> Kernel:
        mod = importlib.import_module(f"{__package__}.{self.module}")
        return mod.KERNEL


def resolve_kernel(entry: Any, algorithm: str) -> Kernel:
    """The :class:`Kernel` behind a registry entry (a :class:`KernelRef` or a kernel)."""
    kernel = entry.load() if isinstance(entry, KernelRef) else entry
    if not isinstance(kernel, Kernel):
        raise TypeError(
            f"the tensorflow kernel registered for {algorithm!r} is a {type(kernel).__name__}, not "
            f"optbridge.backends.tensorflow.kernels.Kernel"
        )
    return kernel


def flag(value: Any) -> Any:
    """A boolean host scalar (fed as ``1``/``0`` in the parameter dtype) as a bool tensor."""
    return value != 0
