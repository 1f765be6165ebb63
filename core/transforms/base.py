"""What every gradient transform shares: plain data, a registry, and the pipeline runner.

A transform (DESIGN.md section 4a) is one step of the gradient pipeline, between "the
gradients arrive" and the per-group pre-processing and update rule of the engine
(:mod:`optbridge.preprocess`, ``Algorithm.update``). It is immutable data like an
algorithm: its fields are its arguments, :meth:`GradientTransform.to_dict` /
:func:`transform_from_dict` give its config form (``{"transform": "<name>", **fields}``),
and :meth:`GradientTransform.apply` is its computation, written once over the ops
namespace (:mod:`optbridge.ops`), so every backend runs the same formula.

A transform sees the gradients of every parameter the optimizer updates in this step, in
:attr:`~optbridge.engine.Engine.param_names` order (those of all groups; a parameter
without a gradient in a torch step is left out, as ``torch.nn.utils.clip_grad_norm_``
leaves out a parameter whose ``.grad`` is ``None``), and returns new arrays: the user's
gradient arrays are never written.

**Stateful transforms** (loss scaling, gradient accumulation, EMA of the parameters) keep
state of two kinds, both part of the optimizer's state and its neutral state dict:

* per-parameter arrays (:meth:`GradientTransform.slot_fills`: ``{slot name: fill}``, the
  parameter's shape): allocated, exported and imported by every backend with the
  algorithm's slots (``Engine.slot_layouts``);
* a few host numbers (:meth:`GradientTransform.initial_state`: the loss scale, a counter).

A transform takes part in a step through :class:`PipelineCall` (:mod:`optbridge.transforms.pipeline`):
:meth:`GradientTransform.forward` maps the gradients and may end the call early
(``call.gate(proceed, HOLD)``: the update rule does not run and the optimizer's step count
does not advance, as Keras accumulates; ``call.gate(proceed, SKIP)``: neither, nor any later
stage, as a loss scaler skips a non-finite step); :meth:`GradientTransform.after` runs once the rule has
(or has not) run and may write the parameters (an EMA).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import SpecKeyError, SpecTypeError, SpecValueError, StateDictError

if TYPE_CHECKING:
    from .pipeline import PipelineCall

__all__ = ["GradientTransform", "register_transform", "transform_registry", "transform_from_dict",
           "transform_gradients", "check_transforms", "check_positive", "check_choice", "check_count",
           "check_bool"]

#: ``{name: transform class}``
transform_registry: dict[str, type[GradientTransform]] = {}


def register_transform(cls: type[GradientTransform]) -> type[GradientTransform]:
    """Class decorator: make ``cls`` reachable from configs under ``cls.name``."""
    if cls.name in transform_registry:
        raise ValueError(f"transform {cls.name!r} is registered twice")
    transform_registry[cls.name] = cls
    return cls


def check_positive(owner: str, key: str, value: Any) -> float:
    """``value`` as a float, refused unless it is a finite number > 0 (not a bool).

    Raises:
        SpecTypeError: not a number. SpecValueError: NaN, infinite, or <= 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise SpecTypeError(f"{owner}: {key!r} must be a number. Received: {value!r:.80}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise SpecValueError(f"{owner}: {key!r} must be a finite number > 0. Received: {value!r}")
    return number


def check_count(owner: str, key: str, value: Any, minimum: int) -> int:
    """``value`` as an int, refused unless it is an integer (not a bool) >= ``minimum``.

    Raises:
        SpecTypeError: not an integer. SpecValueError: below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int) and not (
            isinstance(value, float) and value.is_integer()):
        raise SpecTypeError(f"{owner}: {key!r} must be an integer. Received: {value!r:.80}")
    if value < minimum:
        raise SpecValueError(f"{owner}: {key!r} must be an integer >= {minimum}. Received: {value!r}")
    return int(value)


def check_bool(owner: str, key: str, value: Any) -> bool:
    """``value``, refused unless it is a bool.

    Raises:
        SpecTypeError: naming the key.
    """
    if not isinstance(value, bool):
        raise SpecTypeError(f"{owner}: {key!r} must be True or False. Received: {value!r:.80}")
    return value


def check_choice(owner: str, key: str, value: Any, choices: Sequence[Any]) -> None:
    """Refuse ``value`` unless it is one of ``choices``.

    Raises:
        SpecValueError: naming the key and the choices.
    """
    if isinstance(value, bool) or value not in choices:
        raise SpecValueError(f"{owner}: {key!r} must be one of {list(choices)}. Received: {value!r:.80}")


@dataclasses.dataclass(frozen=True)
class GradientTransform:
    """A step of the gradient pipeline. Subclasses are frozen dataclasses whose fields are
    their arguments; they validate in ``__post_init__`` and implement :meth:`apply`."""

    #: the config name (``"clip_by_global_norm"``)
    name: ClassVar[str] = ""

    #: whether :meth:`after` runs in a call a transform skipped (``SKIP``): torch's
    #: ``AveragedModel.update_parameters`` is called after ``GradScaler.step`` whether or not
    #: that skipped the optimizer's step
    runs_after_skip: ClassVar[bool] = False

    def apply(self, ops: Any, grads: list[Any]) -> list[Any]:
        """The transformed gradients (new arrays; ``grads`` is not written)."""
        raise NotImplementedError

    # -- stateful transforms (see the module docstring) -------------------------------------------
    def slot_fills(self) -> dict[str, float]:
        """``{slot name: initial fill}`` of the array this transform keeps per parameter (the
        parameter's shape and dtype); ``{}`` for a stateless transform."""
        return {}

    def initial_state(self) -> dict[str, float]:
        """The host numbers this transform keeps, at the start; ``{}`` for none."""
        return {}

    @property
    def stateless(self) -> bool:
        """Whether :meth:`apply` is this transform's whole part of a step: no per-parameter
        arrays, no host number that changes, no early end, nothing after the rule (then any
        backend may run it inside a traced step, with the other stateless ones)."""
        return (not self.slot_fills() and not self.initial_state()
                and type(self).forward is GradientTransform.forward and type(self).after is GradientTransform.after)

    def integer_state(self) -> frozenset[str]:
        """The keys of :meth:`initial_state` that are counters (ints >= 0)."""
        return frozenset()

    def check_state(self, values: Any, path: str) -> dict[str, float]:
        """Loaded host state, checked: exactly the keys of :meth:`initial_state`, counters
        ints >= 0, the rest finite numbers > 0 (a subclass adds its own rules).

        Raises:
            StateDictError: naming ``path`` and the key.
        """
        if not isinstance(values, Mapping):
            raise StateDictError(f"{path}: must be a mapping. Received: {type(values).__name__}")
        expected = self.initial_state()
        if set(values) != set(expected):
            raise StateDictError(f"{path}: keys {sorted(map(str, values))} != expected {sorted(expected)}")
        out: dict[str, float] = {}
        for key in expected:
            value = values[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
                raise StateDictError(f"{path}.{key}: must be a number. Received: {value!r:.80}")
            number = float(value)
            if key in self.integer_state():
                if not number.is_integer() or number < 0:
                    raise StateDictError(f"{path}.{key}: must be an integer >= 0. Received: {value!r}")
                out[key] = int(number)
            else:
                if not math.isfinite(number) or number <= 0:
                    raise StateDictError(f"{path}.{key}: must be a finite number > 0. Received: {value!r}")
                out[key] = number
        return out

    def forward(self, ops: Any, grads: list[Any], call: PipelineCall) -> list[Any]:
        """This transform's part of a step, on the gradients (every gradient of the step, in
        parameter order): new gradients; may read and change ``call.state(self)`` and its
        slots (``call.slots``) and end the call early (``call.gate``). Decisions on values
        (the host numbers, ``call.step``, a finite check) go through the call's scalar
        methods (``call.where``, ``call.branch``, ...; :class:`~optbridge.transforms.pipeline.HostScalars`),
        never a Python ``if``, so a backend can trace the step whole. Default: :meth:`apply`."""
        return self.apply(ops, grads)

    def after(self, ops: Any, params: list[Any], call: PipelineCall) -> list[Any]:
        """This transform's part of a step after the update rule (``call.updated``: whether it
        ran): the parameters, written with the ``*_`` primitives. Default: unchanged."""
        return params

    def arguments(self) -> dict[str, Any]:
        """The fields, as given."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self) -> dict[str, Any]:
        """The config form: ``{"transform": name, **fields}``, without a field that is ``None``
        by default and left so (TOML has no null)."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        return {"transform": self.name,
                **{k: v for k, v in self.arguments().items() if not (v is None and defaults.get(k) is None)}}

    def describe(self) -> str:
        """One line for messages and reports: ``clip_by_global_norm(max_norm=1.0, form='torch')``."""
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.arguments().items())})"


def transform_from_dict(data: Mapping[str, Any], where: str = "transforms") -> GradientTransform:
    """The transform a config entry names (``{"transform": "clip_by_value", "clip_value": 1.0}``).

    Raises:
        SpecKeyError: no ``transform`` key, an unknown name, or an argument the transform
            does not take (each naming ``where``). SpecTypeError / SpecValueError: a bad value.
    """
    if not isinstance(data, Mapping):
        raise SpecTypeError(f"{where}: a transform is a mapping with a 'transform' key. Received: {data!r:.80}")
    if "transform" not in data:
        raise SpecKeyError(f"{where}: a transform needs a 'transform' key naming one of {sorted(transform_registry)}")
    name = data["transform"]
    cls = transform_registry.get(name) if isinstance(name, str) else None
    if cls is None:
        raise SpecKeyError(f"{where}.transform: unknown transform {name!r}; known: {sorted(transform_registry)}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(k for k in data if k != "transform" and k not in known)
    if unknown:
        raise SpecKeyError(f"{where}: {name!r} takes no argument(s) {unknown}; its arguments: {sorted(known)}")
    try:
        return cls(**{k: v for k, v in data.items() if k != "transform"})
    except (SpecTypeError, SpecValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from None


def check_transforms(transforms: Any, where: str = "transforms") -> tuple[GradientTransform, ...]:
    """``transforms`` (a sequence of transforms or of their config dicts) as a tuple of
    transforms, each checked.

    Raises:
        SpecTypeError: not a sequence, or an entry that is neither. SpecKeyError /
            SpecValueError: a bad entry, naming ``where[i]``.
    """
    if transforms is None:
        return ()
    if isinstance(transforms, (GradientTransform, Mapping, str, bytes)) or not isinstance(transforms, Sequence):
        raise SpecTypeError(f"{where} must be a list of transforms. Received: {type(transforms).__name__}")
    out = []
    for i, entry in enumerate(transforms):
        if isinstance(entry, GradientTransform):
            out.append(entry)
        elif isinstance(entry, Mapping):
            out.append(transform_from_dict(entry, f"{where}[{i}]"))
        else:
            raise SpecTypeError(f"{where}[{i}] must be a transform or its config dict. Received: {entry!r:.80}")
    owners: dict[str, int] = {}
    for i, transform in enumerate(out):
        for slot in transform.slot_fills():
            if slot in owners:
                raise SpecValueError(f"{where}[{i}]: {transform.name!r} keeps the per-parameter array {slot!r} that "
                                     f"{where}[{owners[slot]}] keeps too; a spec holds one such transform")
            owners[slot] = i
    return tuple(out)


def transform_gradients(ops: Any, transforms: Sequence[GradientTransform], grads: Sequence[Any],
                        apply: Callable[[GradientTransform, list[Any]], list[Any]] | None = None) -> list[Any]:
    """Run ``transforms`` in order over ``grads`` (every gradient of the step, in parameter
    order) on the backend ``ops``; the gradients themselves when there are none. ``apply``
    (``apply(transform, grads) -> grads``): a backend's own way to run a transform (torch's
    total norm, FSDP2 shards) instead of ``transform.apply(ops, grads)``."""
    out = list(grads)
    if not out:
        return out
    for transform in transforms:
        out = transform.apply(ops, out) if apply is None else apply(transform, out)
    return out
