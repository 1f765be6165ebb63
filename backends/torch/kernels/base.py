"""The torch kernel contract: one :class:`TorchKernel` per canonical algorithm.

A kernel has two faces:

* ``update(alg, params, grads, slots, scalars)`` — the canonical op order of the
  algorithm (its ``core/algorithms/<name>.py`` docstring), written with torch in-place
  tensor ops, one tensor at a time. It runs eagerly on the *reference* path and is the
  function ``torch.compile`` traces on the *compiled* path, so both paths execute the
  same op order. ``update`` reads only *structural* hyperparameters from ``alg``
  (booleans, form strings, ``momentum == 0``); every number comes from ``scalars``, so
  a new value never changes the compiled graph. ``scalars`` maps each host scalar to a
  0-d tensor in the compute dtype
  (Python ``bool`` flags such as ``first_step`` stay Python values); ``slots`` maps
  each slot name to the list of state tensors in parameter order.
* ``native(alg)`` (optional) — ``None`` unless the algorithm's canonical formula, with
  these hyperparameters, is exactly the formula of one of torch's own multi-tensor
  kernels (``torch._fused_*`` / ``torch._foreach_*``). Then it returns
  ``run(alg, params, grads, slots, scalars, negate, weight_decay)`` calling that kernel
  (``alg``: this step's algorithm, whose values a bound scheduler may change), with
  ``scalars`` as Python numbers plus ``step`` (the 1-based global step, for torch
  kernels that compute bias corrections themselves). ``negate`` (torch's ``maximize``) and ``weight_decay``
  (coupled, ``g + wd·p``) are the pre-processing steps the native kernel must apply
  first, in that order; the optimizer passes ``False``/``0.0`` when it has already
  pre-processed the gradients (centralization or a loss scale follow the decay).

A kernel whose op order ``torch.compile`` cannot express as one graph (a loop over a
tensor's elements, a host value) says so with ``compilable(alg) -> False``: the
``"compiled"`` and ``"auto"`` paths then run its ``update`` eagerly, exactly as the
``"reference"`` path does.

Neither face validates or allocates beyond what the formula needs: the optimizer checks
everything at build time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch

__all__ = ["TorchKernel", "as_kernel"]

Update = Callable[[Any, Sequence[torch.Tensor], Sequence[torch.Tensor], Mapping[str, Sequence[torch.Tensor]],
                   Mapping[str, Any]], None]
Native = Callable[[Any, Sequence[torch.Tensor], Sequence[torch.Tensor], Mapping[str, Sequence[torch.Tensor]],
                   Mapping[str, Any], bool, float], None]


@dataclass(frozen=True)
class TorchKernel:
    """A canonical algorithm's torch kernel.

    Attributes:
        name: the canonical algorithm name.
        update: the per-tensor canonical op order (reference path; traced when compiled).
        native: ``native(alg) -> run | None``; see the module docstring.
        elementwise: ``False`` when the op order reduces over each tensor (LAMB's and
            LARS' trust ratios): flat-buffer mode then keeps the bucket per tensor.
        compilable: ``compilable(alg) -> bool``, ``False`` for hyperparameters whose op
            order must run eagerly (see the module docstring); ``None``: always compilable.
    """

    name: str
    update: Update
    native: Callable[[Any], Native | None] | None = None
    elementwise: bool = True
    compilable: Callable[[Any], bool] | None = None

    def native_for(self, alg: Any) -> Native | None:
        """torch's own kernel for these hyperparameters, or ``None``."""
        return None if self.native is None else self.native(alg)

    def compiles(self, alg: Any) -> bool:
        """Whether the compiled path may ``torch.compile`` ``update`` for these hyperparameters."""
        return self.compilable is None or bool(self.compilable(alg))


def as_kernel(name: str, kernel: Any) -> TorchKernel:
    """Accept a :class:`TorchKernel` or a bare ``update`` function (plugin-added kernels)."""
    if isinstance(kernel, TorchKernel):
        return kernel
    if callable(kernel):
        return TorchKernel(name=name, update=kernel)
    raise TypeError(f"torch kernel for {name!r} must be a TorchKernel or a callable. Received: {type(kernel).__name__}")
