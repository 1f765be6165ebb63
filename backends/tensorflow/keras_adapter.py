"""A ``keras.optimizers.Optimizer`` that runs an optbridge spec: ``model.compile(optimizer=optbridge.keras(spec))``.

Keras owns the training loop (``model.fit``, gradient computation, ``tf.distribute``);
optbridge owns the update: groups resolved by variable path, schedules and every host
scalar from the engine, the TensorFlow backend's compiled kernels. The adapter overrides
``build`` (state slots are Keras optimizer variables created with
``add_variable_from_reference``, so they sit beside each model variable and are saved
with the model) and the TensorFlow backend's ``_backend_update_step`` (the whole update of
a step, on every replica under ``MirroredStrategy`` and ``MultiWorkerMirroredStrategy``).

Saving: ``get_config`` holds the spec as an optbridge config (``optbridge.to_dict``), so
a dialect spec (``nn.Momentum(...)``, ``optim.SGD(...)``) round-trips through
``model.save``/``keras.saving.load_model``; a canonical ``OptimizerSpec`` or a spec with
a lambda schedule is not serialisable and says so. ``save_own_variables`` stores the
slots plus the engine's host state (step counter, Adam's accumulated β powers, ASGD's
η/μ, schedule state) under the key ``"optbridge"``. A saved model loads in a fresh
process after ``import optbridge`` (:mod:`optbridge.keras_saving` registers a stand-in
under the class's registered name ``"optbridge>KerasOptimizer"`` without importing
TensorFlow; importing this module replaces it with the class).

Learning rate: ``optimizer.learning_rate`` is the first group's lr; assigning it (Keras'
``ReduceLROnPlateau``, ``LearningRateScheduler``) sets group 0 to the value and scales
every group by the same factor, and is refused with ``StaticLearningRateError`` when the
spec gives a group a per-step list or a schedule (see the ``learning_rate`` setter).

XLA-compiled training steps (``jit_compile=True`` in ``model.compile``) run: the host
scalars come from the TensorFlow backend's device table (``horizon`` steps ahead, at least
one epoch's; see :mod:`optbridge.backends.tensorflow.optimizer`).

Keras' own ``weight_decay`` and ``clipnorm``/``clipvalue``/``global_clipnorm`` of the
adapter itself stay unset: the spec carries them (its weight decay, and its gradient
transforms, to which a Keras-dialect optimizer's clipping arguments lower), and so are its
``use_ema``, ``loss_scale_factor`` and ``gradient_accumulation_steps`` and a
``LossScaleOptimizer``: :meth:`KerasOptimizer.scale_loss` multiplies the loss by the spec's
current loss scale (Keras's trainers call it), :meth:`KerasOptimizer.finalize_variable_values`
(called at the end of ``fit``) writes the spec's EMA into the variables. A pipeline with
state (a dynamic loss scale, accumulation, an EMA) runs in compiled steps too: its numbers
are variables and its decisions ``tf.cond`` s (:mod:`optbridge.backends.tensorflow.pipeline`).
"""
from __future__ import annotations

import json
import math
import sys
import types
import warnings
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from optbridge import plugin
from optbridge.config import from_dict, to_dict
from optbridge.dialects.base import DialectOptimizer
from optbridge.engine import describe_dynamic
from optbridge.errors import SpecTypeError, SpecValueError, StateDictError, StaticLearningRateError
from optbridge.groups import describe_selector
from optbridge.keras_saving import REGISTERED_NAME
from optbridge.spec import OptimizerSpec
from optbridge.transforms import ExponentialMovingAverage
from optbridge.transforms.loss_scale import loss_scale_of, scales_loss

from .optimizer import DEFAULT_HORIZON, TensorFlowOptimizer

__all__ = ["KerasOptimizer"]

_STATE_KEY = "optbridge"
#: how far up the stack a Keras callback assigning ``optimizer.learning_rate`` is looked for
_CALLBACK_FRAMES = 8


def _callback_in_stack() -> Any:
    """The Keras callback assigning ``optimizer.learning_rate``, or ``None`` (refusal path only)."""
    frame: types.FrameType | None = sys._getframe(2)
    for _ in range(_CALLBACK_FRAMES):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, keras.callbacks.Callback):
            return candidate
        frame = frame.f_back
    return None


def _canonical(spec: Any) -> OptimizerSpec:
    if isinstance(spec, DialectOptimizer):
        return spec.to_canonical()
    if isinstance(spec, OptimizerSpec):
        return spec
    raise SpecTypeError(
        f"optbridge.keras takes a dialect optimizer or an OptimizerSpec. Received: {type(spec).__name__}"
    )


def _plain(value: Any) -> Any:
    """JSON-compatible copy of the engine's host state (NumPy scalars become numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@keras.saving.register_keras_serializable(*REGISTERED_NAME.split(">"))
class KerasOptimizer(keras.optimizers.Optimizer):
    """Keras optimizer running an optbridge spec (see the module docstring).

    Args:
        spec: a dialect optimizer (``nn.Adam(None, 1e-3)``) or a canonical spec; group
            selectors match Keras variable paths (``"dense/kernel"``, ``"conv2d/*"``).
        jit_compile: XLA for the compiled kernels (``None``: each kernel's choice).
        fused: use TensorFlow's fused training ops where they compute the canonical formula.
        native: use optbridge's single-pass CPU ops where a kernel has them (bitwise the NumPy reference;
            see :mod:`optbridge.backends.tensorflow.native`).
        name: the optimizer's name.
        horizon: steps whose host scalars a compiled training step finds on the device
            (default ``DEFAULT_HORIZON``); at least the steps of one epoch under
            ``jit_compile=True``.
    """

    def __init__(self, spec: Any, *, jit_compile: bool | None = None, fused: bool = True, native: bool = True,
                 name: str | None = None, horizon: int = DEFAULT_HORIZON):
        super().__init__(learning_rate=0.0, name=name or "optbridge")
        self._spec = spec
        self._canonical = _canonical(spec)
        self._jit_compile = jit_compile
        self._fused = fused
        self._native = native
        self._horizon = horizon
        self._runner: TensorFlowOptimizer | None = None
        self._pending_lr: float | None = None

    # -- building -----------------------------------------------------------------------
    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        named = [(v.path, v) for v in variables]
        kernels = plugin.get_backend("tensorflow").kernels
        self._runner = TensorFlowOptimizer(self._canonical, named, kernels, jit_compile=self._jit_compile,
                                           fused=self._fused, native=self._native, slot_factory=self._make_slot,
                                           horizon=self._horizon)
        if self._pending_lr is not None:
            pending, self._pending_lr = self._pending_lr, None
            self._assign_lr(pending)

    def _make_slot(self, variable: Any, slot: str, init: float, shape: tuple[int, ...]):
        initializer = keras.initializers.Constant(init)
        if shape == tuple(variable.shape):
            return self.add_variable_from_reference(variable, name=slot, initializer=initializer)
        # a factored statistic (Adafactor's row_var/col_var), named as add_variable_from_reference names
        return self.add_variable(shape=shape, initializer=initializer, dtype=variable.dtype,
                                 name=f"{variable.path.replace('/', '_')}_{slot}")

    @property
    def optbridge(self) -> TensorFlowOptimizer:
        """The optbridge optimizer behind this adapter (``get_lr``, ``state_dict``, ...), once built."""
        if self._runner is None:
            raise ValueError(f"{self.name}: the optimizer is not built yet (call build(model.trainable_variables) "
                             f"or train one step)")
        return self._runner

    # -- the update -----------------------------------------------------------------------
    @tf.autograph.experimental.do_not_convert
    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Keras has dropped the variables without a gradient and warned (``_filter_empty_gradients``)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Gradients do not exist for variables")
            self.optbridge.apply_gradients(list(zip(grads, trainable_variables)))

    def scale_loss(self, loss):
        """``loss · scale``: the spec's current loss scale (its loss-scaling transforms', read
        from their variables inside a compiled step), or ``loss`` without one (Keras's
        trainers differentiate this)."""
        transforms = self._canonical.transforms
        if not scales_loss(transforms):
            return loss
        if self._runner is None:
            scale = loss_scale_of(transforms, [t.initial_state() for t in transforms])
            return loss * tf.cast(scale, loss.dtype)
        return loss * self._runner.loss_scale_tensor(loss.dtype)

    def finalize_variable_values(self, var_list):
        """Keras ``finalize_variable_values``: with an EMA in the spec (``use_ema``), every
        variable takes its moving average; otherwise nothing."""
        if self._runner is not None and any(isinstance(t, ExponentialMovingAverage)
                                            for t in self._canonical.transforms):
            self._runner.finalize_averages()

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError("optbridge updates whole groups at once (_backend_update_step)")

    # -- learning rate as Keras callbacks see it --------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The first group's learning rate at the next step (what ``ReduceLROnPlateau`` and
        ``LearningRateScheduler`` read)."""
        if self._runner is None:
            return self._pending_lr if self._pending_lr is not None else float(self._spec_lrs()[0][1].at(0))
        return self._runner.get_lr()[0]

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        """Assign the first group's learning rate; every group is scaled by the same factor.

        Group ``i`` gets ``value * lr_i / lr_0`` (its ratio to group 0 is kept), as torch's
        ``ReduceLROnPlateau`` multiplies every group by its factor; with one group that is
        ``value``. Refused, with nothing changed: any group's lr the spec gives as a per-step
        list or a schedule (:class:`~optbridge.errors.StaticLearningRateError`: the spec owns
        it), and a value that is not a finite number >= 0, or a group 0 at lr 0 beside a
        group that is not (no factor exists; :class:`~optbridge.errors.SpecValueError`).
        Before the first step (``build``), the value is kept and applied by ``build``.
        """
        if not hasattr(self, "_canonical"):  # Keras' own __init__ assigns its learning-rate variable
            return
        try:
            value = float(keras.ops.convert_to_numpy(value))
        except (TypeError, ValueError) as exc:
            raise SpecValueError(f"{self.name}: learning_rate must be a number. Received: {value!r}") from exc
        if not math.isfinite(value) or value < 0:
            raise SpecValueError(f"{self.name}: learning_rate must be a finite number >= 0. Received: {value!r}")
        if self._runner is None:  # e.g. LearningRateScheduler before the first batch: applied by build
            for where, lr in self._spec_lrs():
                self._refuse_dynamic(where, describe_dynamic(lr))
            self._pending_lr = value
            return
        self._assign_lr(value)

    def _spec_lrs(self) -> list[tuple[str, Any]]:
        """``(where, lr value)`` of each group of the spec, before the groups are resolved."""
        spec = self._canonical
        if spec.groups is None:
            return [("groups[0] ('*')", spec.lr)]
        return [(f"groups[{g.source_index}] ({describe_selector(g.params)})", spec.lr if g.lr is None else g.lr)
                for g in spec.groups]

    def _refuse_dynamic(self, where: str, kind: str | None) -> None:
        if kind is None:
            return
        writer = _callback_in_stack()
        writer = f"keras.callbacks.{type(writer).__name__}" if writer is not None else \
            "code assigning optimizer.learning_rate"
        raise StaticLearningRateError(
            f"{self.name}: {where}: {writer} cannot set this group's learning rate: the spec gives it {kind}, and the "
            f"spec owns it (one owner per learning rate). Either give the group a static lr in the spec (a number) "
            f"and let the callback change it, or declare the schedule in the spec (e.g. "
            f"optimizers.schedules.ExponentialDecay(...) as the learning rate) and drop the callback. Nothing was "
            f"changed")

    def _assign_lr(self, value: float) -> None:
        engine = self.optbridge.engine
        for i, g in enumerate(engine.groups):
            self._refuse_dynamic(f"groups[{g.index}] ({g.label})", engine.dynamic_lr(i))
        lrs = [engine.static_lr(i) for i in range(len(engine.groups))]
        if lrs[0] == 0.0:
            if any(lrs):
                raise SpecValueError(
                    f"{self.name}: groups[0]'s lr is 0, so assigning optimizer.learning_rate = {value!r} has no factor "
                    f"to scale the other groups {lrs[1:]} by; set each group with "
                    f"optimizer.optbridge.set_lr(value, group=i). Nothing was changed")
            new = [value] * len(lrs)
        else:
            new = [value] + [value * (lr / lrs[0]) for lr in lrs[1:]]
        bad = [i for i, lr in enumerate(new) if not math.isfinite(lr)]
        if bad:
            raise SpecValueError(f"{self.name}: assigning optimizer.learning_rate = {value!r} would give groups{bad} "
                                 f"a learning rate that is not finite. Nothing was changed")
        for i, lr in enumerate(new):
            self.optbridge.set_lr(lr, group=i)

    # -- serialisation ----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        if not isinstance(self._spec, DialectOptimizer):
            raise TypeError(
                f"{self.name}: a canonical OptimizerSpec has no config form; build the adapter from a dialect "
                f"optimizer (e.g. optbridge.dialects.mindspore.nn.Momentum) to save it with the model"
            )
        return {"name": self.name, "spec": to_dict(self._spec), "jit_compile": self._jit_compile, "fused": self._fused,
                "native": self._native, "horizon": self._horizon}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> KerasOptimizer:
        config = dict(config)
        spec = from_dict(config.pop("spec"))
        return cls(spec, **config)

    def save_own_variables(self, store) -> None:
        super().save_own_variables(store)
        if self._runner is not None:
            state = self._runner.engine.state_dict({})
            store[_STATE_KEY] = np.frombuffer(json.dumps(_plain(state)).encode("utf-8"), dtype=np.uint8)

    def load_own_variables(self, store) -> None:
        """Restore the variables and the optbridge state saved by :meth:`save_own_variables`.

        All or nothing: the saved state (with the slot values from ``store``) is checked
        in full by the optimizer's ``load_state_dict`` and the other variables' values are
        converted before anything is assigned; a refusal raises
        :class:`~optbridge.errors.StateDictError`.
        """
        keys = [k for k in store.keys() if k != _STATE_KEY]
        if self._runner is None or len(keys) != len(self.variables) or _STATE_KEY not in store.keys():
            super().load_own_variables(store)  # Keras' own checks and warnings
            return
        try:
            state = json.loads(bytes(np.asarray(store[_STATE_KEY], dtype=np.uint8)).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise StateDictError(f"{self.name}: the saved optbridge state is not readable: {exc}") from exc
        if not isinstance(state, dict):
            raise StateDictError(f"{self.name}: the saved optbridge state is not a mapping: {type(state).__name__}")
        state = self._renamed(state)
        position = {id(v): i for i, v in enumerate(self.variables)}
        slot_positions: set[int] = set()
        state["state"] = {}
        for name, slots in self._runner._slot_objects.items():
            state["state"][name] = {}
            for slot, variable in slots.items():
                i = position[id(variable)]
                slot_positions.add(i)
                state["state"][name][slot] = np.asarray(store[str(i)])
        others = []
        for i, variable in enumerate(self.variables):
            if i in slot_positions:
                continue
            value = np.asarray(store[str(i)])
            if tuple(value.shape) != tuple(variable.shape):
                raise StateDictError(f"{self.name}: saved variable {i} ({variable.path}) has shape {value.shape}, "
                                     f"the variable {tuple(variable.shape)}")
            try:
                others.append((variable, value.astype(keras.backend.standardize_dtype(variable.dtype))))
            except (TypeError, ValueError) as exc:
                raise StateDictError(f"{self.name}: saved variable {i} ({variable.path}): {exc}") from exc
        self._runner.load_state_dict(state)
        for variable, value in others:
            variable.assign(value)

    def _renamed(self, state: dict[str, Any]) -> dict[str, Any]:
        """The saved state under today's variable paths, matched by position as Keras matches variables.

        Keras 3 does not keep ``variable.path`` across ``save``/``load_model``: a Sequential
        model's ``"net/dense/kernel"`` comes back as ``"dense/kernel"``.
        """
        old = state.get("param_names")
        new = list(self.optbridge.param_names)
        if not isinstance(old, list) or not all(isinstance(n, str) for n in old):
            raise StateDictError(f"{self.name}: the saved optbridge state's 'param_names' must be a list of names. "
                                 f"Received: {old!r:.80}")
        if len(old) != len(new):
            raise StateDictError(
                f"{self.name}: the saved optimizer trained {len(old)} variables, this model has {len(new)}"
            )
        rename = dict(zip(old, new))
        state = dict(state, param_names=new)
        groups = state.get("groups")
        if isinstance(groups, list):  # anything else is refused, with its path, by load_state_dict
            state["groups"] = [
                dict(g, params=[rename.get(n, n) if isinstance(n, str) else n for n in g["params"]])
                if isinstance(g, dict) and isinstance(g.get("params"), list) else g
                for g in groups]
        return state
