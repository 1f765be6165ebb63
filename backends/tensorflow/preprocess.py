"""Gradient pre-processing in MindSpore ``Optimizer.construct`` order, as TensorFlow ops.

The same steps as the NumPy reference (``optbridge.backends.numpy.preprocess``):

0. negation (torch's ``maximize``): ``g = −g``
1. weight decay: ``g = p·wd + g``
2. gradient centralization: ``g = g − mean(g, axes 1..ndim−1)``
3. loss scale: ``g = g·(1/loss_scale)``

Which steps run is fixed when the step function is traced; the values (``wd``, the
reciprocal loss scale) are scalar tensors, so they can change without a retrace.
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

__all__ = ["preprocess_gradients"]


def preprocess_gradients(params: Sequence[tf.Variable], grads: Sequence[tf.Tensor], *, negate: bool, decay: bool,
                         weight_decay: tf.Tensor, centralize: bool, scale: bool, grad_scale: tf.Tensor) -> list[tf.Tensor]:
    """Return one bucket's pre-processed gradients."""
    out = [-g for g in grads] if negate else list(grads)
    if decay:
        out = [p * weight_decay + g for p, g in zip(params, out)]
    if centralize:
        out = [g - tf.reduce_mean(g, axis=list(range(1, g.shape.rank)), keepdims=True) for g in out]
    if scale:
        out = [g * grad_scale for g in out]
    return out
