"""Base class of dialect optimizers: framework-faithful front doors that lower to a spec.

A dialect class keeps the original's signature, defaults and validation, stores its
arguments as given (so ``to_dict()`` writes back what the user wrote) and lowers to a
canonical :class:`~optbridge.spec.OptimizerSpec` with :meth:`to_canonical`.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import SpecValueError
from ..schedules.base import Schedule
from ..spec import OptimizerSpec

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

    def to_dict(self) -> dict[str, Any]:
        """The config form: ``{"format_version", "optimizer", **arguments}``."""
        data = {"format_version": CONFIG_FORMAT_VERSION, "optimizer": self.qualname}
        for key, value in self._arguments.items():
            if key in self.nested_optimizers:
                nested = value.to_dict()
                data[self.nested_optimizers[key]] = {k: v for k, v in nested.items() if v is not None}
            else:
                data[key] = to_data(value)
        return data

    @classmethod
    def argument_names(cls) -> list[str]:
        """Names the constructor accepts (used to reject unknown config keys)."""
        sig = inspect.signature(cls.__init__)
        return [n for n, p in sig.parameters.items() if n != "self" and p.kind is not p.VAR_KEYWORD]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DialectOptimizer):
            return NotImplemented
        return self.qualname == other.qualname and to_data(self._arguments) == to_data(other._arguments)

    def __hash__(self) -> int:
        return hash((self.qualname, repr(to_data(self._arguments))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._arguments.items())
        return f"{self.qualname}({args})"
