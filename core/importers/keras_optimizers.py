"""``optbridge.from_keras``: a ``keras.optimizers`` optimizer, or its serialised config, as a Keras-dialect spec.

What maps to what (Keras 3.15):

* the class ``keras.optimizers.<Name>`` (a live optimizer's class, or the config's
  ``class_name``) → the dialect class registered as ``"keras.optimizers.<Name>"``
  (``optbridge.dialects.keras.optimizers.<Name>``, same signature and defaults: the
  registry is the mapping table). A class the dialect lacks (``ScheduleFreeAdamW``,
  ``LossScaleOptimizer``, a registered custom class) is refused.
* the config (``optimizer.get_config()``, the ``"config"`` of
  ``keras.optimizers.serialize(optimizer)``) → the constructor's arguments, key for key
  (``name``, ``weight_decay``, ``beta_1``, ... and the base arguments such as
  ``clipnorm``, which the dialect accepts only at Keras's defaults, as it does when
  written by hand; a legacy ``decay`` is dropped with Keras's warning; a key Keras 3 does
  not take is refused with Keras's message).
* ``learning_rate``: a float → the float (a value Keras read back from its float32
  variable, ``0.10000000149011612``, is written as the shortest decimal with the same
  float32, ``0.1``: the spec computes its learning rate in float32, so the numbers are
  the same); a serialised schedule ``{"module": "keras.optimizers.schedules", "class_name":
  "CosineDecay", "config": {...}}`` → the dialect schedule of that class
  (``optbridge.dialects.keras.optimizers.schedules``, registered as
  ``"keras.optimizers.schedules.<Name>"``), argument for argument.
* a live optimizer's ``exclude_from_weight_decay(var_names=...)`` patterns → the spec's
  ``exclude_from_weight_decay`` (Keras joins them into one regular expression, imported as
  that one pattern). Keras does not serialise them, so for config data pass
  ``exclude_from_weight_decay=``. Variables excluded by object (``var_list=``) are refused:
  a config names parameters.

Config data is read without importing TensorFlow or Keras (a dict or its JSON text).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..dialects.base import DialectOptimizer, dialect_registry
from ..dialects.keras.optimizers._base import KerasOptimizer
from ..errors import ConfigError, SpecTypeError, SpecValueError
from ..schedules.base import Schedule, schedule_registry

__all__ = ["from_keras"]

_MODULES = ("keras.optimizers", "keras.src.optimizers")
_SCHEDULE_MODULES = ("keras.optimizers.schedules", "keras.src.optimizers.schedules")


def _importable(cls: type) -> bool:
    """A Keras-dialect optimizer class, or a wrapper of one (``LossScaleOptimizer``)."""
    return issubclass(cls, KerasOptimizer) or bool(getattr(cls, "wraps_optimizer", False))


def _known() -> list[str]:
    return sorted(q.rsplit(".", 1)[1] for q, c in dialect_registry.items()
                  if q.startswith("keras.optimizers.") and _importable(c))


def _dialect_class(class_name: Any, where: str) -> type[DialectOptimizer]:
    cls = dialect_registry.get(f"keras.optimizers.{class_name}") if isinstance(class_name, str) else None
    if cls is None or not _importable(cls):
        raise SpecTypeError(f"from_keras: {where}{class_name!r} is not a keras.optimizers class the Keras dialect "
                            f"has. Importable: {_known()}")
    return cls


def _float32_decimal(value: float) -> float:
    """``value`` as the shortest decimal of the same float32, if ``value`` is a float32 (else as is)."""
    single = np.float32(value)
    if not np.isfinite(single) or float(single) != value:
        return value
    short = float(str(single))  # NumPy prints the shortest decimal that reads back as this float32
    return short if np.float32(short) == single else value


def _schedule(data: Mapping[str, Any]) -> Schedule:
    """A serialised ``keras.optimizers.schedules`` object as the dialect's schedule."""
    class_name = data.get("class_name")
    module = data.get("module")
    registered = data.get("registered_name")
    if module is not None and module not in _SCHEDULE_MODULES:
        raise SpecTypeError(f"from_keras: 'learning_rate' is a {module}.{class_name}, not a keras.optimizers.schedules "
                            f"schedule")
    if registered not in (None, class_name):
        raise SpecTypeError(f"from_keras: 'learning_rate' is the registered custom schedule {registered!r}, which the "
                            f"Keras dialect does not have")
    cls = schedule_registry.get(f"keras.optimizers.schedules.{class_name}") if isinstance(class_name, str) else None
    if cls is None:
        known = sorted(k.rsplit(".", 1)[1] for k in schedule_registry if k.startswith("keras.optimizers.schedules."))
        raise SpecTypeError(f"from_keras: 'learning_rate' is a {class_name!r} schedule, which the Keras dialect does "
                            f"not have. Importable: {known}")
    config = data.get("config")
    if not isinstance(config, Mapping):
        raise ConfigError(f"from_keras: learning_rate.config must be a dict. Received: {config!r}")
    try:
        return cls(**config)
    except TypeError as exc:
        raise ConfigError(f"from_keras: learning_rate ({class_name}): {exc}") from None


def _arguments(config: Mapping[str, Any]) -> dict[str, Any]:
    """A Keras optimizer config as the dialect constructor's keyword arguments."""
    arguments = {str(k): v for k, v in config.items()}
    extensions = [k for k in ("params", "unassigned", "exclude_from_weight_decay") if k in arguments]
    if extensions:
        raise ConfigError(f"from_keras: {extensions} are not keys of a Keras optimizer config (they are optbridge's; "
                          "write the spec with optbridge.to_dict instead)")
    lr = arguments.get("learning_rate")
    if isinstance(lr, Mapping):
        arguments["learning_rate"] = _schedule(lr)
    elif isinstance(lr, float):
        arguments["learning_rate"] = _float32_decimal(lr)
    return arguments


def _from_live(optimizer: Any) -> tuple[type[DialectOptimizer], dict[str, Any], list[str] | None]:
    """The dialect class, config arguments and weight-decay exclusions of a live Keras optimizer."""
    cls_obj = type(optimizer)
    name = cls_obj.__name__
    keras_optimizers = sys.modules.get("keras.optimizers")
    if keras_optimizers is None or getattr(keras_optimizers, name, None) is not cls_obj:
        raise SpecTypeError(f"from_keras: {cls_obj.__module__}.{cls_obj.__qualname__} is not a keras.optimizers class "
                            f"the Keras dialect has (a subclass may step differently). Importable: {_known()}")
    cls = _dialect_class(name, "")
    if getattr(optimizer, "_exclude_from_weight_decay", None):
        raise SpecValueError(f"from_keras: this {name} excludes variables from weight decay by object "
                             "(exclude_from_weight_decay(var_list=...)), which a config cannot name; exclude them by "
                             "name instead (var_names=['bias', ...])")
    pattern = getattr(optimizer, "_exclude_from_weight_decay_pattern", None)
    exclude = [pattern.pattern] if pattern is not None else None
    return cls, _arguments(optimizer.get_config()), exclude


def _from_data(data: Any) -> tuple[type[DialectOptimizer], dict[str, Any]]:
    """The dialect class and arguments of ``keras.optimizers.serialize(...)`` data (a dict or JSON)."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ConfigError(f"from_keras: not JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise SpecTypeError(f"from_keras takes a keras.optimizers optimizer, its serialised config (a dict) or that "
                            f"config as JSON. Received: {type(data).__name__}")
    if "class_name" not in data or "config" not in data:
        raise ConfigError("from_keras: a serialised optimizer has the keys 'class_name' and 'config' (what "
                          "keras.optimizers.serialize(optimizer) returns); a bare get_config() dict does not name "
                          f"its class. Received keys: {sorted(map(str, data))}")
    module, class_name, registered = data.get("module"), data["class_name"], data.get("registered_name")
    if module is not None and module not in _MODULES:
        raise SpecTypeError(f"from_keras: {module}.{class_name} is not a keras.optimizers class. "
                            f"Importable: {_known()}")
    if registered not in (None, class_name):
        raise SpecTypeError(f"from_keras: {registered!r} is a registered custom optimizer, which the Keras dialect "
                            f"does not have. Importable: {_known()}")
    cls = _dialect_class(class_name, "class_name ")
    if not isinstance(data["config"], Mapping):
        raise ConfigError(f"from_keras: 'config' must be a dict. Received: {data['config']!r}")
    return cls, _arguments(data["config"])


def from_keras(optimizer: Any, *, exclude_from_weight_decay: Sequence[str] | None = None) -> DialectOptimizer:
    """The Keras-dialect spec of a Keras optimizer or its serialised config (see the module docstring).

    Building the result on the TensorFlow backend (``optbridge.keras(spec)`` in
    ``model.compile``, or ``optbridge.build(spec, variables)``) runs the optimizer's numbers.

    Args:
        optimizer: a ``keras.optimizers.<Name>`` instance; or ``keras.optimizers.serialize(opt)``
            (a dict ``{"module", "class_name", "config", ...}``) or its JSON text, read
            without importing TensorFlow or Keras.
        exclude_from_weight_decay: patterns for config data (Keras does not serialise
            them); a live optimizer's own patterns are read from it.

    Returns:
        The dialect optimizer, e.g. ``optimizers.Adam(learning_rate=schedules.CosineDecay(...), ...)``.

    Raises:
        SpecTypeError: a class or schedule the Keras dialect does not have; an input that
            is none of the accepted forms.
        ConfigError: malformed config data (not JSON, no ``class_name``/``config``).
        SpecValueError: variables excluded from weight decay by object; both a live
            optimizer's exclusions and ``exclude_from_weight_decay``; and whatever the
            dialect class refuses (Keras's messages, unmodelled arguments such as
            ``clipnorm``).
    """
    if isinstance(optimizer, (Mapping, str, bytes)):
        cls, arguments = _from_data(optimizer)
        exclude = list(exclude_from_weight_decay) if exclude_from_weight_decay is not None else None
    elif hasattr(optimizer, "get_config"):
        cls, arguments, exclude = _from_live(optimizer)
        if exclude_from_weight_decay is not None:
            raise SpecValueError("from_keras: exclude_from_weight_decay= is for config data; a live optimizer's own "
                                 "patterns are imported (call its exclude_from_weight_decay(var_names=...) instead)")
    else:
        raise SpecTypeError(f"from_keras takes a keras.optimizers optimizer, its serialised config (a dict) or that "
                            f"config as JSON. Received: {type(optimizer).__name__}")
    if getattr(cls, "wraps_optimizer", False):  # LossScaleOptimizer: the inner optimizer is imported too
        if exclude is not None:
            raise SpecValueError("from_keras: exclude_from_weight_decay belongs to the inner optimizer of a "
                                 f"{cls.__name__}")
        inner = arguments.get("inner_optimizer")
        live_inner = getattr(optimizer, "inner_optimizer", None)
        arguments["inner_optimizer"] = from_keras(live_inner if live_inner is not None else inner)
        return cls(**arguments)
    return cls(**arguments, exclude_from_weight_decay=exclude)
