"""Elementwise building blocks shared by several NumPy kernels."""
from __future__ import annotations

import numpy as np

__all__ = ["torch_lerp_"]


def torch_lerp_(a: np.ndarray, b: np.ndarray, weight: float) -> None:
    """In place ``a = lerp(a, b, weight)`` as ATen computes it (``aten/src/ATen/native/Lerp.h``):
    ``a + w·(b − a)`` when ``|w| < 0.5``, else ``b − (b − a)·(1 − w)``, in ``a``'s dtype."""
    t = a.dtype.type
    w = t(weight)
    diff = b - a
    if abs(w) < t(0.5):
        a += w * diff
    else:
        a[...] = b - diff * (t(1.0) - w)
