"""The check every torch path makes on a parameter's ``.grad`` before it steps."""
from __future__ import annotations

import torch

from optbridge.errors import StepInputError

__all__ = ["check_gradient"]


def check_gradient(name: str, param: torch.Tensor, grad: torch.Tensor) -> None:
    """Refuse a gradient that the parameter's update cannot read as its own.

    Raises:
        StepInputError: ``grad`` is sparse, or its shape, dtype or device differs from
            ``param``'s (a dtype can differ once ``param.grad_dtype`` is ``None``). Its
            memory layout may differ: each path reads or copies it by strides.
    """
    if grad.is_sparse:
        raise StepInputError(f"step: gradient of {name!r} is sparse; the torch backend needs dense gradients")
    differs = [what for what, a, b in (("shape", grad.shape, param.shape), ("dtype", grad.dtype, param.dtype),
                                       ("device", grad.device, param.device)) if a != b]
    if differs:
        raise StepInputError(
            f"step: gradient of {name!r} is {tuple(grad.shape)} {grad.dtype} on {grad.device}; the "
            f"parameter is {tuple(param.shape)} {param.dtype} on {param.device} ({' and '.join(differs)} differ"
            f"{'s' if len(differs) == 1 else ''})")
