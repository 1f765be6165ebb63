"""JAX kernel for canonical ``asgd`` (op order: ``optbridge.algorithms.asgd``)."""
from __future__ import annotations


def asgd(alg, params, grads, slots, scalars):
    """Averaged SGD; the average ``ax`` follows ``p`` until averaging starts (``mu != 1``)."""
    decay, eta, mu = scalars["decay"], scalars["eta"], scalars["mu"]
    new_params, averages = [], []
    for p, g, ax in zip(params, grads, slots["ax"]):
        p = p * decay
        p = p - eta * g
        ax = ax + (p - ax) * mu if scalars["average"] else p
        new_params.append(p)
        averages.append(ax)
    return new_params, {"ax": averages}
