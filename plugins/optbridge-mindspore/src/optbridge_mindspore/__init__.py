"""optbridge-mindspore: the ``mindspore`` backend of optbridge.

Trains a network's ``Parameter``\\ s in place, in PYNATIVE mode, with every canonical
optimizer algorithm's shared update rule over MindSpore kernels; CPU results are bitwise
those of optbridge's NumPy reference in float32 and float64.

::

    import optbridge
    from optbridge.dialects.torch import optim

    opt = optbridge.build(optim.AdamW(None, lr=1e-3), net.trainable_params())
    grad_fn = mindspore.value_and_grad(forward, None, opt.parameters)
    loss, grads = grad_fn(x, y)
    opt(grads)                                      # or opt.step(grads), opt.step({name: grad})
"""
from __future__ import annotations

from .cell import OptimizerCell
from .optimizer import MindSporeOptimizer, check_mode, refuse_compiling

__version__ = "0.1.0"

__all__ = ["MindSporeOptimizer", "OptimizerCell", "check_mode", "refuse_compiling", "__version__"]
