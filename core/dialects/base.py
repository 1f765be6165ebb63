"""Base class of dialect optimizers: framework-faithful front doors that lower to a spec.

A dialect class keeps the original's signature, defaults and validation, stores its
arguments as given (so ``to_dict()`` writes back what the user wrote) and lowers to a
canonical :class:`~optbridge.spec.OptimizerSpec` with :meth:`to_canonical`.
"""
from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import SpecValueError
from ..schedules.base import Schedule
from ..spec import OptimizerSpec
from ..transforms.base import GradientTransform, check_transforms

__all__ = ["DialectOptimizer", "dialect_registry", "register_dialect", "to_data", "check_fits_float",
           "CONFIG_FORMAT_VERSION"]

CONFIG_FORMAT_VERSION = 1
dialect_registry: dict[str, type[DialectOptimizer]] = {}


def register_dialect(cls: type[DialectOptimizer]) -> type[DialectOptimizer]:
    """Class decorator: make a dialect optimizer constructible from configs by ``qualname``."""
    existing = dialect_registry.get(cls.qualname)
    if existing is not None and existing is not cls:
        raise ValueError(f"dialect optimizer {cls.qualname!r} is already registered by {existing.__qualname__}")
    dialect_registry[cls.qualname] = cls
    return cls


def check_fits_float(name: str, value: Any, where: str = "") -> None:
    """Refuse an integer too large for a float (``|x| >= 2**1024``), alone or in a per-step list.

    ``float(10**400)`` raises ``OverflowError``; a dialect converts every hyperparameter to a
    float, so such an integer is refused up front with a ``SpecValueError`` naming ``name``
    (the message gives the bit length: ``str()`` of a huge int may itself raise).
    """
    entries = value if isinstance(value, (list, tuple)) else (value,)
    for i, entry in enumerate(entries):
        if isinstance(entry, int) and not isinstance(entry, bool) and abs(entry) >= 2**1024:
            at = f"{name}[{i}]" if entries is value else name
            raise SpecValueError(f"{where}'{at}' must fit a float (|x| < 2**1024). Received an integer of "
                                 f"{abs(entry).bit_length()} bits")


def to_data(value: Any) -> Any:
    """Convert an argument to JSON-compatible data (schedules to their dict form)."""
    if isinstance(value, Schedule):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    return value


class DialectOptimizer:
    """An optimizer as its origin framework spells it.

    Subclasses set ``qualname`` (``"mindspore.nn.Momentum"``), validate in ``__init__``
    exactly as the original does, call :meth:`_record` with their arguments, and
    implement :meth:`to_canonical`.
    """

    qualname: ClassVar[str] = ""
    #: keys a group dict may hold, besides the algorithm's hyperparameters
    group_keys: ClassVar[tuple[str, ...]] = ()
    #: ``{argument: config key}`` for arguments that hold another dialect optimizer (a
    #: wrapper such as ``nn.LARS``); configs store that optimizer's own config under the
    #: key, since the config's ``optimizer`` key names the class itself
    nested_optimizers: ClassVar[dict[str, str]] = {}
    #: arguments the origin framework requires as tuples (MindSpore ``nn.Rprop``'s ``etas``):
    #: the constructor refuses a list as the original does, while :func:`optbridge.from_dict`
    #: turns a config's list (JSON, TOML and YAML have no tuples) into the tuple
    tuple_arguments: ClassVar[tuple[str, ...]] = ()

    _arguments: dict[str, Any]
    #: the gradient transforms :meth:`with_transforms` added (after any the dialect's own
    #: arguments lower to, such as Keras ``clipnorm``)
    _transforms: tuple[GradientTransform, ...] = ()
    _lowering: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("to_canonical")
        if own is not None:
            cls.to_canonical = _with_added_transforms(own)  # type: ignore[method-assign,assignment]

    if TYPE_CHECKING:
        # each subclass takes its origin framework's arguments; code reaching a class through
        # dialect_registry calls it with them
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def _record(self, arguments: Mapping[str, Any]) -> None:
        self._arguments = dict(arguments)

    @property
    def arguments(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return dict(self._arguments)

    def to_canonical(self) -> OptimizerSpec:
        raise NotImplementedError

    @property
    def transforms(self) -> tuple[GradientTransform, ...]:
        """The gradient transforms added with :meth:`with_transforms`."""
        return self._transforms

    def with_transforms(self, *transforms: GradientTransform | Mapping[str, Any]) -> DialectOptimizer:
        """A copy of this optimizer whose spec runs ``transforms`` (transforms or their config
        dicts, :mod:`optbridge.transforms`) on the gradients, after any transform its own
        arguments lower to; a config carries them under ``transforms``::

            opt = optim.AdamW(None, lr=1e-3).with_transforms(ClipByGlobalNorm(1.0))  # clip_grad_norm_

        Raises:
            SpecTypeError / SpecKeyError / SpecValueError: a bad transform (nothing is built).
        """
        added = check_transforms(list(transforms), "with_transforms")
        other = copy.copy(self)
        other._arguments = dict(self._arguments)
        other._transforms = self._transforms + added
        return other

    def to_dict(self) -> dict[str, Any]:
        """The config form: ``{"format_version", "optimizer", **arguments}``, and
        ``transforms`` when :meth:`with_transforms` added some."""
        data = {"format_version": CONFIG_FORMAT_VERSION, "optimizer": self.qualname}
        for key, value in self._arguments.items():
            if key in self.nested_optimizers:
                nested = value.to_dict()
                data[self.nested_optimizers[key]] = {k: v for k, v in nested.items() if v is not None}
            else:
                data[key] = to_data(value)
        if self._transforms:
            data["transforms"] = [t.to_dict() for t in self._transforms]
        return data

    @classmethod
    def argument_names(cls) -> list[str]:
        """Names the constructor accepts (used to reject unknown config keys)."""
        sig = inspect.signature(cls.__init__)
        return [n for n, p in sig.parameters.items() if n != "self" and p.kind is not p.VAR_KEYWORD]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DialectOptimizer):
            return NotImplemented
        return (self.qualname == other.qualname and to_data(self._arguments) == to_data(other._arguments)
                and self._transforms == other._transforms)

    def __hash__(self) -> int:
        return hash((self.qualname, repr(to_data(self._arguments)), self._transforms))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._arguments.items())
        added = "".join(f".with_transforms({t!r})" for t in self._transforms)
        return f"{self.qualname}({args}){added}"


def _with_added_transforms(to_canonical: Callable[[Any], OptimizerSpec]) -> Callable[[Any], OptimizerSpec]:
    """``to_canonical`` whose spec also runs the optimizer's :attr:`DialectOptimizer.transforms`
    (once, however a class's ``to_canonical`` chains to its base's)."""

    @functools.wraps(to_canonical)
    def lowered(self: DialectOptimizer) -> OptimizerSpec:
        if self._lowering or not self._transforms:
            return to_canonical(self)
        self._lowering = True
        try:
            spec = to_canonical(self)
        finally:
            self._lowering = False
        return spec.with_transforms(*self._transforms)

    return lowered
