"""The TensorFlow backend's kernel registry: every algorithm it can run, by name.

An algorithm runs here when it writes its update rule over the ops namespace
(``Algorithm.has_rule()``): the rule runs on
:mod:`optbridge.backends.tensorflow.ops`, with the fast paths of
:mod:`optbridge.backends.tensorflow.fast_paths` where they apply. A plugin's algorithm
without a rule brings its own kernel through ``optbridge_kernels``.

:data:`KERNELS` is derived from :data:`optbridge.algorithms.algorithm_registry` each time
it is read (an algorithm registered later is listed as soon as it has a rule); its entries
are :class:`KernelRef`\\ s, so reading it (which listing the installed backends does)
never imports TensorFlow.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

from optbridge.algorithms import algorithm_registry

from .base import Kernel, KernelRef, resolve_kernel


def runs(name: str) -> bool:
    """Whether the backend runs the registered algorithm ``name`` (it has a shared rule)."""
    cls = algorithm_registry.get(name)
    return cls is not None and cls.has_rule()


class _Registry(Mapping):
    """``{algorithm name: KernelRef}`` over the registered algorithms the backend runs."""

    def __getitem__(self, name: str) -> KernelRef:
        if not runs(name):
            raise KeyError(name)
        return KernelRef(name)

    def __iter__(self) -> Iterator[str]:
        return iter([name for name in list(algorithm_registry) if runs(name)])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"KERNELS({sorted(self)})"


KERNELS: Mapping[str, KernelRef] = _Registry()

#: Algorithms this backend declines on purpose: ``{name: reason}``.
UNSUPPORTED: dict[str, str] = {}

#: The reason given for a registered algorithm the backend cannot run.
NO_KERNEL_YET = ("it defines no update rule (Algorithm.update_tensor or update over the ops namespace, "
                 "optbridge.ops), which is what the TensorFlow backend runs")


def missing_kernels() -> list[str]:
    """Registered canonical algorithms the backend cannot run and does not declare in :data:`UNSUPPORTED`."""
    return sorted(name for name in algorithm_registry if name not in KERNELS and name not in UNSUPPORTED)


def unsupported() -> dict[str, str]:
    """What ``Backend.unsupported`` declares: :data:`UNSUPPORTED` plus algorithms without a rule."""
    return {**{name: NO_KERNEL_YET for name in missing_kernels()}, **UNSUPPORTED}


__all__ = ["KERNELS", "UNSUPPORTED", "NO_KERNEL_YET", "Kernel", "KernelRef", "missing_kernels",
           "resolve_kernel", "runs", "unsupported"]
