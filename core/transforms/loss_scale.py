r"""Loss scaling: gradients of a scaled loss brought back, and the scale kept, per framework.

The user multiplies the loss by the current scale (``optimizer.scale_loss(loss)``, which
is ``loss · scale``), so the gradients arrive multiplied by it; :class:`LossScale` divides
it out, checks the gradients and, where the scale is dynamic, moves it. The scale is a
float32 number in all three frameworks (every product below is rounded to float32), and a
step skipped on a non-finite gradient runs no update rule and does not advance the
optimizer's step count (the inner optimizer is not called), in all three.

``form="torch"`` -- ``torch.amp.GradScaler`` (``torch/amp/grad_scaler.py``;
``_amp_foreach_non_finite_check_and_unscale_`` and ``_amp_update_scale_``,
``aten/src/ATen/native/cpu/AmpGradScalerKernels.cpp``); defaults ``init_scale=2**16``,
``growth_factor=2``, ``backoff_factor=0.5``, ``growth_interval=2000``:

1. ``found_inf`` = any gradient element (as given, scaled) is not finite;
2. ``inv = float32(1 / float64(scale))``; ``g ← g·inv`` (not when ``inv == 1``);
3. skip the step if ``found_inf``;
4. non-finite: ``scale ← float32(scale·backoff)``, ``tracker ← 0``; finite:
   ``tracker ← tracker + 1``, and when it reaches ``growth_interval``:
   ``scale ← float32(scale·growth)`` if that is finite, ``tracker ← 0``.

``form="keras"`` -- ``keras.optimizers.LossScaleOptimizer``
(``keras/src/optimizers/loss_scale_optimizer.py``); defaults ``initial_scale=2**15``,
``dynamic_growth_steps=2000``, growth ×2 and backoff ×0.5 fixed:

1. ``finite`` = every gradient element (scaled) is finite;
2. non-finite: ``step_counter ← 0``, ``scale ← scale·0.5``; the inner optimizer is not
   called;
3. finite: ``g ← g / scale`` (a correctly rounded division), the inner optimizer
   steps, then ``scale ← scale·2``, ``step_counter ← 0`` if ``step_counter ==
   dynamic_growth_steps − 1``, else ``step_counter ← step_counter + 1``.

With ``dynamic=False`` and ``skip_nonfinite=False`` it is Keras's ``loss_scale_factor``
(``g ← g / factor``, no check, no skip).

``form="mindspore"`` -- MindSpore's ``DynamicLossScaleManager`` and
``FixedLossScaleManager(drop_overflow_update=True)`` as ``TrainOneStepWithLossScaleCell``
runs them (``mindspore/nn/wrap/loss_scale.py``; defaults ``init_loss_scale=2**24``,
``scale_factor=2``, ``scale_window=2000``):

1. ``g ← g·float32(1/scale)`` (``_grad_scale``: the reciprocal, cast to the gradient's dtype);
2. ``overflow`` = any unscaled gradient element is not finite;
3. dynamic (``DynamicLossScaleUpdateCell``, counters ``cur_iter`` from 1 and
   ``last_overflow_iter`` from 0): on overflow ``scale ← max(scale·(1/factor), 1)``; then
   ``grow = cur_iter − last_overflow_iter >= window``; if overflow or grow,
   ``last_overflow_iter ← cur_iter``; if grow and no overflow ``scale ← scale·factor``;
   ``cur_iter ← cur_iter + 1``;
4. skip the optimizer on overflow (``drop_overflow_update``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import SpecValueError, StateDictError
from .base import GradientTransform, check_bool, check_choice, check_count, check_positive, register_transform
from .pipeline import SKIP, HostScalars, PipelineCall

__all__ = ["LossScale", "LOSS_SCALE_FORMS", "scales_loss", "loss_scale_of"]

#: the forms of :class:`LossScale`
LOSS_SCALE_FORMS = ("torch", "keras", "mindspore")
_DEFAULT_SCALE = {"torch": 2.0 ** 16, "keras": 2.0 ** 15, "mindspore": 2.0 ** 24}
_COUNTERS = {"torch": ("growth_tracker",), "keras": ("step_counter",),
             "mindspore": ("cur_iter", "last_overflow_iter")}


def _value_error(owner: str, key: str, rule: str, value: Any) -> SpecValueError:
    return SpecValueError(f"{owner}: {key!r} must be {rule}. Received: {value!r}")


def _f32(x: float) -> float:
    """``x`` rounded to float32 (the frameworks keep the scale as a float32 number)."""
    return float(np.float32(x))


@register_transform
@dataclasses.dataclass(frozen=True)
class LossScale(GradientTransform):
    """Divide the loss scale out of the gradients; keep it dynamic and skip non-finite
    steps as the chosen framework does (see the module docstring for each form's formulas).

    Args:
        form: ``"torch"`` (``GradScaler``), ``"keras"`` (``LossScaleOptimizer``,
            ``loss_scale_factor``) or ``"mindspore"`` (the loss-scale managers).
        initial_scale: the scale at the start (finite, > 0); ``None``: the form's default
            (``2**16``, ``2**15``, ``2**24``). Rounded to float32.
        dynamic: whether the scale grows after ``growth_interval`` finite steps and backs
            off on a non-finite one.
        growth_interval: torch ``growth_interval``, Keras ``dynamic_growth_steps``,
            MindSpore ``scale_window`` (an int >= 1).
        growth_factor: torch ``growth_factor`` (> 1), MindSpore ``scale_factor``; Keras: 2.
        backoff_factor: torch ``backoff_factor`` (in (0, 1)); Keras 0.5; MindSpore
            ``1/scale_factor`` (``None``: that, or 0.5).
        skip_nonfinite: skip the step when a gradient is not finite (torch and Keras: always
            when dynamic; MindSpore: ``drop_overflow_update``).

    Raises:
        SpecTypeError / SpecValueError: naming the argument.
    """

    form: str = "torch"
    initial_scale: float | None = None
    dynamic: bool = True
    growth_interval: int = 2000
    growth_factor: float = 2.0
    backoff_factor: float | None = None
    skip_nonfinite: bool = True

    name = "loss_scale"

    def __post_init__(self) -> None:
        owner = "loss_scale"
        check_choice(owner, "form", self.form, LOSS_SCALE_FORMS)
        scale = _DEFAULT_SCALE[self.form] if self.initial_scale is None else self.initial_scale
        scale = check_positive(owner, "initial_scale", scale)
        # the frameworks keep a dynamic (and MindSpore's, torch's) scale in float32; Keras's
        # static loss_scale_factor is a Python float, rounded to each gradient's dtype
        object.__setattr__(self, "initial_scale", scale if self.form == "keras" and not self.dynamic else _f32(scale))
        check_bool(owner, "dynamic", self.dynamic)
        check_bool(owner, "skip_nonfinite", self.skip_nonfinite)
        object.__setattr__(self, "growth_interval", check_count(owner, "growth_interval", self.growth_interval, 1))
        growth = check_positive(owner, "growth_factor", self.growth_factor)
        # MindSpore takes any scale_factor > 0 (below 1 the scale shrinks where it would grow)
        if growth <= 1.0 and self.form != "mindspore":
            raise _value_error(owner, "growth_factor", "> 1", self.growth_factor)
        object.__setattr__(self, "growth_factor", growth)
        backoff = (1.0 / growth if self.form == "mindspore" else 0.5) if self.backoff_factor is None \
            else check_positive(owner, "backoff_factor", self.backoff_factor)
        if backoff >= 1.0 and self.form != "mindspore":
            raise _value_error(owner, "backoff_factor", "< 1", self.backoff_factor)
        object.__setattr__(self, "backoff_factor", backoff)
        if self.form == "mindspore" and self.dynamic and backoff != 1.0 / growth:
            raise _value_error(owner, "backoff_factor", f"1/growth_factor ({1.0 / growth!r}) with "
                                          f"form='mindspore'", self.backoff_factor)
        if self.dynamic and not self.skip_nonfinite:
            raise _value_error(owner, "skip_nonfinite", "True when the scale is dynamic",
                                          self.skip_nonfinite)

    # -- state ----------------------------------------------------------------------------------
    def initial_state(self) -> dict[str, float]:
        state: dict[str, float] = {"scale": float(self.initial_scale or 0.0)}
        if self.dynamic:
            for counter in _COUNTERS[self.form]:
                state[counter] = 1 if counter == "cur_iter" else 0
        return state

    def integer_state(self) -> frozenset[str]:
        return frozenset(_COUNTERS[self.form]) if self.dynamic else frozenset()

    @property
    def stateless(self) -> bool:
        """A static scale that skips nothing (Keras ``loss_scale_factor``, MindSpore's fixed
        scale without ``drop_overflow_update``) only divides: :meth:`apply`."""
        return not self.dynamic and not self.skip_nonfinite

    def apply(self, ops: Any, grads: list[Any]) -> list[Any]:
        """The gradients unscaled by the (static) initial scale."""
        return self.unscale(ops, grads, float(self.initial_scale or 1.0))

    def check_state(self, values: Any, path: str) -> dict[str, float]:
        out = super().check_state(values, path)
        if (self.dynamic or self.form != "keras") and out["scale"] != _f32(out["scale"]):
            raise StateDictError(f"{path}.scale: must be a float32 value. Received: {out['scale']!r}")
        if self.form == "mindspore" and self.dynamic and out["last_overflow_iter"] >= out["cur_iter"]:
            raise StateDictError(f"{path}: last_overflow_iter must be < cur_iter. Received: "
                                 f"{out['last_overflow_iter']} and {out['cur_iter']}")
        return out

    # -- the step -------------------------------------------------------------------------------
    def unscale(self, ops: Any, grads: list[Any], scale: Any, s: HostScalars | None = None) -> list[Any]:
        """The gradients with ``scale`` divided out, the form's way (``s``: the scalar
        arithmetic, :class:`~optbridge.transforms.pipeline.HostScalars` on Python numbers by
        default)."""
        s = s or HostScalars(ops)
        if self.form == "keras":
            return [ops.div(g, s.scalar(scale, g)) for g in grads]
        inv = s.f32(1.0 / scale) if self.form == "torch" else s.reciprocal32(scale)
        # torch skips the product when inv == 1: the same bits (x·1 = x)
        return [g * s.scalar(inv, g) for g in grads]

    def next_state(self, state: dict[str, Any], finite: Any, s: HostScalars) -> dict[str, Any]:
        """The host numbers after a step whose gradients were (not) ``finite``."""
        if not self.dynamic:
            return dict(state)
        scale = state["scale"]
        growth, backoff = self.growth_factor, float(self.backoff_factor or 0.5)
        w = s.where
        if self.form == "torch":
            tracker = state["growth_tracker"] + 1
            reach = s.equal(tracker, self.growth_interval)
            grown = s.f32(scale * growth)
            grown = w(s.is_finite(grown), grown, scale)
            return {"scale": w(finite, w(reach, grown, scale), s.f32(scale * backoff)),
                    "growth_tracker": w(finite, w(reach, 0, tracker), 0)}
        if self.form == "keras":
            counter = state["step_counter"]
            reach = s.equal(counter, self.growth_interval - 1)
            return {"scale": w(finite, w(reach, s.f32(scale * growth), scale), s.f32(scale * backoff)),
                    "step_counter": w(finite, w(reach, 0, counter + 1), 0)}
        cur, last = state["cur_iter"], state["last_overflow_iter"]
        scale = w(finite, scale, s.larger(s.mul32(scale, 1.0 / growth), 1.0))
        grow = s.at_least(cur - last, self.growth_interval)
        return {"scale": w(s.both(grow, finite), s.mul32(scale, growth), scale), "cur_iter": cur + 1,
                "last_overflow_iter": w(s.either(s.negate(finite), grow), cur, last)}

    def forward(self, ops: Any, grads: list[Any], call: PipelineCall) -> list[Any]:
        state = call.state
        check = self.skip_nonfinite or self.dynamic
        if self.form == "mindspore":
            grads = self.unscale(ops, grads, state["scale"], call)
            finite = call.all_finite(grads) if check else True
        else:
            finite = call.all_finite(grads) if check else True
            grads = self.unscale(ops, grads, state["scale"], call)
        call.state = self.next_state(state, finite, call)
        if self.skip_nonfinite:
            call.gate(finite, SKIP)
        return grads


def scales_loss(transforms: Sequence[GradientTransform]) -> bool:
    """Whether ``transforms`` hold a :class:`LossScale` (the loss is to be multiplied)."""
    return any(isinstance(t, LossScale) for t in transforms)


def loss_scale_of(transforms: Sequence[GradientTransform], states: Sequence[Mapping[str, Any]]) -> Any:
    """The number the loss is multiplied by: the product of the scales in ``states`` of the
    loss-scaling ``transforms`` (1.0 without one). The states may hold Python numbers or a
    backend's scalars (TensorFlow variables' values)."""
    scale: Any = 1.0
    for transform, values in zip(transforms, states):
        if isinstance(transform, LossScale):
            scale = scale * values["scale"]
    return scale
