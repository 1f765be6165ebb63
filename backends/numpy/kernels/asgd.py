"""NumPy kernel for canonical ``asgd`` (op order: optbridge.algorithms.asgd)."""
from __future__ import annotations


def asgd(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` and the averages ``slots["ax"]`` in place."""
    for p, g, ax in zip(params, grads, slots["ax"]):
        t = p.dtype.type
        p *= t(scalars["decay"])
        p -= t(scalars["eta"]) * g
        if scalars["average"]:
            ax += (p - ax) * t(scalars["mu"])
        else:
            ax[...] = p
