"""JAX kernel for canonical ``radam`` (op order: ``optbridge.algorithms.radam``)."""
from __future__ import annotations

import jax.numpy as jnp

from ..ops import div as divide
from .adam import update_moments
from .decay import kernel_decay


def radam(alg, params, grads, slots, scalars):
    """RAdam: the rectified adaptive step once the variance is tractable, SGD with momentum before."""
    new_params, ms, vs = [], [], []
    for p, g, m, v in zip(params, grads, slots["exp_avg"], slots["exp_avg_sq"]):
        p = kernel_decay(alg.weight_decay_form, p, scalars)
        m, v = update_moments(alg, g, m, v, scalars)
        m_hat = divide(m, scalars["bias_correction1"])
        if scalars["rectified"]:
            denom = jnp.sqrt(v) + scalars["eps"]
            adaptive = (jnp.ones((), p.dtype) / denom) * scalars["bc2_sqrt"]
            p = p - ((m_hat * scalars["lr"]) * adaptive) * scalars["rect"]
        else:
            p = p - m_hat * scalars["lr"]
        new_params.append(p)
        ms.append(m)
        vs.append(v)
    return new_params, {"exp_avg": ms, "exp_avg_sq": vs}
