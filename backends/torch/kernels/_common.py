"""Op-order helper of the torch kernels that remain (the kernel-side weight decay)."""
from __future__ import annotations

import torch

__all__ = ["kernel_decay"]


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
