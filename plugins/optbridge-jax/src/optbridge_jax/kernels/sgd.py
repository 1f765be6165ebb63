"""JAX kernel for canonical ``sgd`` (op order: ``optbridge.algorithms.sgd``)."""
from __future__ import annotations

from .decay import kernel_decay


def sgd(alg, params, grads, slots, scalars):
    """SGD with momentum (torch or Keras form), dampening and both Nesterov forms."""
    lr = scalars["lr"]
    new_params, buffers = [], []
    for i, (p, g) in enumerate(zip(params, grads)):
        p = kernel_decay(alg.weight_decay_form, p, scalars)
        if alg.momentum == 0.0:
            new_params.append(p - lr * g)
            continue
        b = slots["momentum_buffer"][i]
        mu = scalars["momentum"]
        if alg.momentum_form == "keras":
            b = b * mu
            b = b - g * lr
            p = p + (b * mu - g * lr) if alg.nesterov else p + b
        else:
            b = g if scalars["first_step"] else b * mu + scalars["one_minus_dampening"] * g
            if not alg.nesterov:
                p = p - lr * b
            elif alg.nesterov_form == "scaled":
                p = p - (g * lr + b * mu * lr)
            else:
                p = p - lr * (g + mu * b)
        new_params.append(p)
        buffers.append(b)
    return new_params, ({"momentum_buffer": buffers} if alg.momentum != 0.0 else slots)
