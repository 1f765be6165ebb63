"""JAX kernel for canonical ``sgd`` (op order: ``optbridge.algorithms.sgd``)."""
from __future__ import annotations


def sgd(alg, params, grads, slots, scalars):
    """SGD with momentum, dampening and both Nesterov forms; returns ``(params, slots)``."""
    lr = scalars["lr"]
    if alg.momentum == 0.0:
        return [p - lr * g for p, g in zip(params, grads)], slots
    mu = scalars["momentum"]
    d = scalars["one_minus_dampening"]
    new_params, buffers = [], []
    for p, g, b in zip(params, grads, slots["momentum_buffer"]):
        b = g if scalars["first_step"] else b * mu + d * g
        if not alg.nesterov:
            p = p - lr * b
        elif alg.nesterov_form == "scaled":
            p = p - (g * lr + b * mu * lr)
        else:
            p = p - lr * (g + mu * b)
        new_params.append(p)
        buffers.append(b)
    return new_params, {"momentum_buffer": buffers}
