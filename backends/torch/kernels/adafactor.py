"""Torch kernel for canonical ``adafactor`` (op order: optbridge.algorithms.adafactor).

Mirrors the NumPy reference (``optbridge.backends.numpy.kernels.adafactor``) op for op,
one tensor at a time, for both arithmetics:

* ``arithmetic="torch"`` (``torch/optim/_adafactor.py`` ``_single_tensor_adafactor``):

  1. ``α = max(ε₂, ‖p‖/√n)·ρ`` (``scale_parameter``; else ``α = ρ``), with ``‖p‖``
     summed in float64 and rounded to the dtype (torch's ``p.norm(2).item()``);
  2. decoupled decay ``p·decay`` (``decay = 1`` when ``wd = 0``: exact);
  3. ``ndim >= 2``: ``R = lerp(R, ‖g‖²_row/n_col, 1−β₂ₜ)``,
     ``C = lerp(C, ‖g‖²_col/n_row, 1−β₂ₜ)``, ``v̂ = (R·C) / max(mean_rows(R), ε₁)``;
     else ``V = lerp(V, g·g, 1−β₂ₜ)``, ``v̂ = V`` (ATen's ``lerp``: ``a + w·(b−a)``
     for ``|w| < 0.5``, else ``b − (b−a)·(1−w)``, chosen with ``torch.where``);
  4. ``u = (1/√max(v̂, ε₁²))·g``;
  5. ``p = p + u·(−α / max(1, ‖u‖/(√n·d)))``, the step factor formed in float64 and
     rounded to the dtype.

  The torch reference does steps 1 and 5 on the host (``.item()``); here ``α``, the
  clip denominator and the step factor stay float64 0-d tensors on the parameter's
  device, so ``step()`` never synchronizes with a CUDA device. Host scalars arrive in
  the compute dtype: in float32, ``ρ``, ``ε₂`` and ``d`` enter the float64 step
  factor rounded to float32 (the NumPy reference uses their float64 values), which can
  move the float32 step factor by one ulp.

* ``arithmetic="mindspore"`` (MindSpore 2.10's CPU ``FusedAdaFactor``): ``q = g² + ε₁``;
  row and column statistics from **in-order sums** in the dtype (MindSpore's C loop
  ``sum += x[i]``); ``1e-30`` floors; RMS by MindSpore's ``CalcRMS`` (in-order sums over
  blocks of up to 1000 elements, block sums added in order); optional first moment
  ``β₁``; ``"mindspore"`` weight decay ``p − (u + p·wd·α)``. Every value stays a tensor
  on the parameter's device (no host synchronization).

**Not compiled.** An in-order sum has no vectorized torch equivalent: ``torch.cumsum``
accumulates float32 in float64 on CPU and scans in parallel on CUDA, so it rounds
differently from MindSpore's loop. The kernel writes each sum as a loop of additions
over the reduced axis (vectorized across the other axes), which ``torch.compile`` would
unroll into one graph node per element of the axis. The MindSpore arithmetic therefore
declares itself not compilable (``TorchKernel.compilable``): the ``"compiled"`` and
``"auto"`` paths run it eagerly, at one small kernel launch per summed element of the
longest reduced axis (and per 1000-element block of the RMS sums). The torch
arithmetic compiles.

Reductions of the torch arithmetic (row and column norms, ``mean_rows``, the float64
norms) use torch's summation order, which differs from NumPy's pairwise sums, so
float32 results can differ from NumPy's in the last bit. Both arithmetics reduce over
each tensor: the kernel is not elementwise, so flat-buffer mode keeps it per tensor.
``row_var``/``col_var`` hold the factored statistics broadcast to the parameter's shape.
"""
from __future__ import annotations

import math

import torch

from ._common import kernel_decay
from .base import TorchKernel

#: MindSpore's CPU kernel: floors of the statistics, and its block size for RMS sums.
_MS_FLOOR = 1e-30
_MS_BLOCK = 1000
_F64 = torch.float64


def _eps1(alg, dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps if alg.eps1 is None else alg.eps1


def _const(value: float, like: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``value`` as a 0-d tensor on ``like``'s device (a divisor on the device, never a host
    scalar: CUDA divides by a host scalar as a multiplication by its reciprocal)."""
    return torch.full((), value, dtype=like.dtype if dtype is None else dtype, device=like.device)


def _norm64(x: torch.Tensor) -> torch.Tensor:
    """``‖x‖`` summed in float64, rounded to ``x``'s dtype, as a float64 0-d tensor."""
    return torch.linalg.vector_norm(x, dtype=_F64).to(x.dtype).to(_F64)


def _lerp(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """ATen's ``lerp(a, b, w)`` with separate roundings, the branch on ``|w|`` taken on the device."""
    diff = b - a
    return torch.where(w.abs() < 0.5, a + w * diff, b - diff * (1.0 - w))


def _torch_step(alg, p, g, s, sc) -> None:
    eps1 = _eps1(alg, p.dtype)
    n = p.numel()
    sqrt_n = _const(n ** 0.5, p, _F64)
    rho = sc["rho"].to(_F64)
    alpha = rho
    if alg.scale_parameter:
        alpha = torch.maximum(sc["eps2"].to(_F64), _norm64(p) / sqrt_n) * rho
    if alg.weight_decay_form == "decoupled":
        kernel_decay("decoupled", p, sc)
    weight = sc["one_minus_beta2_t"]
    if p.dim() >= 2:
        row_var, col_var = s["row_var"], s["col_var"]
        rows, cols = p.shape[-2], p.shape[-1]
        row_norm = (g * g).sum(dim=-1, keepdim=True).sqrt()
        row = _lerp(row_var[..., :1], row_norm * row_norm / _const(cols, p), weight)
        col_norm = (g * g).sum(dim=-2, keepdim=True).sqrt()
        col = _lerp(col_var[..., :1, :], col_norm * col_norm / _const(rows, p), weight)
        row_var.copy_(row.expand_as(row_var))
        col_var.copy_(col.expand_as(col_var))
        row_mean = row.sum(dim=-2, keepdim=True) / _const(rows, p)
        estimate = (row * col) / torch.clamp_min(row_mean, eps1)
    else:
        variance = s["variance"]
        variance.copy_(_lerp(variance, g * g, weight))
        estimate = variance
    update = (1.0 / torch.clamp_min(estimate, eps1 * eps1).sqrt()) * g
    denom = torch.clamp_min(_norm64(update) / (sqrt_n * sc["clip_threshold"].to(_F64)), 1.0)
    p.add_((-alpha / denom).to(p.dtype) * update)


def _in_order_sum(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Left-to-right sum along ``dim`` in ``x``'s dtype (a C loop's ``sum += x[i]``),
    one vectorized addition per element of ``dim``."""
    parts = x.unbind(dim)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _mindspore_rms(x: torch.Tensor) -> torch.Tensor:
    """MindSpore's ``CalcRMS``: in-order sums over blocks of up to 1000 elements, block sums
    added in order, ``sqrt(sum / n)``, all in ``x``'s dtype (0-d tensor on ``x``'s device).

    The last block is padded with zeros, which leave an in-order sum of squares unchanged.
    """
    flat = (x * x).reshape(-1)
    total = flat.numel()
    size = math.ceil(total / max(1, math.ceil(total / _MS_BLOCK)))
    chunks = math.ceil(total / size)
    if chunks * size > total:
        flat = torch.cat([flat, flat.new_zeros(chunks * size - total)])
    block_sums = _in_order_sum(flat.view(chunks, size), 1)
    return (_in_order_sum(block_sums, 0) / _const(total, x)).sqrt()


def _mindspore_step(alg, p, g, s, sc) -> None:
    floor = _const(_MS_FLOOR, p)
    beta2_t = sc["beta2_t"]
    one_minus = 1.0 - beta2_t
    q = g * g + _eps1(alg, p.dtype) if alg.eps1_placement == "add" else g * g
    if p.dim() >= 2:
        rows, cols = p.shape[-2], p.shape[-1]
        row_var, col_var = s["row_var"], s["col_var"]
        row = row_var[..., 0] * beta2_t + _in_order_sum(q, -1) / _const(cols, p) * one_minus
        row_mean = torch.maximum(_in_order_sum(row, -1) / _const(rows, p), floor)
        r_factor = (row / row_mean.unsqueeze(-1)).sqrt()
        col = torch.maximum(col_var[..., 0, :] * beta2_t + _in_order_sum(q, -2) / _const(rows, p) * one_minus,
                            floor)
        row_var.copy_(row.unsqueeze(-1).expand_as(row_var))
        col_var.copy_(col.unsqueeze(-2).expand_as(col_var))
        update = g / torch.maximum(r_factor.unsqueeze(-1) * col.sqrt().unsqueeze(-2), floor)
    else:
        variance = s["variance"]
        variance.copy_(torch.maximum(variance * beta2_t + q * one_minus, floor))
        update = g / variance.sqrt()
    lr = sc["rho"]
    if alg.scale_parameter:
        lr = lr * torch.maximum(sc["eps2"], _mindspore_rms(p))
    update = update * (lr / torch.clamp_min(_mindspore_rms(update) / sc["clip_threshold"], 1.0))
    if alg.beta1 > 0:
        m = s["exp_avg"]
        beta1 = sc["beta1"]
        m.copy_(m * beta1 + update * (1.0 - beta1))
        update = m
    if alg.weight_decay_form == "decoupled":
        kernel_decay("decoupled", p, sc)
        p.sub_(update)
    else:
        wd = sc["weight_decay"]
        p.copy_(torch.where(wd != 0, p - (update + p * wd * lr), p - update))


def update(alg, params, grads, slots, s) -> None:
    """Canonical Adafactor in the algorithm's ``arithmetic``, one tensor at a time, in place."""
    step = _torch_step if alg.arithmetic == "torch" else _mindspore_step
    for i, (p, g) in enumerate(zip(params, grads)):
        step(alg, p, g, {name: tensors[i] for name, tensors in slots.items()}, s)


def compilable(alg) -> bool:
    """The torch arithmetic compiles; the MindSpore arithmetic's in-order sums do not (module docstring)."""
    return alg.arithmetic == "torch"


KERNEL = TorchKernel("adafactor", update, elementwise=False, compilable=compilable)
