"""Configs: optimizer specs as plain data, and JSON / TOML / YAML files.

A config is ``{"format_version": 1, "optimizer": "<dialect qualname>", **arguments}``
(DESIGN.md section 8), with an optional ``transforms`` list (the gradient pipeline,
:mod:`optbridge.transforms`: ``[{"transform": "clip_by_global_norm", "max_norm": 1.0}]``).
Schedules appear as ``{"schedule": "<kind>", **arguments}``. Names resolve through
registries, never ``eval`` or pickle, so loading a config runs no code.
Unknown keys are rejected with the path to them (``params[1].lr.decay_stepz``). A
top-level ``conform`` table (settings of ``optbridge conform``) is accepted and ignored
here; :mod:`optbridge.conformance.cases` validates it.

Bounds, so that no config can make loading hang or exhaust memory (each violation is a
:class:`~optbridge.errors.ConfigError` naming the path):

* nesting at most :data:`MAX_DEPTH` containers deep, and at most :data:`MAX_VALUES`
  values in all, counted *expanded*: a list or mapping that appears in several places
  (a YAML alias, or one Python object referenced twice) counts once per appearance; a
  container that contains itself is refused;
* no integer too large to be a float (``|x| >= 2**1024``): every number a dialect
  takes ends up as a float or a step count;
* files: at most :data:`MAX_FILE_BYTES` bytes, UTF-8; YAML documents are composed
  first and their expanded size checked *before* any Python object is built, so an
  "alias bomb" (a few hundred bytes asking for gigabytes) is refused in microseconds.
"""
from __future__ import annotations

import inspect
import json
import math
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .dialects.base import CONFIG_FORMAT_VERSION, DialectOptimizer, dialect_registry
from .errors import ConfigError, OptbridgeError
from .schedules.base import schedule_registry
from .transforms.base import check_transforms

__all__ = [
    "to_dict", "from_dict", "load", "read_data", "save", "dumps_toml", "validate", "check_structure",
    "nested_optimizer",
    "MAX_DEPTH", "MAX_VALUES", "MAX_FILE_BYTES",
]

_TOP_KEYS = ("format_version", "optimizer", "conform", "transforms")

#: Deepest nesting of lists/mappings a config may have (the top-level mapping is depth 1).
MAX_DEPTH = 64
#: Most values (containers, keys and scalars, aliases expanded) a config may hold.
MAX_VALUES = 1_000_000
#: Largest config file, in bytes.
MAX_FILE_BYTES = 64 * 1024 * 1024
_FLOAT_LIMIT = 2**1024


def _path_join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _check_expanded_size(root: Any, where: str, expand: Callable[[Any, str], Iterable[tuple[Any, str]] | None], *,
                         noun: str, cycle: str, counted: str) -> None:
    """Walk a graph of containers whose nodes may be shared (aliases, reused lists) and
    refuse it past the bounds, in time proportional to its *distinct* nodes: each node's
    expanded size is memoised.

    ``expand(node, where)`` returns ``(child, child's where)`` pairs, or ``None`` for a
    leaf (one value); it may raise for a bad leaf.

    Raises:
        ConfigError: a node inside itself (``cycle``), nesting deeper than
            :data:`MAX_DEPTH`, or more than :data:`MAX_VALUES` values expanded.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any, at: str, depth: int) -> int:
        children = expand(node, at)
        if children is None:
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        place = at or "<root>"
        if key in active:
            raise ConfigError(f"{place}: {cycle}")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{place}: the {noun} nests deeper than {MAX_DEPTH} levels")
        active.add(key)
        total = 1
        for child, child_at in children:
            total += size(child, child_at, depth + 1)
            if total > MAX_VALUES:
                raise ConfigError(f"{place}: the {noun} holds more than {MAX_VALUES} values {counted}")
        active.discard(key)
        sizes[key] = total
        return total

    size(root, where, 1)


def check_structure(data: Any, path: str = "") -> None:
    """Check a config's size, depth and numbers (see the module docstring's bounds).

    Costs time proportional to the number of *distinct* objects, however often they are
    shared (expanded sizes are memoised per object).

    Raises:
        ConfigError: nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_VALUES`
            values expanded, a container inside itself, or an integer beyond the float
            range; the message names the path.
    """
    def expand(value: Any, where: str) -> Iterator[tuple[Any, str]] | None:
        if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
            return None
        if isinstance(value, int):
            if abs(value) >= _FLOAT_LIMIT:
                # bit_length, not str(): str() of an int past 4300 digits raises ValueError
                sign = "-" if value < 0 else ""
                raise ConfigError(f"{where or '<root>'}: the integer {sign}2**{abs(value).bit_length() - 1}... is too "
                                  f"large; numbers must fit a float (|x| < 2**1024)")
            return None
        if isinstance(value, Mapping):
            # a key counts as one value (None: a leaf)
            return ((c, w) for k, v in value.items() for c, w in ((None, where), (v, _path_join(where, k))))
        if isinstance(value, (list, tuple)):
            return ((v, _path_join(where, i)) for i, v in enumerate(value))
        return None

    _check_expanded_size(data, path, expand, noun="config", cycle="a list or mapping contains itself",
                         counted="(aliases and shared lists count once per use)")


def to_dict(spec: DialectOptimizer) -> dict[str, Any]:
    """The config form of a dialect optimizer. A ``None`` argument is left out where ``None``
    is its default (loading gives it back); where the default is something else (Keras
    Muon's ``adam_weight_decay=None``: no decay, default 0.004) it is kept, as ``null``
    (JSON and YAML; TOML has no null, :func:`save` to TOML refuses it by name)."""
    if not isinstance(spec, DialectOptimizer):
        raise TypeError(f"to_dict takes a dialect optimizer (e.g. nn.Momentum). Received: {type(spec).__name__}")
    defaults = {n: p.default for n, p in inspect.signature(type(spec).__init__).parameters.items()}
    kept_none = {k for k, d in defaults.items() if d is not None and d is not inspect.Parameter.empty}
    return {k: v for k, v in spec.to_dict().items() if v is not None or k in kept_none}


def _check_schedule(data: Mapping[str, Any], path: str) -> None:
    kind = data.get("schedule")
    if not isinstance(kind, str) or kind not in schedule_registry:
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
    check_structure(data)
    version = data.get("format_version")
    if isinstance(version, bool) or version != CONFIG_FORMAT_VERSION:
        raise ConfigError(f"format_version: expected {CONFIG_FORMAT_VERSION}. Received: {version!r}")
    name = data.get("optimizer")
    if not isinstance(name, str) or name not in dialect_registry:
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
        try:
            return schedule_from_config(value, path=path)
        except ConfigError:
            raise
        except OptbridgeError as exc:  # the schedule's own check: same type, with the config path
            raise _at(path, exc) from exc
    return value


def _at(path: str, exc: OptbridgeError) -> OptbridgeError:
    """``exc`` again (same class) with ``path`` in front of its message."""
    text = str(exc)
    return type(exc)(text if text.startswith(path) else f"{path}: {text}")


def nested_optimizer(value: Any, path: str) -> DialectOptimizer:
    """A wrapped optimizer's config (``nn.LARS``'s ``base_optimizer``, a Keras
    ``LossScaleOptimizer``'s or ``OptimizerMap``'s optimizers), errors prefixed with ``path``."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: must be an optimizer config (a mapping with 'format_version' and "
                          f"'optimizer'). Received: {type(value).__name__}")
    try:
        return from_dict(value)
    except ConfigError as exc:
        raise ConfigError(f"{path}.{exc}") from None


def from_dict(data: Mapping[str, Any]) -> DialectOptimizer:
    """Build the dialect optimizer a config describes (inverse of :func:`to_dict`).

    Raises:
        ConfigError: a malformed config (see :func:`validate` and the bounds in the module
            docstring), with the path to the bad key.
        SpecTypeError, SpecValueError: the dialect class or a schedule refuses its
            arguments (a schedule's error carries its config path, e.g. ``lr: ...``).
    """
    cls = validate(data)
    nested = {config_key: argument for argument, config_key in cls.nested_optimizers.items()}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in _TOP_KEYS:
            continue
        if key in nested:
            kwargs[nested[key]] = nested_optimizer(value, key)
            continue
        if key == "params" and isinstance(value, list) and value and all(isinstance(g, Mapping) for g in value):
            value = [{k: _rebuild(v, f"params[{i}].{k}") for k, v in g.items()} for i, g in enumerate(value)]
        else:
            value = _rebuild(value, key)
        kwargs[key] = value
    for key in cls.tuple_arguments:
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    if "params" in cls.argument_names():
        kwargs.setdefault("params", None)
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"<root>: arguments do not fit {cls.qualname}: {exc}") from None
    optimizer = cls(**kwargs)
    if "transforms" in data:
        try:
            return optimizer.with_transforms(*check_transforms(data["transforms"]))
        except ConfigError:
            raise
        except OptbridgeError as exc:
            raise _at("transforms", exc) from exc
    return optimizer


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
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: the file is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from None
    try:
        if fmt == "json":
            data = json.loads(text)
        elif fmt == "toml":
            data = tomllib.loads(text)
        else:
            data = _yaml_load(text, str(path))
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError(f"{path}: the {fmt.upper()} document nests deeper than {MAX_DEPTH} levels") from None
    except Exception as exc:
        raise ConfigError(f"{path}: not valid {fmt.upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping. Received: {type(data).__name__}")
    check_structure(data, "")
    return data


def _yaml_load(text: str, where: str) -> Any:
    """``yaml.safe_load`` that checks the composed node graph before building objects.

    Aliases make the composed graph a DAG (or a cycle): its expanded size is computed
    once per node, so a bomb is measured, not expanded.
    """
    yaml = _yaml()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        def expand(n: Any, _: str) -> Iterator[tuple[Any, str]] | None:
            if isinstance(n, yaml.ScalarNode):
                return None
            children = [c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode) else n.value
            return ((c, where) for c in children)

        _check_expanded_size(node, where, expand, noun="YAML document",
                             cycle="a YAML alias refers to a node that contains it",
                             counted="once its aliases are expanded")
        return loader.construct_document(node)
    finally:
        loader.dispose()


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
    """Serialise a config (nested dicts/lists of scalars, no ``None``) as TOML.

    Raises:
        ConfigError: a value TOML cannot hold (``None``: TOML has no null), naming its key.
    """
    for key, value in data.items():
        if value is None:
            raise ConfigError(f"{key}: TOML has no null, and this config needs {key}=None (not its default); "
                              f"save it as JSON or YAML")
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in data.items())
