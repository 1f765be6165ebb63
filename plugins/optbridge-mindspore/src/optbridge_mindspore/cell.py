"""The optimizer as a ``mindspore.nn.Optimizer``, for ``Model(net, loss_fn, optimizer=...)``.

``Model`` (through ``amp.build_train_network``) accepts only ``nn.Optimizer`` instances;
:class:`OptimizerCell` is one whose ``construct(gradients)`` is the optbridge
optimizer's step over the same ``Parameter``\\ s. ``nn.TrainOneStepCell`` takes the
optbridge optimizer itself as well as this cell. Both run in PYNATIVE_MODE: compiling
either into a GRAPH_MODE graph raises a ``BackendError`` naming the mode.
"""
from __future__ import annotations

from typing import Any

from mindspore import Tensor, nn

from .optimizer import MindSporeOptimizer, refuse_compiling

__all__ = ["OptimizerCell"]


class OptimizerCell(nn.Optimizer):
    """``nn.Optimizer`` running ``optimizer`` (a :class:`MindSporeOptimizer`).

    The cell's own ``learning_rate`` Parameter holds the first group's initial rate and
    is not read: schedules, groups and the step counter are optbridge's
    (``cell.optbridge.get_lr()``, ``.state_dict()``).
    """

    def __init__(self, optimizer: MindSporeOptimizer):
        super().__init__(float(optimizer.get_lr()[0]), list(optimizer.parameters))
        self.optbridge = optimizer

    def construct(self, gradients: Any) -> Tensor:
        """``optimizer(gradients)``.

        Raises:
            BackendError: while MindSpore compiles a GRAPH_MODE graph calling it.
        """
        refuse_compiling("optbridge OptimizerCell in a GRAPH_MODE graph")
        return self.optbridge(gradients)
