"""LARS (You, Gitman & Ginsburg 2017, "Large Batch Training of Convolutional Networks",
arXiv:1708.03888): a per-tensor trust ratio applied to the gradient of another algorithm.

Canonical algorithm ``"lars"``. It *holds* the wrapped algorithm (``inner``): LARS
rewrites each gradient, then ``inner``'s own update runs on it with ``inner``'s slots,
host state and scalars — as MindSpore's ``nn.LARS`` wraps an optimizer and calls it with
the rewritten gradients. The groups, learning rates and weight decays of the wrapped
optimizer drive it. Sources: MindSpore 2.10 ``nn.LARS`` and ``ops.LARSUpdate`` docs,
``mindspore/nn/optim/lars.py`` and the ``LarsV2Update`` Ascend kernel (the operator has no
CPU kernel).

Per tensor ``w`` with gradient ``g`` (already divided by the loss scale):

.. math::
    λ = \\frac{θ·‖w‖}{‖g‖ + wd·‖w‖ + ε},\\qquad
    λ = \\min(λ/lr, 1)\\ \\text{with use\\_clip},\\qquad
    g' = λ·(g + wd·w)

with ``θ`` = ``coefficient``, ``wd`` the weight decay of the parameter's group (0 for
parameters outside the decay filter) and ``lr`` its learning rate at this step. LARS
takes over weight decay: ``inner`` always runs with weight decay 0, and parameters that
``lars_filter`` leaves out get neither the trust ratio nor weight decay (MindSpore
switches the wrapped optimizer's decay off for every parameter).

Fields: ``inner`` (the wrapped canonical algorithm; its own ``maximize`` must be
``False``, LARS's field governs), ``coefficient``, ``epsilon``, ``use_clip``,
``lars_filter`` (a selector of the parameters LARS applies to, or ``None`` for
MindSpore's default: names containing neither ``LayerNorm`` nor ``bias``), and
``loss_scale``: MindSpore keeps the wrapped optimizer's weight decay multiplied by its
loss scale and LARS divides it back in float32, so the engine's ``wd·loss_scale``
becomes ``(wd·loss_scale)/loss_scale`` here.

Host scalars (``precision``): ``weight_decay = (wd·loss_scale)/loss_scale``,
``coefficient``, ``epsilon``, ``lr``, ``lars`` (whether this bucket is filtered in), and
``inner``: the wrapped algorithm's scalars for the same step with weight decay 0.

Canonical op order (one tensor; ``g`` divided by the loss scale by the engine):

1. ``lars`` buckets only (the flag is a host scalar, chosen through ``ops.cond``):
   ``‖w‖ = √(Σw²)``, ``‖g‖ = √(Σg²)`` (summed in the parameter's dtype);
   ``λ = (θ·‖w‖) / ((‖w‖·wd + ‖g‖) + ε)``; with ``use_clip``
   ``λ = max(min(λ/lr, 1), 0)``; ``g' = (w·wd + g)·λ``. Other buckets: ``g' = g``.
2. ``inner``'s canonical op order (its update rule) with ``g'`` and ``scalars["inner"]``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..groups import ParamInfo, select
from .base import FLAG, NUMBER, Algorithm, HostStep, Slot, register_algorithm, scalar_type
from .sgd import SGD

__all__ = ["LARS", "mindspore_lars_filter"]


def mindspore_lars_filter(name: str) -> bool:
    """MindSpore's default ``lars_filter``: ``'LayerNorm' not in name and 'bias' not in name``."""
    return "LayerNorm" not in name and "bias" not in name


@register_algorithm
@dataclass(frozen=True)
class LARS(Algorithm):
    """Canonical LARS around ``inner``. See the module docstring for the op order."""

    name = "lars"
    elementwise = False
    weight_decay_applied_by = "rule"
    inner: Algorithm = field(default_factory=SGD)
    coefficient: float = 0.001
    epsilon: float = 1e-5
    use_clip: bool = False
    lars_filter: Any = None
    loss_scale: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.inner, Algorithm) or isinstance(self.inner, LARS):
            raise ValueError(f"canonical 'lars': 'inner' must be a canonical algorithm other than lars. "
                             f"Received: {self.inner!r}")
        if self.inner.maximize:
            raise ValueError("canonical 'lars': set 'maximize' on lars, not on its inner algorithm")

    def partition(self, params: Sequence[ParamInfo]) -> Mapping[str, str]:
        """``"lars"`` for the parameters LARS applies to, ``""`` for the others."""
        if self.lars_filter is None:
            chosen = {p.name for p in params if mindspore_lars_filter(p.name)}
        else:
            chosen = set(select(self.lars_filter, params, "lars_filter"))
        return {p.name: "lars" if p.name in chosen else "" for p in params}

    def update(self, ops, params, grads, slots, scalars):
        """Rewrite each gradient of a ``lars`` bucket (step 1), then run ``inner``'s rule."""
        grads = [ops.cond(scalars["lars"], lambda p=p, g=g: self._trust_scaled(ops, p, g, scalars), lambda g=g: g)
                 for p, g in zip(params, grads)]
        self.inner.update(ops, params, grads, slots, scalars["inner"])

    def _trust_scaled(self, ops, p, g, s):
        wd = s["weight_decay"]
        w_norm, g_norm = ops.norm(p), ops.norm(g)
        trust = ops.div(s["coefficient"] * w_norm, (w_norm * wd + g_norm) + s["epsilon"])
        if self.use_clip:
            trust = ops.maximum(ops.minimum(ops.div(trust, s["lr"]), ops.scalar(1.0, p)), ops.scalar(0.0, p))
        return (p * wd + g) * trust

    def slots(self) -> tuple[Slot, ...]:
        return self.inner.slots()

    def init_host_state(self) -> dict[str, float]:
        return self.inner.init_host_state()

    def declared_scalars(self) -> dict[str, Any]:
        return {**super().declared_scalars(), "coefficient": NUMBER, "epsilon": NUMBER, "lars": FLAG,
                "inner": self.inner.declared_scalars()}

    def host_scalars(self, host_state: Mapping[str, float], hs: HostStep, precision: str):
        t = scalar_type(precision)
        inner_scalars, next_state = self.inner.host_scalars(
            host_state, HostStep(lr=hs.lr, weight_decay=0.0, step=hs.step), precision)
        scale = t(self.loss_scale)
        scalars = {
            "lr": hs.lr,
            "weight_decay": float(t(hs.weight_decay) / scale),
            "coefficient": float(t(self.coefficient)),
            "epsilon": float(t(self.epsilon)),
            "lars": hs.partition == "lars",
            "inner": inner_scalars,
        }
        return scalars, next_state
