"""optbridge-mindspore: the ``mindspore`` backend of optbridge.

Trains a network's ``Parameter``\\ s in place, in PYNATIVE mode, with every canonical
optimizer algorithm's shared update rule over MindSpore kernels; CPU results are bitwise
those of optbridge's NumPy reference in float32 and float64. ``optbridge.build(spec,
net.trainable_params())`` returns a :class:`MindSporeOptimizer`; ``opt(grads)`` takes the
gradients ``mindspore.value_and_grad(forward, None, opt.parameters)`` returns, and
``opt.cell()`` is an ``nn.Optimizer`` for ``Model`` (the README's examples).
"""
from __future__ import annotations

from .cell import OptimizerCell
from .optimizer import MindSporeOptimizer, check_mode, refuse_compiling

__version__ = "0.1.0"

__all__ = ["MindSporeOptimizer", "OptimizerCell", "check_mode", "refuse_compiling", "__version__"]
