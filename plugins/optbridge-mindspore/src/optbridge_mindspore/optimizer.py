"""The MindSpore backend's optimizer: ``Parameter``\\ s of a network, trained in place.

Written on the public backend base (:class:`optbridge.base_optimizer.BaseOptimizer`):
the MindSpore ops namespace (:mod:`optbridge_mindspore.ops`) and the array adapters
below. The base does the rest: gradients by name or in parameter order, the engine's
plan and commit, slot allocation, the neutral ``state_dict`` / ``load_state_dict``.

The step runs eagerly: the engine's host scalars and schedules are Python between
kernels. Called from a Python loop it runs in PYNATIVE_MODE and also when the context is
GRAPH_MODE (MindSpore runs kernels outside a compiled cell eagerly, so
``grad_fn = mindspore.jit(mindspore.value_and_grad(...))`` may be compiled). Compiled into
a graph (``nn.TrainOneStepCell`` or ``Model`` in GRAPH_MODE) it cannot run:
:data:`refuse_compiling` raises a :class:`~optbridge.errors.BackendError` naming the mode
while MindSpore compiles the graph.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor
from mindspore.ops import constexpr

from optbridge.base_optimizer import BaseOptimizer
from optbridge.errors import BackendError
from optbridge.spec import OptimizerSpec

from . import ops as ms_ops

__all__ = ["MindSporeOptimizer", "check_mode", "refuse_compiling"]

DTYPES = ("float32", "float64")


def check_mode(what: str) -> None:
    """Refuse GRAPH_MODE for ``what``, a use that compiles the optimizer into a graph.

    Raises:
        BackendError: (a ``RuntimeError``) the context is GRAPH_MODE.
    """
    if ms.get_context("mode") == ms.GRAPH_MODE:
        raise BackendError(
            f"{what}: the optbridge MindSpore optimizer cannot be compiled into a GRAPH_MODE graph (its "
            f"schedules and step counter are Python between kernels); call "
            f"mindspore.set_context(mode=mindspore.PYNATIVE_MODE), or keep GRAPH_MODE for the network "
            f"(grad_fn = mindspore.jit(mindspore.value_and_grad(...))) and call opt(grads) in a Python loop")


class _RefuseCompiling(constexpr(check_mode, get_instance=False, reuse_result=False)):
    """``check_mode`` as a MindSpore constant op: its ``infer_value`` runs while a graph is
    compiled (and raises there), an eager call does nothing."""

    def __call__(self, what: str) -> None:
        return None


#: ``refuse_compiling(what)``: raises :class:`BackendError` when MindSpore compiles a graph
#: that calls it (``nn.TrainOneStepCell`` or ``Model`` in GRAPH_MODE); a no-op in eager code.
refuse_compiling = _RefuseCompiling()


@ms.jit_class
class MindSporeOptimizer(BaseOptimizer):
    """Optimizer over MindSpore ``Parameter``\\ s (float32 or float64), updated in place.

    Args:
        spec: a canonical :class:`~optbridge.spec.OptimizerSpec`.
        params: ``net.parameters_and_names()``, ``net.trainable_params()`` (named by
            ``Parameter.name``), ``{name: Parameter}`` or ``(name, Parameter)`` pairs.
        kernels: ``{algorithm name: kernel}``, fast paths other plugins add
            (``optbridge_kernels``): ``kernel(algorithm, params, grads, slots, scalars)``
            with pre-processed gradients and scalars as 0-d tensors, rebinding the lists.

    ``opt(grads)`` and ``opt.step(grads)`` take what ``mindspore.grad`` /
    ``value_and_grad`` return for :attr:`parameters` (a tuple in that order) or
    ``{name: Tensor}``; a gradient that is missing or does not fit its parameter raises
    ``StepInputError`` (a ``ValueError``) before anything changes. :attr:`parameters` and
    calling make the optimizer usable where ``nn.TrainOneStepCell`` expects an optimizer;
    :meth:`cell` gives an ``nn.Optimizer`` for ``Model``.

    Raises:
        SpecTypeError: (a ``TypeError``) a parameter is not a float32/float64 tensor.
        GroupError: the spec's groups do not resolve against the names.
    """

    ops: ClassVar[Any] = ms_ops
    backend_name = "mindspore"

    def __init__(self, spec: OptimizerSpec, params: Any, kernels: Mapping[str, Callable[..., Any]] | None = None):
        self.kernels = dict(kernels or {})
        super().__init__(spec, params)

    # -- array adapters --------------------------------------------------------------------
    def named_params(self, params: Any) -> list[tuple[str, Any]]:
        """Pairs or a mapping as the base takes them; a sequence of ``Parameter``\\ s is named
        by ``Parameter.name`` (``net.trainable_params()``)."""
        if isinstance(params, Iterable) and not isinstance(params, (Mapping, str, bytes, Tensor)):
            params = list(params)
            if params and all(isinstance(p, Parameter) for p in params):
                return [(p.name, p) for p in params]
        return super().named_params(params)

    def check_param(self, name: str, array: Any) -> str | None:
        if not isinstance(array, Tensor):
            return f"it must be a mindspore Parameter or Tensor. Received: {type(array).__name__}"
        if ms_ops.dtype_of(array) not in DTYPES:
            return f"its dtype must be float32 or float64. Received: {ms_ops.dtype_of(array)}"
        return None

    def check_gradient(self, name: str, grad: Any, param: Tensor) -> str | None:
        if not isinstance(grad, Tensor):
            return f"must be a mindspore Tensor. Received: {type(grad).__name__}"
        return super().check_gradient(name, grad, param)

    def to_numpy(self, array: Tensor) -> np.ndarray:
        return np.array(array.asnumpy(), copy=True)

    def from_numpy(self, value: np.ndarray, like: Tensor) -> Tensor:
        return Tensor(np.array(value, dtype=ms_ops.dtype_of(like)))

    def fast_path(self, bucket: Any, params: Any) -> Callable[..., None] | None:
        kernel = self.kernels.get(bucket.algorithm.name)
        if kernel is None:
            return None

        def run(bucket: Any, params: list, grads: list, slots: dict, scalars: Mapping[str, Any]) -> None:
            kernel(bucket.algorithm, params, self.preprocess(bucket, params, grads), slots, scalars)
        return run

    # -- MindSpore's calling conventions ---------------------------------------------------------
    @property
    def parameters(self) -> tuple[Tensor, ...]:
        """The trained parameters in :attr:`param_names` order (``nn.Optimizer.parameters``;
        with groups, MindSpore's order: group by group, then ``order_params``)."""
        return tuple(self.params[n] for n in self.param_names)

    def __call__(self, grads: Any) -> Tensor:
        """``step(grads)``, returning ``Tensor(True)`` like ``nn.Optimizer.construct``.

        Raises:
            BackendError: while MindSpore compiles a GRAPH_MODE graph calling it.
        """
        refuse_compiling("optbridge MindSpore optimizer in a GRAPH_MODE graph")
        self.step(grads)
        return Tensor(True)

    def cell(self) -> Any:
        """This optimizer as an ``nn.Optimizer`` (``Model(net, loss_fn, optimizer=opt.cell())``)."""
        from .cell import OptimizerCell

        return OptimizerCell(self)
