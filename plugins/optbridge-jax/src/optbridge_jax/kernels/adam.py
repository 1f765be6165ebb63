"""JAX kernel for canonical ``adam`` (op order: ``optbridge.algorithms.adam``), and the moment
update it shares with ``nadam`` and ``radam``."""
from __future__ import annotations

import jax.numpy as jnp

from ..ops import div as divide
from .decay import kernel_decay


def lerp(m, g, w):
    """torch's ``m.lerp_(g, w)`` with separate roundings: ``m + w·(g − m)`` for ``|w| < 0.5``,
    else ``g − (g − m)·(1 − w)``."""
    one = jnp.ones((), m.dtype)
    return jnp.where(jnp.abs(w) < 0.5, m + w * (g - m), g - (g - m) * (one - w))


def update_moments(alg, g, m, v, scalars):
    """Steps 1–2 of adam/nadam/radam: the new first and second moments."""
    if alg.moment_form == "torch":
        m = lerp(m, g, scalars["one_minus_beta1"])
        v = v * scalars["beta2"]
        return m, v + (scalars["one_minus_beta2"] * g) * g
    m = m + (g - m) * scalars["one_minus_beta1"]
    return m, v + (g * g - v) * scalars["one_minus_beta2"]


def adam(alg, params, grads, slots, scalars):
    """Adam (ε-hat or paper placement, AMSGrad, Nesterov, kernel-side decay); returns ``(params, slots)``."""
    out = {name: [] for name in slots}
    new_params = []
    for i, (p, g) in enumerate(zip(params, grads)):
        p = kernel_decay(alg.weight_decay_form, p, scalars)
        m, v = update_moments(alg, g, slots["exp_avg"][i], slots["exp_avg_sq"][i], scalars)
        if alg.amsgrad:
            vhat = jnp.maximum(slots["max_exp_avg_sq"][i], v)
            out["max_exp_avg_sq"].append(vhat)
            denom = jnp.sqrt(vhat)
        else:
            denom = jnp.sqrt(v)
        if alg.eps_placement == "paper":
            denom = divide(denom, scalars["bc2_sqrt"]) + scalars["eps"]
            p = p - scalars["step_size"] * m / denom
        else:
            denom = denom + scalars["eps"]
            if alg.nesterov and not alg.amsgrad:
                numer = m * scalars["beta1"] + scalars["one_minus_beta1"] * g
            else:
                numer = m
            p = p - scalars["step_size"] * numer / denom
        new_params.append(p)
        out["exp_avg"].append(m)
        out["exp_avg_sq"].append(v)
    return new_params, out
