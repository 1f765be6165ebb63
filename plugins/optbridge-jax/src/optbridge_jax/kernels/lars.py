"""JAX kernel for canonical ``lars`` (op order: ``optbridge.algorithms.lars``).

The trust-ratio step rewrites the gradients, then the JAX kernel of ``alg.inner`` runs
with them and ``scalars["inner"]``, inside the same jitted step.
"""
from __future__ import annotations

import jax.numpy as jnp

from ..ops import total


def _trust_scaled(alg, p, g, scalars):
    wd = scalars["weight_decay"]
    w_norm = jnp.sqrt(total(p * p))
    g_norm = jnp.sqrt(total(g * g))
    trust = (scalars["coefficient"] * w_norm) / ((w_norm * wd + g_norm) + scalars["epsilon"])
    if alg.use_clip:
        trust = jnp.maximum(jnp.minimum(trust / scalars["lr"], jnp.ones((), p.dtype)), jnp.zeros((), p.dtype))
    return (p * wd + g) * trust


def lars(alg, params, grads, slots, scalars):
    """Rewrite the gradients of a ``lars`` bucket, then update with ``alg.inner``'s kernel."""
    from ..step import KERNELS  # the step module imports this one

    if scalars["lars"]:
        grads = [_trust_scaled(alg, p, g, scalars) for p, g in zip(params, grads)]
    return KERNELS[alg.inner.name](alg.inner, params, grads, slots, scalars["inner"])
