"""Muon's torch arithmetic on torch tensors, with the rule's numbers and fewer passes.

The shared rule (:meth:`optbridge.algorithms.muon.Muon.newton_schulz_bf16`) carries each
bfloat16 value in a float32 tensor and converts each operand to float64 where a product
needs it: per Newton–Schulz iteration the ``d×n`` matrix ``X`` is converted to float64
four times and rounded to bfloat16 through three passes (float64 → float32 → bfloat16 →
float32). :func:`newton_schulz_bf16` runs the same operations on the same values in the
same memory layouts, keeping the bfloat16 values in bfloat16 tensors:

* ``X`` is converted to float64 once per iteration and serves as both factors of ``X·Xᵀ``
  (``x64`` and its transposed view have the strides of the rule's two conversions) and
  as the right factor of ``H·X``; the Gram matrix once, for both factors of ``G·G``;
* a rounding to bfloat16 is ``.to(float32).to(bfloat16)`` (float64 → float32 → bfloat16,
  the rule's two roundings; the rule's third pass back to float32 is exact);
* ``G·b + (G·G)·c`` and ``X·a + H·X`` are formed in float64 with the rule's roundings
  (a product, then the sum; ``u + v`` and ``v + u`` are the same float), on buffers the
  iteration owns (``mul_``/``add_``), and ``X·a + H·X`` out of place as the rule forms it,
  so its result takes the layout the rule's takes.

Each float64 product is ``torch.matmul`` of operands with the rule's values, dtypes and
strides: the same BLAS call, so the same sums, exact or not. The float64 products are
what the step costs; ``tests/test_torch_muon.py`` checks the function against the rule
bit for bit (tall, wide and square, float32 and float64 inputs) and the optimizer's
default path against ``path="reference"`` (the rule itself).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from . import ops as torch_ops

__all__ = ["newton_schulz_bf16", "update"]

_F32, _F64, _BF16 = torch.float32, torch.float64, torch.bfloat16


def newton_schulz_bf16(update: torch.Tensor, a: float, b: float, c: float, eps: float, steps: int) -> torch.Tensor:
    """The rule's steps 2-3 (``Muon.newton_schulz_bf16``) on ``update`` (a float32 or
    float64 matrix): its values exactly, as a bfloat16 tensor."""
    rows, cols = update.shape
    device = update.device
    x = update.to(_F32).to(_BF16)
    if rows > cols:
        x = x.transpose(-1, -2)
    x64 = x.to(_F64)
    norm = (x64 * x64).sum().sqrt().to(_F32).to(_BF16).to(_F32)
    x = torch.div(x.to(_F32), torch.maximum(norm, torch.full((), eps, dtype=_F32, device=device))).to(_BF16)
    a64, b64, c64 = (torch.full((), float(np.float32(v)), dtype=_F64, device=device) for v in (a, b, c))
    for _ in range(steps):
        x64 = x.to(_F64)
        gram = torch.matmul(x64, x64.transpose(-1, -2)).to(_F32).to(_BF16).to(_F64)
        mixed = torch.matmul(gram, gram).mul_(c64)
        h = torch.matmul(gram.mul_(b64).add_(mixed).to(_F32).to(_BF16).to(_F64), x64)
        x = (x64.mul_(a64) + h).to(_F32).to(_BF16)
    return x.transpose(-1, -2) if rows > cols else x


def update(alg: Any, params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor],
           slots: Mapping[str, Sequence[torch.Tensor]], s: Mapping[str, Any]) -> None:
    """One bucket's Muon step, in place: the rule (``Muon.update``) with its Newton–Schulz
    iterations run by :func:`newton_schulz_bf16` in the torch arithmetic; the rule itself
    in the Keras arithmetic."""
    params, grads, slots = list(params), list(grads), {k: list(v) for k, v in slots.items()}
    if alg.arithmetic != "torch":
        alg.update(torch_ops, params, grads, slots, s)
        return

    def orthogonalize(u: torch.Tensor) -> torch.Tensor:
        return newton_schulz_bf16(u, alg.ns_a, alg.ns_b, alg.ns_c, alg.eps, alg.ns_steps)

    alg.update_orthogonalized(torch_ops, params, grads, slots, s, orthogonalize)
