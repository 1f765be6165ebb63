r"""Gradient clipping: by value, by norm per tensor, by the norm of all gradients together.

Each formula is the origin framework's, rounding for rounding (each operation in the
gradient's dtype; a Python-float argument rounded to that dtype first, as a framework does
when it meets a tensor):

* :class:`ClipByValue` -- ``torch.nn.utils.clip_grad_value_`` and Keras ``clipvalue``
  (``keras.ops.clip``): ``g ← min(max(g, −v), v)``; NaN stays NaN.
* :class:`ClipByNorm` -- Keras ``clipnorm``, per tensor (``BaseOptimizer._clip_by_norm``;
  ``tf.clip_by_norm`` on the TensorFlow backend, the same formula):

  1. ``s = Σ g·g``;
  2. ``n = √s`` where ``s > 0``, else ``s`` (0, or NaN);
  3. ``g ← (g·c) / max(n, c)``.

  Every gradient is multiplied and divided, also when ``n <= c`` (so it may move by an ulp).
* :class:`ClipByGlobalNorm` -- the norm of every gradient of the step at once. Two forms
  (a dialect axis, DIALECTS.md):

  ``form="torch"``: ``torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type)``
  (``torch/nn/utils/clip_grad.py``):

  1. ``nᵢ = ‖gᵢ‖`` per tensor: ``√(Σ g·g)`` for ``norm_type=2``, ``max |g|`` for ``inf``;
  2. ``N = ‖(n₁, …, n_k)‖`` with the same norm (``√(Σ nᵢ·nᵢ)``, or ``max nᵢ``);
  3. ``c = min((1 / (N + 1e-6))·max_norm, 1)`` (torch evaluates ``max_norm / t`` as
     ``t.reciprocal() * max_norm``: two roundings);
  4. ``gᵢ ← gᵢ·c`` (also when ``c = 1``; a NaN or infinite ``N`` gives NaN or 0 gradients).

  ``form="keras"``: Keras ``global_clipnorm`` (``keras/src/optimizers/base_optimizer.py``,
  ``clip_by_global_norm``):

  1. ``N = √(Σᵢ Σ gᵢ·gᵢ)``;
  2. ``c = max_norm · min(1/N, r)`` with ``r = 1/max_norm`` computed in float64 (a Python
     float) and then rounded to the gradient's dtype;
  3. ``c ← c + (N − N)`` (NaN when ``N`` is not finite);
  4. ``gᵢ ← gᵢ·c``.

The sums of several tensors' partial results run left to right in parameter order. Where
the gradients have different dtypes, the per-tensor results are combined in the widest,
and ``c`` is rounded to each gradient's dtype before the product.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from .base import GradientTransform, check_choice, check_positive, register_transform

__all__ = ["ClipByValue", "ClipByNorm", "ClipByGlobalNorm", "GLOBAL_NORM_FORMS"]

#: the forms of :class:`ClipByGlobalNorm`
GLOBAL_NORM_FORMS = ("torch", "keras")
#: ``torch.nn.utils.clip_grad_norm_``'s guard against a zero norm
TORCH_CLIP_EPS = 1e-6
_WIDTH = {"float16": 0, "bfloat16": 0, "float32": 1, "float64": 2}


def _widest(ops: Any, values: list[Any]) -> list[Any]:
    """``values`` (0-d arrays) converted to the widest dtype among them."""
    dtypes = [ops.dtype_of(v) for v in values]
    wide = max(dtypes, key=lambda d: _WIDTH.get(d, 1))
    if all(d == wide for d in dtypes):
        return values
    return [v if d == wide else ops.astype(v, wide) for v, d in zip(values, dtypes)]


def _combine_sum(values: list[Any]) -> Any:
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


def _scale_each(ops: Any, grads: list[Any], coefficient: Any) -> list[Any]:
    """``g·c`` for each gradient, ``c`` rounded to the gradient's dtype first."""
    kind = ops.dtype_of(coefficient)
    return [g * (coefficient if ops.dtype_of(g) == kind else ops.astype(coefficient, ops.dtype_of(g)))
            for g in grads]


@register_transform
@dataclasses.dataclass(frozen=True)
class ClipByValue(GradientTransform):
    """``g ← min(max(g, −clip_value), clip_value)``, elementwise (see the module docstring).

    Args:
        clip_value: a finite number > 0.
    """

    clip_value: float

    name = "clip_by_value"

    def __post_init__(self) -> None:
        object.__setattr__(self, "clip_value", check_positive("clip_by_value", "clip_value", self.clip_value))

    def apply(self, ops: Any, grads: list[Any]) -> list[Any]:
        out = []
        for g in grads:
            high = ops.scalar(self.clip_value, g)
            out.append(ops.minimum(ops.maximum(g, -high), high))
        return out


@register_transform
@dataclasses.dataclass(frozen=True)
class ClipByNorm(GradientTransform):
    """Keras ``clipnorm``: each tensor ``g ← (g·c) / max(‖g‖, c)`` (see the module docstring).

    Args:
        max_norm: ``c``, a finite number > 0.
    """

    max_norm: float

    name = "clip_by_norm"

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_norm", check_positive("clip_by_norm", "max_norm", self.max_norm))

    def apply(self, ops: Any, grads: list[Any]) -> list[Any]:
        out = []
        for g in grads:
            c = ops.scalar(self.max_norm, g)
            total = ops.sum(ops.square(g))
            positive = ops.greater(total, 0.0)
            norm = ops.where(positive, ops.sqrt(ops.where(positive, total, ops.full_like(total, 1.0))), total)
            out.append(ops.div(g * c, ops.maximum(norm, c)))
        return out


@register_transform
@dataclasses.dataclass(frozen=True)
class ClipByGlobalNorm(GradientTransform):
    """Scale every gradient by one factor so that their joint norm is at most ``max_norm``
    (see the module docstring for both forms).

    Args:
        max_norm: a finite number > 0.
        form: ``"torch"`` (``clip_grad_norm_``) or ``"keras"`` (``global_clipnorm``).
        norm_type: ``2.0`` or ``math.inf`` (``"inf"`` in a config); ``inf`` only with
            ``form="torch"``.
    """

    max_norm: float
    form: str = "torch"
    norm_type: float = 2.0

    name = "clip_by_global_norm"

    def __post_init__(self) -> None:
        owner = "clip_by_global_norm"
        object.__setattr__(self, "max_norm", check_positive(owner, "max_norm", self.max_norm))
        check_choice(owner, "form", self.form, GLOBAL_NORM_FORMS)
        norm_type = self.norm_type
        if isinstance(norm_type, str) and norm_type in ("inf", "Infinity"):
            norm_type = math.inf
        check_choice(owner, "norm_type", norm_type, (2.0, math.inf))
        if norm_type == math.inf and self.form == "keras":
            check_choice(owner, "norm_type (form 'keras')", norm_type, (2.0,))
        object.__setattr__(self, "norm_type", float(norm_type))

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.norm_type == math.inf:
            data["norm_type"] = "inf"
        return data

    def apply(self, ops: Any, grads: list[Any]) -> list[Any]:
        if self.form == "keras":
            return self._keras(ops, grads)
        return self._torch(ops, grads)

    def _torch(self, ops: Any, grads: list[Any]) -> list[Any]:
        if self.norm_type == math.inf:
            norms = _widest(ops, [ops.amax(ops.abs(g)) for g in grads])
            total = norms[0]
            for n in norms[1:]:
                total = ops.maximum(total, n)
        else:
            norms = _widest(ops, [ops.norm(g) for g in grads])
            total = ops.sqrt(_combine_sum([n * n for n in norms]))
        one = ops.scalar(1.0, total)
        # torch evaluates ``max_norm / t`` as ``t.reciprocal() * max_norm`` (``Tensor.__rtruediv__``)
        coefficient = ops.div(one, total + ops.scalar(TORCH_CLIP_EPS, total)) * ops.scalar(self.max_norm, total)
        coefficient = ops.minimum(coefficient, one)
        return _scale_each(ops, grads, coefficient)

    def _keras(self, ops: Any, grads: list[Any]) -> list[Any]:
        total = ops.sqrt(_combine_sum(_widest(ops, [ops.sum(ops.square(g)) for g in grads])))
        inverse = ops.div(ops.scalar(1.0, total), total)
        scale = ops.scalar(self.max_norm, total) * ops.minimum(inverse, ops.scalar(1.0 / self.max_norm, total))
        scale = scale + (total - total)
        return _scale_each(ops, grads, scale)
