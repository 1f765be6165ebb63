"""Kernel-side weight decay of the ``"decoupled"`` and ``"keras"`` forms (``optbridge.algorithms``
``weight_decay_form``), as the NumPy kernels apply it before their update."""
from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp


def kernel_decay(form: str, p: jax.Array, scalars: Mapping) -> jax.Array:
    """Step 0 of a kernel: ``p·decay`` (decoupled) or ``p − (p·wd)·lr`` (Keras); ``p`` when ``wd == 0``."""
    if form == "coupled":
        return p
    wd = scalars["weight_decay"]
    decayed = p * scalars["decay"] if form == "decoupled" else p - (p * wd) * scalars["lr"]
    return jnp.where(wd == 0, p, decayed)
