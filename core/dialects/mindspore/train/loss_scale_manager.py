r"""MindSpore's loss-scale managers as data: ``mindspore.train.loss_scale_manager`` (MindSpore 2.10).

``FixedLossScaleManager`` and ``DynamicLossScaleManager`` with MindSpore's signatures, defaults
and validation (its messages, as ``ValueError`` / ``TypeError`` subclasses). They are
immutable: :meth:`LossScaleManager.get_loss_scale` is the initial scale; the scale a run has
reached is training state, kept by the gradient pipeline, not by this object.

What MindSpore runs in training (``Model`` / ``build_train_network``, train/amp.py:763-789;
``nn.TrainOneStepWithLossScaleCell``, nn/wrap/loss_scale.py:417-435), with :math:`S` the loss
scale held as a float32 Parameter (``scale_sense``) and :math:`c` the gradient of the
unscaled loss:

* ``DynamicLossScaleManager`` and ``FixedLossScaleManager(drop_overflow_update=True)``: the
  backward pass runs with sensitivity :math:`S`, giving :math:`g = \mathrm{fl}(S c)`; every
  gradient is unscaled as :math:`g \cdot \mathrm{fl}(1/S)` (``Reciprocal`` then ``Mul``, in
  the gradient's dtype, loss_scale.py:40-42), *before* the optimizer's weight decay; the step
  overflows when any unscaled element is inf or NaN (loss_scale.py:484-576); the update cell
  then updates :math:`S`, and the optimizer is called only when the step did not overflow
  (loss_scale.py:433-434), so a skipped step advances neither ``global_step`` (the learning-
  rate and weight-decay schedules' position) nor any optimizer state (Adam's
  ``beta1_power``).
* ``DynamicLossScaleUpdateCell`` (loss_scale.py:181-196), float32, ``cur_iter`` starting at 1
  and ``last_overflow_iter`` at 0, with :math:`f` = ``scale_factor``, :math:`W` =
  ``scale_window``, per step:

  1. :math:`S_o = \max(S \cdot \mathrm{fl}(1/f), 1)` on overflow, else :math:`S`;
  2. ``should_inc`` :math:`= (\text{cur\_iter} - \text{last\_overflow\_iter} \ge W)`;
  3. ``last_overflow_iter`` :math:`\leftarrow` ``cur_iter`` when overflow or ``should_inc``;
  4. :math:`S \leftarrow S_o \cdot f` when ``should_inc`` and no overflow, else :math:`S_o`;
  5. ``cur_iter`` :math:`\leftarrow` ``cur_iter`` + 1.

  So the scale grows on the :math:`W`-th consecutive good step (counting from the start or
  from the last overflow or growth), backs off on every overflow (also one that falls on a
  growth step), never falls below 1, and has no upper bound.
* ``FixedLossScaleManager(drop_overflow_update=True)``: ``FixedLossScaleUpdateCell`` keeps
  :math:`S`; overflowing steps are skipped as above.
* ``FixedLossScaleManager(drop_overflow_update=False)``: no update cell; the network trains
  in ``nn.TrainOneStepCell(network, optimizer, sens=S)`` (train/amp.py:789): nothing is
  unscaled or checked by the cell, the optimizer runs on every step, and the optimizer's own
  ``loss_scale`` argument (which must equal :math:`S`) unscales inside
  ``Optimizer.construct``: weight decay :math:`g + (\lambda S) p` (the decay is multiplied by
  ``loss_scale`` at construction, nn/optim/optimizer.py:491-503), gradient centralization,
  then :math:`\cdot \mathrm{fl}(1/S)` (``scale_grad``, optimizer.py:439-455). Optimizers
  without ``loss_scale`` (``AdamWeightDecay``) receive the scaled gradients unchanged.

``Model``'s non-sink loop also calls the Python object's ``update_loss_scale(overflow)``
after each step (train/model.py:1267-1270), which keeps a float64 copy of the scale
(``loss_scale * (1 / scale_factor)``, floor 1) and raises ``RuntimeError`` after more than
1000 consecutive overflows; the scale the network uses is the cell's float32 one (they part
for a factor whose reciprocal rounds: 1000 / 3 is 333.3333333 there, 333.33334 in the cell).
That mutable method and ``get_update_cell`` (a ``mindspore.nn.Cell``) are not mirrored.

Source: ``mindspore/train/loss_scale_manager.py``, ``mindspore/nn/wrap/loss_scale.py``,
``mindspore/train/amp.py``, ``mindspore/nn/optim/optimizer.py`` of MindSpore 2.10.0;
trajectories in ``tests/goldens/mindspore_loss_scale.json``.
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from ....errors import SpecKeyError, SpecTypeError, SpecValueError
from ....transforms.loss_scale import LossScale
from ...base import check_fits_float, to_data

__all__ = ["LossScaleManager", "FixedLossScaleManager", "DynamicLossScaleManager", "loss_scale_manager_registry",
           "loss_scale_manager_from_dict"]

#: ``{qualname: class}``: the managers a config can name
loss_scale_manager_registry: dict[str, type[LossScaleManager]] = {}


def _check_positive_int(value: Any, name: str, cls_name: str) -> None:
    """``mindspore._checkparam.check_positive_int`` (``_check_number(value, 0, GT, int)``),
    its messages word for word: the type, then the bound (a bool fails it as a TypeError)."""
    subject = f"For '{cls_name}', the '{name}'"
    if not isinstance(value, int):
        raise SpecTypeError(f"{subject} must be int, but got '{type(value).__name__}'")
    if isinstance(value, bool) or not value > 0:
        message = f"{subject} must be int and must > 0, but got '{value}' with type '{type(value).__name__}'."
        raise (SpecTypeError if isinstance(value, bool) else SpecValueError)(message)


def _check_compared_number(name: str, value: Any, cls_name: str) -> None:
    """A real number MindSpore can compare and then hold as a float32 scale.

    MindSpore compares the value with a bound and nothing else: a value that cannot be
    compared raises Python's own ``TypeError`` there. A bool, NaN, an infinity or an integer
    beyond a float pass that comparison in MindSpore and make every step overflow (or fail
    when the float32 Parameter is made); optbridge refuses them.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not (
            hasattr(value, "__float__") and hasattr(value, "__lt__") and not isinstance(value, (str, bytes))):
        raise SpecTypeError(f"For '{cls_name}', the argument '{name}' must be a number, "
                            f"but got {value!r:.80} with type '{type(value).__name__}'.")
    check_fits_float(name, value, f"For '{cls_name}', ")
    if not math.isfinite(float(value)):
        raise SpecValueError(f"For '{cls_name}', the argument '{name}' must be finite, but got {value}: MindSpore "
                             "accepts it and then finds an overflow in every step.")


class LossScaleManager:
    """Base class of the loss-scale managers (``mindspore.amp.LossScaleManager``): immutable
    data with MindSpore's getters and a config form."""

    qualname: ClassVar[str] = ""
    _arguments: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.qualname:
            loss_scale_manager_registry[cls.qualname] = cls

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}; build a new manager")
        super().__setattr__(name, value)

    def _record(self, arguments: Mapping[str, Any]) -> None:
        self._arguments = dict(arguments)
        self._frozen = True

    @property
    def arguments(self) -> dict[str, Any]:
        """The constructor arguments, as given (defaults included)."""
        return dict(self._arguments)

    def get_loss_scale(self) -> Any:
        """The initial loss scale, as given."""
        raise NotImplementedError

    def get_drop_overflow_update(self) -> bool:
        """Whether a step whose gradients overflow is skipped (the optimizer not called)."""
        raise NotImplementedError

    def to_transform(self) -> LossScale | None:
        """The canonical loss-scale transform (:class:`optbridge.transforms.LossScale`,
        ``form="mindspore"``) this manager runs as, to put first in a spec's transforms
        (``spec.with_transforms(manager.to_transform())``, the optimizer's ``loss_scale`` left
        at 1); ``None`` for a :class:`FixedLossScaleManager` without ``drop_overflow_update``,
        which MindSpore runs as the optimizer's own ``loss_scale`` (set it to the same value)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The config form: ``{"loss_scale_manager": qualname, **arguments}``."""
        return {"loss_scale_manager": self.qualname, **{k: to_data(v) for k, v in self._arguments.items()}}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LossScaleManager):
            return NotImplemented
        return self.qualname == other.qualname and to_data(self._arguments) == to_data(other._arguments)

    def __hash__(self) -> int:
        return hash((self.qualname, repr(to_data(self._arguments))))

    def __repr__(self) -> str:
        return f"{self.qualname}({', '.join(f'{k}={v!r}' for k, v in self._arguments.items())})"


class FixedLossScaleManager(LossScaleManager):
    r"""``mindspore.amp.FixedLossScaleManager(loss_scale=128.0, drop_overflow_update=True)``.

    The loss is multiplied by ``loss_scale`` every step. With ``drop_overflow_update`` the
    gradients are unscaled before the optimizer (:math:`g \cdot \mathrm{fl}(1/S)`, before
    weight decay) and a step with an inf or NaN gradient is skipped; without it nothing is
    checked and the optimizer's own ``loss_scale`` (set it to the same value) unscales after
    weight decay and gradient centralization (see the module docstring).

    Raises:
        SpecValueError: ``loss_scale < 1`` (MindSpore's message), or not finite.
        SpecTypeError: ``loss_scale`` is not a number; ``drop_overflow_update`` is not a bool
            (MindSpore takes its truth value without a check; a config says ``true``/``false``).
    """

    qualname = "mindspore.amp.FixedLossScaleManager"

    def __init__(self, loss_scale: float = 128.0, drop_overflow_update: bool = True) -> None:
        cls_name = type(self).__name__
        _check_compared_number("loss_scale", loss_scale, cls_name)
        if loss_scale < 1:
            raise SpecValueError(f"The argument 'loss_scale' must be >= 1, but got {loss_scale}")
        if not isinstance(drop_overflow_update, bool):
            raise SpecTypeError(f"For '{cls_name}', the argument 'drop_overflow_update' must be a bool, but got "
                                f"{drop_overflow_update!r:.80} with type '{type(drop_overflow_update).__name__}'.")
        self._record(dict(loss_scale=loss_scale, drop_overflow_update=drop_overflow_update))

    def get_loss_scale(self) -> Any:
        """``loss_scale``, as given."""
        return self._arguments["loss_scale"]

    def get_drop_overflow_update(self) -> bool:
        """``drop_overflow_update``, as given."""
        return bool(self._arguments["drop_overflow_update"])

    def to_transform(self) -> LossScale | None:
        if not self.get_drop_overflow_update():
            return None
        return LossScale(form="mindspore", initial_scale=float(self.get_loss_scale()), dynamic=False,
                         skip_nonfinite=True)


class DynamicLossScaleManager(LossScaleManager):
    r"""``mindspore.amp.DynamicLossScaleManager(init_loss_scale=2**24, scale_factor=2, scale_window=2000)``.

    The scale starts at ``init_loss_scale``, is divided by ``scale_factor`` (floor 1) on each
    step whose gradients overflow, which is skipped, and multiplied by it on the
    ``scale_window``-th consecutive good step (the update cell's rule in the module docstring).

    Raises:
        SpecValueError: ``init_loss_scale < 1`` or ``scale_factor <= 0`` (MindSpore's messages,
            in MindSpore's order: ``init_loss_scale``, ``scale_window``, ``scale_factor``),
            ``scale_window <= 0``, or a scale or factor that is not finite.
        SpecTypeError: ``scale_window`` not an int (MindSpore's ``check_positive_int``), or a
            scale or factor that is not a number.
    """

    qualname = "mindspore.amp.DynamicLossScaleManager"

    def __init__(self, init_loss_scale: float = 2 ** 24, scale_factor: int = 2, scale_window: int = 2000) -> None:
        cls_name = type(self).__name__
        _check_compared_number("init_loss_scale", init_loss_scale, cls_name)
        if init_loss_scale < 1.0:
            raise SpecValueError(f"The argument 'init_loss_scale' must be > 1, but got {init_loss_scale}")
        _check_positive_int(scale_window, "scale_window", cls_name)
        _check_compared_number("scale_factor", scale_factor, cls_name)
        if scale_factor <= 0:
            raise SpecValueError(f"The argument 'scale_factor' must be > 0, but got {scale_factor}")
        self._record(dict(init_loss_scale=init_loss_scale, scale_factor=scale_factor, scale_window=scale_window))

    def get_loss_scale(self) -> Any:
        """``init_loss_scale``, as given (MindSpore's object changes it in ``update_loss_scale``)."""
        return self._arguments["init_loss_scale"]

    def get_drop_overflow_update(self) -> bool:
        """Always ``True``."""
        return True

    def to_transform(self) -> LossScale:
        args = self._arguments
        return LossScale(form="mindspore", initial_scale=float(args["init_loss_scale"]), dynamic=True,
                         growth_interval=args["scale_window"], growth_factor=float(args["scale_factor"]))


def loss_scale_manager_from_dict(data: Mapping[str, Any], where: str = "loss_scale_manager") -> LossScaleManager:
    """The manager a config entry describes (inverse of :meth:`LossScaleManager.to_dict`).

    Raises:
        SpecTypeError: not a mapping. SpecKeyError: no or an unknown ``loss_scale_manager``
            name, or an argument the manager does not take (naming ``where``).
        SpecTypeError / SpecValueError: the manager refuses a value.
    """
    if not isinstance(data, Mapping):
        raise SpecTypeError(f"{where}: a loss-scale manager is a mapping with a 'loss_scale_manager' key. "
                            f"Received: {data!r:.80}")
    name = data.get("loss_scale_manager")
    cls = loss_scale_manager_registry.get(name) if isinstance(name, str) else None
    if cls is None:
        raise SpecKeyError(f"{where}.loss_scale_manager: unknown loss-scale manager {name!r:.80}; known: "
                           f"{sorted(loss_scale_manager_registry)}")
    known = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(str(k) for k in data if k != "loss_scale_manager" and k not in known)
    if unknown:
        raise SpecKeyError(f"{where}: {name!r} takes no argument(s) {unknown}; its arguments: {sorted(known)}")
    return cls(**{k: v for k, v in data.items() if k != "loss_scale_manager"})
