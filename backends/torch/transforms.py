"""The gradient pipeline on torch tensors (``OptimizerSpec.transforms``, :mod:`optbridge.transforms`).

Every transform runs its shared formula over the torch ops namespace, except
:class:`~optbridge.transforms.ClipByGlobalNorm` in its torch form, which calls the function
``torch.nn.utils.clip_grad_norm_`` calls for the total norm (``torch.nn.utils.get_total_norm``:
``torch._foreach_norm`` per device and dtype, then the norm of the stacked norms) and scales
with ``torch._foreach_mul_`` **in place**, as ``clip_grad_norm_`` does, so that a spec with the
transform gives on this backend exactly the numbers of ``clip_grad_norm_`` followed by
``optimizer.step()`` in a torch loop, at its cost: no new gradient-sized tensors each step;
and :class:`~optbridge.transforms.ExponentialMovingAverage` in its torch form, which runs
``AveragedModel``'s ``torch._foreach_lerp_``.
The shared formula's sums run in NumPy's order instead (the reference's, within the
conformance suite's float32 tolerance of torch's).

What is written: the torch form of the global clip scales the tensors it is given. First in
the pipeline, those are the parameters' own ``.grad`` (in flat mode, their views of the
gradient buffer), which then hold what ``clip_grad_norm_`` would leave in them, bit for bit;
after another transform they are that transform's new tensors. A gradient whose elements
share memory (an expanded tensor, where ``clip_grad_norm_`` raises) is scaled into a new
tensor instead. Every other transform returns new tensors and writes nothing. FSDP2
gradients (DTensors) go through torch's total norm and the in-place clip as they are
(the total norm of sharded gradients is then torch's: the norm of each process's partial
norms, as ``clip_grad_norm_`` computes it on DTensors, which may differ from the unsharded
norm in the last bit);
a shared formula that reduces over a tensor (Keras's per-tensor and global norms) runs on
the whole gradients and keeps each process's shard, as the whole-tensor rules do
(:mod:`optbridge.backends.torch.sharded`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from optbridge.transforms import ClipByGlobalNorm, ClipByValue, ExponentialMovingAverage, GradientTransform
from optbridge.transforms import transform_gradients as shared_transform_gradients
from optbridge.transforms.pipeline import PipelineCall, stateful

from . import ops as torch_ops
from .sharded import is_sharded, shard_like, whole

__all__ = ["transform_gradients", "apply_transform", "after_transform", "unsupported", "unsupported_sharded"]


def _writable(g: torch.Tensor) -> bool:
    """Whether ``g.mul_`` may run: no two elements of ``g`` share memory (torch refuses an
    in-place write into an expanded tensor; ``_debug_has_internal_overlap`` returns 1 there)."""
    return g.is_contiguous() or torch._debug_has_internal_overlap(g) != 1


def _clip_by_global_norm_torch(transform: ClipByGlobalNorm, grads: list[torch.Tensor]) -> list[torch.Tensor]:
    """``clip_grad_norm_(…, max_norm, norm_type)`` on ``grads`` (``torch/nn/utils/clip_grad.py``:
    ``_get_total_norm`` and ``_clip_grads_with_norm_``): each gradient scaled in place, or into
    a new tensor where it cannot be written; returns the scaled gradients."""
    total = torch.nn.utils.get_total_norm(grads, transform.norm_type, False, None)
    coefficient = torch.clamp(transform.max_norm / (total + 1e-6), max=1.0)
    out: list[torch.Tensor] = list(grads)
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for i, g in enumerate(grads):
        groups.setdefault((g.device, g.dtype), []).append(i)
    for (device, _), indices in groups.items():
        c = coefficient.to(device)
        torch._foreach_mul_([grads[i] for i in indices if _writable(grads[i])], c)
        for i in indices:
            if not _writable(grads[i]):
                out[i] = grads[i] * c
    return out


def apply_transform(transform: GradientTransform, grads: list[torch.Tensor]) -> list[torch.Tensor]:
    """One transform on torch tensors (see the module docstring)."""
    if isinstance(transform, ClipByGlobalNorm) and transform.form == "torch":
        return _clip_by_global_norm_torch(transform, grads)
    if any(map(is_sharded, grads)) and not isinstance(transform, ClipByValue):
        # FSDP2: a shared formula that reduces over a tensor runs on the whole gradients,
        # then each process keeps its shard (the unsharded numbers)
        new = transform.apply(torch_ops, [whole(g) for g in grads])
        return [shard_like(n, g) if is_sharded(g) else n for n, g in zip(new, grads)]
    return transform.apply(torch_ops, grads)


def after_transform(transform: GradientTransform, params: list[torch.Tensor],
                    call: PipelineCall) -> list[torch.Tensor] | None:
    """A torch-form EMA as ``AveragedModel`` + ``get_ema_multi_avg_fn`` computes it
    (``torch._foreach_lerp_``, whose CPU kernel rounds through a fused multiply-add where it
    vectorises, unlike the shared formula's separate roundings); ``None`` for the others."""
    if not (isinstance(transform, ExponentialMovingAverage) and transform.form == "torch"):
        return None
    averages = call.slots["average"]
    n = int(call.state["n_averaged"])
    with torch.no_grad():
        if n == 0:
            torch._foreach_copy_(averages, [p.detach() for p in params])
        else:
            torch._foreach_lerp_(averages, [p.detach() for p in params], 1.0 - transform.momentum)
    call.state = {"n_averaged": n + 1}
    return params


def transform_gradients(transforms: Sequence[GradientTransform], grads: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``grads`` (every gradient of the step, in parameter order) after ``transforms``."""
    return shared_transform_gradients(torch_ops, transforms, grads, apply_transform)


def unsupported(transforms: Sequence[GradientTransform], capturable: bool, partition: bool = False) -> Any:
    """Why this optimizer cannot run ``transforms`` (``capturable=True``, or a global norm with
    ``partition=True``), or ``None``."""
    if not transforms:
        return None
    listed = ", ".join(t.describe() for t in transforms)
    if partition and any(isinstance(t, ClipByGlobalNorm) for t in transforms):
        return (f"partition=True (ZeRO) steps this process's share of the parameters only, so a global norm over its "
                f"gradients is not the model's ({listed}); clip the whole model's gradients before step() "
                f"(torch.nn.utils.clip_grad_norm_(model.parameters(), ...)) instead")
    if capturable:
        return (f"capturable=True does not run the spec's gradient transforms ({listed}) yet; build without "
                f"capturable=True, or clip in the training step before optimizer.step()")
    if partition and stateful(transforms):
        return (f"partition=True (ZeRO) steps this process's share of the parameters only, so a loss scaler's "
                f"finite check or an accumulation count would differ between processes ({listed})")
    return None


def unsupported_sharded(transforms: Sequence[GradientTransform]) -> Any:
    """Why FSDP2 (DTensor) parameters cannot run ``transforms``, or ``None``: the stateful
    transforms are not run on shards yet."""
    if stateful(transforms):
        listed = ", ".join(t.describe() for t in transforms if t.slot_fills() or t.initial_state())
        return (f"FSDP2 (DTensor) parameters do not run the stateful gradient transforms ({listed}) yet: their "
                f"finite checks and accumulators would need the processes' collectives")
    return None
