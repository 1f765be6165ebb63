"""Kernel-side weight decay of the ``"decoupled"`` and ``"keras"`` forms (optbridge.algorithms._decay)."""
from __future__ import annotations

from typing import Mapping

import numpy as np


def apply_kernel_decay(form: str, p: np.ndarray, scalars: Mapping) -> None:
    """Step 0 of a kernel: ``p ← p·decay`` (decoupled) or ``p ← p − (p·wd)·lr`` (Keras), in place."""
    wd = scalars["weight_decay"]
    if form == "coupled" or wd == 0:
        return
    t = p.dtype.type
    if form == "decoupled":
        p *= t(scalars["decay"])
    else:
        p -= (p * t(wd)) * t(scalars["lr"])
