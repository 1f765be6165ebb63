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
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from ..errors import SpecKeyError, SpecTypeError, SpecValueError

__all__ = ["GradientTransform", "register_transform", "transform_registry", "transform_from_dict",
           "transform_gradients", "check_transforms", "check_positive", "check_choice"]

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

    def apply(self, ops: Any, grads: list[Any]) -> list[Any]:
        """The transformed gradients (new arrays; ``grads`` is not written)."""
        raise NotImplementedError

    def arguments(self) -> dict[str, Any]:
        """The fields, as given."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self) -> dict[str, Any]:
        """The config form: ``{"transform": name, **fields}``."""
        return {"transform": self.name, **self.arguments()}

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
