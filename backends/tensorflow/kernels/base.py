"""The TensorFlow kernel record and the lazy reference the registry holds.

A kernel updates one *bucket* (parameters of one group that share pre-processing) as a
whole. It is traced into the optimizer's step ``tf.function``; nothing in it may depend
on a per-step Python value, so nothing retraces after the first step.

The update itself is the algorithm's rule (``Algorithm.update``, written once over the
ops namespace), run on :mod:`optbridge.backends.tensorflow.ops`. A kernel adds the
optional *fast paths*, each computing the same numbers as the rule (bit for bit where it
claims to) for the hyperparameters its predicate accepts, in this order of preference:

``native(alg, params, grads, slots, scalars)`` (with ``can_native(alg)``)
    optbridge's own single-pass CPU ops (:mod:`optbridge.backends.tensorflow.native`),
    used when the library is available, every variable of the bucket lives on a CPU
    device and XLA is not forced on. Every operation rounded in the parameter dtype, in
    the canonical order: bit for bit the NumPy reference.

``fused(alg, params, grads, slots, scalars)`` (with ``can_fuse(alg, dtype)``)
    TensorFlow's fused training ops (``tf.raw_ops.ResourceApply*``) that form constants
    such as ``1 − β`` themselves in the parameter dtype: considered only when the spec's
    host ``precision`` is that dtype. ``probe`` holds a first step's host scalars as
    Python numbers.

``raw(alg, params, grads, slots, scalars)`` (with ``can_raw(alg)``)
    TensorFlow training ops that take every constant as an input and round in the
    canonical order (``ResourceApplyKerasMomentum``, ``ResourceApplyAdagradV2``, ...): the
    rule's numbers in fewer passes over memory, whatever the host precision, also under
    XLA.

In all of them ``params`` are ``tf.Variable`` objects, ``grads`` the pre-processed tensors in
the same order, ``slots`` maps each slot name to its variables, ``scalars`` each host
scalar name to a scalar tensor in the parameter dtype (booleans such as ``first_step``
arrive as ``1``/``0``). Under XLA (``Kernel.jit_compile`` or the optimizer's
``jit_compile=True``) the rule and ``raw`` are called with one variable at a time, each
its own XLA cluster.

``update`` is ``None`` for every built-in kernel (the rule runs). A kernel given with an
``update`` of its own (a plugin's, through the ``optbridge_kernels`` hook) runs that
instead, with the ``hyperparameters``/``unsupported`` guards checked when the optimizer
is built.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Kernel", "KernelRef", "resolve_kernel"]


@dataclass(frozen=True)
class Kernel:
    """A TensorFlow kernel for one canonical algorithm (see the module docstring).

    Attributes:
        name: the canonical algorithm's name.
        update: ``None``: the algorithm's rule on the TensorFlow ops namespace; else a
            group-wide update of the kernel's own.
        jit_compile: whether the rule (or ``update``) runs under XLA by default (the
            measured choice; see ``benchmarks/tensorflow_step.py``).
        native, can_native: the native-op fast path and its predicate ``can_native(alg)``.
        fused, can_fuse: the fused-op fast path and ``can_fuse(alg, dtype)``.
        raw, can_raw: the exact training-op fast path and ``can_raw(alg)``.
        hyperparameters: the algorithm hyperparameters the kernel was written for. With
            an ``update`` of its own, any other hyperparameter set away from its default
            makes the build fail, naming it; for the rule, such a hyperparameter turns the
            fast paths off (the rule implements every hyperparameter).
        unsupported: ``unsupported(alg) -> reason or None``: hyperparameter values an
            ``update`` of its own does not implement (the build fails with the reason).
        separable_decay: the rule's (and fast paths') only use of a rule-side
            ``weight_decay_form`` (``"keras"``, ``"decoupled"``) is step 0
            (``apply_rule_decay``), which leaves every finite ``p`` unchanged when
            ``wd == 0``; a bucket whose weight decay is zero on every step then runs with
            ``weight_decay_form="coupled"`` (no decay pass at all).
    """

    name: str
    update: Callable[..., None] | None = None
    jit_compile: bool = False
    fused: Callable[..., None] | None = None
    can_fuse: Callable[[Any, Any], bool] | None = None
    unsupported: Callable[[Any], str | None] | None = None
    hyperparameters: frozenset[str] | None = None
    separable_decay: bool = False
    native: Callable[..., None] | None = None
    can_native: Callable[[Any], bool] | None = None
    raw: Callable[..., None] | None = None
    can_raw: Callable[[Any], bool] | None = None

    def __post_init__(self) -> None:
        for path in ("fused", "native", "raw"):
            predicate = "can_fuse" if path == "fused" else f"can_{path}"
            if (getattr(self, path) is None) != (getattr(self, predicate) is None):
                raise ValueError(f"kernel {self.name!r}: {path!r} and {predicate!r} go together")


@dataclass(frozen=True)
class KernelRef:
    """The kernel of algorithm ``algorithm``, not built yet.

    The registry holds these so that listing the installed backends never imports
    TensorFlow; :meth:`load` imports :mod:`optbridge.backends.tensorflow.fast_paths`
    (and TensorFlow) and returns the algorithm's :class:`Kernel`.
    """

    algorithm: str

    def load(self) -> Kernel:
        from ..fast_paths import kernel

        return kernel(self.algorithm)


def resolve_kernel(entry: Any, algorithm: str) -> Kernel:
    """The :class:`Kernel` behind a registry entry (a :class:`KernelRef` or a kernel)."""
    kernel = entry.load() if isinstance(entry, KernelRef) else entry
    if not isinstance(kernel, Kernel):
        raise TypeError(
            f"the tensorflow kernel registered for {algorithm!r} is a {type(kernel).__name__}, not "
            f"optbridge.backends.tensorflow.kernels.Kernel"
        )
    return kernel
