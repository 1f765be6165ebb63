"""JAX kernel for canonical ``rprop`` (op order: ``optbridge.algorithms.rprop``)."""
from __future__ import annotations

import jax.numpy as jnp


def rprop(alg, params, grads, slots, scalars):
    """Rprop: per-element step sizes grown or shrunk by the sign of ``g·prev``."""
    etaplus, etaminus = scalars["etaplus"], scalars["etaminus"]
    new_params, prevs, steps = [], [], []
    for p, g, prev, step in zip(params, grads, slots["prev"], slots["step_size"]):
        if scalars["first_step"]:
            step = jnp.full(step.shape, scalars["lr"], step.dtype)
        s = jnp.sign(g * prev)
        one = jnp.ones((), p.dtype)
        factor = jnp.where(s > 0, etaplus, jnp.where(s < 0, etaminus, one))
        step = jnp.clip(step * factor, scalars["step_size_min"], scalars["step_size_max"])
        accepted = jnp.where(factor == etaminus, jnp.zeros((), p.dtype), g)
        new_params.append(p - jnp.sign(accepted) * step)
        prevs.append(accepted)
        steps.append(step)
    return new_params, {"prev": prevs, "step_size": steps}
