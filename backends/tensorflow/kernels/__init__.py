"""TensorFlow kernels: one module per canonical algorithm, each exporting ``KERNEL``.

Adding a kernel is one file (``<algorithm>.py`` defining ``KERNEL = Kernel(...)``, see
:mod:`.base`) and one line here. Entries are :class:`KernelRef`\\ s, so importing this
registry (which listing the installed backends does) never imports TensorFlow.
"""
from .base import Kernel, KernelRef, flag, resolve_kernel

KERNELS = {
    "sgd": KernelRef("sgd"),
    "asgd": KernelRef("asgd"),
    "adam": KernelRef("adam"),
    "adam_weight_decay": KernelRef("adam_weight_decay"),
    "nadam": KernelRef("nadam"),
    "radam": KernelRef("radam"),
    "adamax": KernelRef("adamax"),
    "rmsprop": KernelRef("rmsprop"),
    "adagrad": KernelRef("adagrad"),
    "adadelta": KernelRef("adadelta"),
    "rprop": KernelRef("rprop"),
    "ftrl": KernelRef("ftrl"),
    "proximal_adagrad": KernelRef("proximal_adagrad"),
    "lamb": KernelRef("lamb"),
    "lars": KernelRef("lars"),
    "adafactor": KernelRef("adafactor"),
    "lion": KernelRef("lion"),
}

#: Algorithms this backend declines on purpose: ``{name: reason}``.
UNSUPPORTED: dict[str, str] = {}

#: The reason given for a registered algorithm that has no kernel here yet.
NO_KERNEL_YET = ("no TensorFlow kernel has been written for it yet (add one: backends/tensorflow/kernels, recipe in "
                 "docs/backends-tensorflow.md)")


def missing_kernels() -> list[str]:
    """Registered canonical algorithms with neither a kernel nor an entry in :data:`UNSUPPORTED`."""
    from optbridge.algorithms import algorithm_registry

    return sorted(name for name in algorithm_registry if name not in KERNELS and name not in UNSUPPORTED)


def unsupported() -> dict[str, str]:
    """What ``Backend.unsupported`` declares: :data:`UNSUPPORTED` plus algorithms still missing a kernel."""
    return {**{name: NO_KERNEL_YET for name in missing_kernels()}, **UNSUPPORTED}


__all__ = ["KERNELS", "UNSUPPORTED", "NO_KERNEL_YET", "Kernel", "KernelRef", "flag", "missing_kernels",
           "resolve_kernel", "unsupported"]
