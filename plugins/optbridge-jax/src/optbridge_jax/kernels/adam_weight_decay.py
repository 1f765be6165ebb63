"""JAX kernel for canonical ``adam_weight_decay`` (op order: its algorithm module)."""
from __future__ import annotations

import jax.numpy as jnp


def adam_weight_decay(alg, params, grads, slots, scalars):
    """MindSpore AdamWeightDecay: no bias correction, decay inside the update."""
    one_minus_beta1, one_minus_beta2 = scalars["one_minus_beta1"], scalars["one_minus_beta2"]
    eps, lr, wd = scalars["eps"], scalars["lr"], scalars["weight_decay"]
    new_params, ms, vs = [], [], []
    for p, g, m, v in zip(params, grads, slots["exp_avg"], slots["exp_avg_sq"]):
        m = m + (g - m) * one_minus_beta1
        v = v + (g * g - v) * one_minus_beta2
        update = m / (jnp.sqrt(v) + eps)
        # The reference skips the decay term when wd == 0 (a traced number: a select, not an if).
        update = jnp.where(wd != 0, update + wd * p, update)
        new_params.append(p - lr * update)
        ms.append(m)
        vs.append(v)
    return new_params, {"exp_avg": ms, "exp_avg_sq": vs}
