"""JAX kernel for canonical ``rmsprop`` (op order: ``optbridge.algorithms.rmsprop``)."""
from __future__ import annotations

import jax.numpy as jnp

from ..ops import sqrt
from .adam import lerp
from .decay import kernel_decay


def rmsprop(alg, params, grads, slots, scalars):
    """RMSProp in torch's, MindSpore's or Keras' arithmetic; centered and momentum variants."""
    arithmetic = alg.arithmetic
    use_momentum = alg.momentum > 0
    rho, omr, eps, lr = scalars["alpha"], scalars["one_minus_alpha"], scalars["eps"], scalars["lr"]
    zero = jnp.zeros((), lr.dtype)
    out = {name: [] for name in slots}
    new_params = []
    for i, (p, g) in enumerate(zip(params, grads)):
        v = slots["square_avg"][i]
        p = kernel_decay(alg.weight_decay_form, p, scalars)
        if arithmetic == "torch":
            v = v * rho + omr * g * g
        elif arithmetic == "mindspore":
            v = v + (g * g - v) * omr
        else:
            v = rho * v + omr * (g * g)
        out["square_avg"].append(v)
        s = v
        if alg.centered:
            ga = slots["grad_avg"][i]
            if arithmetic == "torch":
                ga = lerp(ga, g, omr)
            elif arithmetic == "mindspore":
                ga = ga + (g - ga) * omr
            else:
                ga = rho * ga + omr * g
            out["grad_avg"].append(ga)
            s = v - ga * ga
        keep = None
        if alg.eps_placement == "outside":
            d = jnp.sqrt(s) + eps
        else:
            inner = s + eps
            if alg.centered and arithmetic == "mindspore":
                keep = inner > 0
            d = sqrt(inner)
        if alg.lr_placement == "outside":
            if use_momentum:
                b = slots["momentum_buffer"][i] * scalars["momentum"] + g / d
                out["momentum_buffer"].append(b)
                p = p - lr * b
            else:
                p = p - lr * g / d
            new_params.append(p)
            continue
        u = g * lr / d
        if keep is not None:
            u = jnp.where(keep, u, zero)
        if use_momentum:
            b = slots["momentum_buffer"][i]
            if keep is None:
                b = b * scalars["momentum"] + u
                p = p - b
            else:
                b = jnp.where(keep, b * scalars["momentum"] + u, b)
                p = jnp.where(keep, p - b, p)
            out["momentum_buffer"].append(b)
        else:
            p = p - u
        new_params.append(p)
    return new_params, out
