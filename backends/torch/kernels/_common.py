"""Op-order helpers shared by several torch kernels (mirrors the NumPy kernels' helpers)."""
from __future__ import annotations

import torch

__all__ = ["kernel_decay", "lerp_", "update_moments"]


def kernel_decay(form: str, p: torch.Tensor, s) -> None:
    """Step 0 of a kernel: ``p ← p·decay`` (decoupled) or ``p ← p − (p·wd)·lr`` (Keras).

    The NumPy reference skips it when ``wd == 0``; here it always runs, because
    ``p·1`` and ``p − (p·0)·lr`` leave every finite ``p`` unchanged and the compiled
    graph then has no branch on a value.
    """
    if form == "decoupled":
        p.mul_(s["decay"])
    elif form == "keras":
        p.sub_((p * s["weight_decay"]) * s["lr"])


def lerp_(m: torch.Tensor, g: torch.Tensor, w: torch.Tensor, small: bool) -> None:
    """torch's ``m.lerp_(g, w)`` with separate roundings: ``m + w·(g − m)`` when ``small``
    (``|w| < 0.5``), else ``g − (g − m)·(1 − w)``."""
    if small:
        m.add_(w * (g - m))
    else:
        m.copy_(g - (g - m) * (1.0 - w))


def update_moments(alg, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, s) -> None:
    """Steps 1–2 of adam/nadam/radam: the first and second moments in place."""
    if alg.moment_form == "torch":
        lerp_(m, g, s["one_minus_beta1"], abs(1.0 - alg.beta1) < 0.5)
        v.mul_(s["beta2"])
        v.add_((s["one_minus_beta2"] * g) * g)
    else:
        m.add_((g - m) * s["one_minus_beta1"])
        v.add_((g * g - v) * s["one_minus_beta2"])
