"""NumPy kernel for canonical ``sgd`` (op order: optbridge.algorithms.sgd)."""
from __future__ import annotations

from ._decay import apply_kernel_decay


def sgd(alg, params, grads, slots, scalars) -> None:
    """Update ``params`` in place; ``slots["momentum_buffer"]`` holds the buffers."""
    for i, (p, g) in enumerate(zip(params, grads)):
        t = p.dtype.type
        lr = t(scalars["lr"])
        apply_kernel_decay(alg.weight_decay_form, p, scalars)
        if alg.momentum == 0.0:
            p -= lr * g
            continue
        b = slots["momentum_buffer"][i]
        mu = t(scalars["momentum"])
        if alg.momentum_form == "keras":
            b *= mu
            b -= g * lr
            if alg.nesterov:
                p += b * mu - g * lr
            else:
                p += b
            continue
        if scalars["first_step"]:
            b[...] = g
        else:
            b *= mu
            d = t(scalars["one_minus_dampening"])
            b += g if d == 1 else d * g
        if not alg.nesterov:
            p -= lr * b
        elif alg.nesterov_form == "scaled":
            p -= g * lr + b * mu * lr
        else:
            p -= lr * (g + mu * b)
