"""optbridge-jax: the ``jax`` backend of optbridge.

Functional, like JAX: the optimizer's ``step(grads)`` returns new parameters and keeps
its state as JAX arrays; every bucket of parameters runs as one jitted XLA computation
following the canonical op order, so CPU results are bitwise those of optbridge's NumPy
reference, in float32 and (with ``jax_enable_x64``) float64.

::

    import optbridge, optbridge_jax
    from optbridge.dialects.mindspore import nn

    opt = optbridge.build(nn.Adam(None, learning_rate=1e-3), params)   # params: a pytree of jax arrays
    params = opt.step(grads)

    tx = optbridge_jax.transform(nn.Adam(None, learning_rate=1e-3))   # Optax-style pair
    state = tx.init(params)
    updates, state = tx.update(grads, state, params)
"""
from __future__ import annotations

from typing import Any

from .optimizer import JaxOptimizer
from .step import EXACT_OPTIONS
from .transform import GradientTransformation, OptState, transform

__version__ = "0.1.0"

__all__ = ["build", "JaxOptimizer", "transform", "GradientTransformation", "OptState", "EXACT_OPTIONS", "__version__"]


def build(spec: Any, params: Any, *, fma: bool = False) -> JaxOptimizer:
    """``optbridge.build(spec, params, backend="jax")``, with the JAX-only ``fma`` option.

    Fast paths added to the ``jax`` backend by other plugins (``optbridge_kernels``) are
    used too.
    """
    import optbridge
    from optbridge.dialects.base import DialectOptimizer

    canonical = spec.to_canonical() if isinstance(spec, DialectOptimizer) else spec
    return JaxOptimizer(canonical, params, optbridge.get_backend("jax").kernels, fma=fma)
