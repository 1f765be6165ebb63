"""Configs: optimizer specs as plain data, and JSON / TOML / YAML files.

A config is ``{"format_version": 1, "optimizer": "<dialect qualname>", **arguments}``
(DESIGN.md section 8). Schedules appear as ``{"schedule": "<kind>", **arguments}``. Names
resolve through registries, never ``eval`` or pickle, so loading a config runs no code.
Unknown keys are rejected with the path to them (``params[1].lr.decay_stepz``). A
top-level ``conform`` table (settings of ``optbridge conform``) is accepted and ignored
here; :mod:`optbridge.conformance.cases` validates it.
"""
from __future__ import annotations

import inspect
import json
import math
import tomllib
from pathlib import Path
from typing import Any, Mapping

from .dialects.base import CONFIG_FORMAT_VERSION, DialectOptimizer, dialect_registry
from .errors import ConfigError
from .schedules.base import schedule_registry

__all__ = ["to_dict", "from_dict", "load", "read_data", "save", "dumps_toml", "validate"]

_TOP_KEYS = ("format_version", "optimizer", "conform")


def to_dict(spec: DialectOptimizer) -> dict[str, Any]:
    """The config form of a dialect optimizer (``None`` arguments are left out)."""
    if not isinstance(spec, DialectOptimizer):
        raise TypeError(f"to_dict takes a dialect optimizer (e.g. nn.Momentum). Received: {type(spec).__name__}")
    return {k: v for k, v in spec.to_dict().items() if v is not None}


def _check_schedule(data: Mapping[str, Any], path: str) -> None:
    kind = data.get("schedule")
    if kind not in schedule_registry:
        raise ConfigError(f"{path}.schedule: unknown schedule {kind!r}. Known: {sorted(schedule_registry)}")
    cls = schedule_registry[kind]
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    known = [n for n in params if n != "self"]
    for key in data:
        if key != "schedule" and key not in known:
            raise ConfigError(f"{path}.{key}: unknown argument for schedule {kind!r}. Known: {known}")


def _check_values(value: Any, path: str) -> None:
    if isinstance(value, Mapping) and "schedule" in value:
        _check_schedule(value, path)


def validate(data: Mapping[str, Any]) -> type[DialectOptimizer]:
    """Check a config's structure and return its dialect class.

    Raises:
        ConfigError: a missing or unknown ``format_version``/``optimizer``, an unknown key
            (top level, in a group, or in a schedule), with the path to it.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"<root>: a config must be a mapping. Received: {type(data).__name__}")
    version = data.get("format_version")
    if version != CONFIG_FORMAT_VERSION:
        raise ConfigError(f"format_version: expected {CONFIG_FORMAT_VERSION}. Received: {version!r}")
    name = data.get("optimizer")
    if name not in dialect_registry:
        raise ConfigError(f"optimizer: unknown optimizer {name!r}. Known: {sorted(dialect_registry)}")
    cls = dialect_registry[name]
    known = [cls.nested_optimizers.get(n, n) for n in cls.argument_names()]
    for key in data:
        if key not in _TOP_KEYS and key not in known:
            raise ConfigError(f"{key}: unknown argument for {name}. Known: {known}")
    for key in ("learning_rate", "lr", "weight_decay"):
        if key in data:
            _check_values(data[key], key)
    for key in cls.nested_optimizers.values():
        if isinstance(data.get(key), Mapping):
            try:
                validate(data[key])
            except ConfigError as exc:
                raise ConfigError(f"{key}.{exc}") from None
    groups = data.get("params")
    if isinstance(groups, list) and groups and all(isinstance(g, Mapping) for g in groups):
        for i, group in enumerate(groups):
            for key, value in group.items():
                if key not in cls.group_keys:
                    raise ConfigError(
                        f"params[{i}].{key}: unknown group key for {name}. Known: {list(cls.group_keys)}"
                    )
                _check_values(value, f"params[{i}].{key}")
    return cls


def _rebuild(value: Any, path: str) -> Any:
    from .schedules.base import schedule_from_config

    if isinstance(value, Mapping) and "schedule" in value:
        return schedule_from_config(value, path=path)
    return value


def _nested_optimizer(value: Any, path: str) -> DialectOptimizer:
    """A wrapped optimizer's config (``nn.LARS``'s ``base_optimizer``), errors prefixed with ``path``."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: must be an optimizer config (a mapping with 'format_version' and "
                          f"'optimizer'). Received: {type(value).__name__}")
    try:
        return from_dict(value)
    except ConfigError as exc:
        raise ConfigError(f"{path}.{exc}") from None


def from_dict(data: Mapping[str, Any]) -> DialectOptimizer:
    """Build the dialect optimizer a config describes (inverse of :func:`to_dict`)."""
    cls = validate(data)
    nested = {config_key: argument for argument, config_key in cls.nested_optimizers.items()}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in _TOP_KEYS:
            continue
        if key in nested:
            kwargs[nested[key]] = _nested_optimizer(value, key)
            continue
        if key == "params" and isinstance(value, list) and value and all(isinstance(g, Mapping) for g in value):
            value = [{k: _rebuild(v, f"params[{i}].{k}") for k, v in g.items()} for i, g in enumerate(value)]
        else:
            value = _rebuild(value, key)
        kwargs[key] = value
    if "params" in cls.argument_names():
        kwargs.setdefault("params", None)
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"<root>: arguments do not fit {cls.qualname}: {exc}") from None
    return cls(**kwargs)


# -- files ------------------------------------------------------------------------------
def _format(path: Path, fmt: str | None) -> str:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    fmt = {"yml": "yaml"}.get(fmt, fmt)
    if fmt not in ("json", "toml", "yaml"):
        raise ConfigError(f"{path}: unknown config format {fmt!r}; use .json, .toml, .yaml or .yml")
    return fmt


def _yaml():
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - exercised in the numpy-only env
        raise ConfigError("YAML configs need PyYAML: pip install 'optbridge[yaml]'") from exc
    return yaml


def read_data(path: str | Path, format: str | None = None) -> dict[str, Any]:
    """Read a config file (JSON, TOML or YAML by extension) as plain data; runs no code.

    Raises:
        ConfigError: unknown extension, unreadable file, invalid syntax, or a document
            that is not a mapping.
    """
    path = Path(path)
    fmt = _format(path, format)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        if fmt == "json":
            data = json.loads(text)
        elif fmt == "toml":
            data = tomllib.loads(text)
        else:
            data = _yaml().safe_load(text)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{path}: not valid {fmt.upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping. Received: {type(data).__name__}")
    return data


def load(path: str | Path, format: str | None = None) -> DialectOptimizer:
    """Read a config file (JSON, TOML or YAML by extension) and build its optimizer."""
    return from_dict(read_data(path, format))


def save(spec: DialectOptimizer, path: str | Path, format: str | None = None) -> Path:
    """Write ``spec`` as a config file; the format follows the extension."""
    path = Path(path)
    fmt = _format(path, format)
    data = to_dict(spec)
    if fmt == "json":
        text = json.dumps(data, indent=2) + "\n"
    elif fmt == "toml":
        text = dumps_toml(data)
    else:
        text = _yaml().safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {type(value).__name__} {value!r} to TOML")


def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "_-" for c in key):
        return key
    return json.dumps(key, ensure_ascii=False)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Serialise a config (nested dicts/lists of scalars, no ``None``) as TOML."""
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in data.items())
