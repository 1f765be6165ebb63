"""Portability checks of a spec against a model's parameter names (``optbridge validate``).

A spec written for one framework's names can resolve quietly differently on another's:
MindSpore's default weight-decay filter keys on the names ``gamma``/``beta``, so an
ungrouped ``nn.Momentum(..., weight_decay=1e-4)`` skips Keras ``bn/gamma`` but decays
torch ``bn.weight``; a torch-style selector ``"conv.weight"`` matches nothing among Keras
paths ``conv/kernel``. :func:`portability_warnings` says so, in words, before anything is
built; :func:`read_names` reads the names (and shapes, and optionally roles) of a model
from a file.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, GroupError
from .groups import ParamInfo, describe_selector, select
from .patterns import compile_name_pattern
from .roles import ROLES, param_roles
from .schedules.values import Constant, PerStep, Value
from .spec import OptimizerSpec

__all__ = ["read_names", "portability_warnings", "MINDSPORE_FILTER"]

#: What MindSpore's default weight-decay filter skips, in words.
MINDSPORE_FILTER = "names containing 'beta' or 'gamma' are not decayed"

_LINE = re.compile(r"(\S+)\s+(\(.*?\)|\[.*?\]|\S+)(?:\s+(\S+))?")


def _shape(text: Any, where: str) -> tuple[int, ...]:
    if isinstance(text, str):
        inner = text.strip()
        if inner[:1] in "([" and inner[-1:] in ")]":
            inner = inner[1:-1]
        parts = [p for p in re.split(r"[,x\s]+", inner) if p]
        if all(p.isdigit() for p in parts):
            return tuple(int(p) for p in parts)
    elif isinstance(text, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                 for d in text):
        return tuple(text)
    raise ConfigError(f"{where}: a shape is a list of ints >= 0 ('64,3,7,7', '(64,)', '()'). Received: {text!r}")


def _role(role: Any, where: str) -> str | None:
    if role is None:
        return None
    if role not in ROLES:
        raise ConfigError(f"{where}: a role is one of {list(ROLES)}. Received: {role!r}")
    return str(role)


def read_names(path: str | Path) -> list[ParamInfo]:
    """A model's parameters from a file, in model order.

    Two forms: JSON, ``{"name": [shape...]}`` or ``{"name": {"shape": [...], "role": "norm"}}``;
    or text, one parameter a line, ``NAME SHAPE [ROLE]`` (``bn1.weight 64 norm``,
    ``conv1.weight 64,3,7,7``, ``fc/kernel (2048, 1000)``), ``#`` starting a comment.
    A role given here is used as a model's would be; without it, the name/rank fallback.

    Raises:
        ConfigError: an unreadable file or a malformed entry, naming the line or key.
    """
    text = Path(path).read_text(encoding="utf-8")
    out: list[ParamInfo] = []
    if str(path).endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected an object {{name: shape}}. Received: {type(data).__name__}")
        for name, entry in data.items():
            where = f"{path}: {name!r}"
            if isinstance(entry, dict):
                unknown = [k for k in entry if k not in ("shape", "role")]
                if unknown or "shape" not in entry:
                    raise ConfigError(f"{where}: takes the keys 'shape' and 'role'. Received: {list(entry)}")
                out.append(ParamInfo(name, _shape(entry["shape"], where), _role(entry.get("role"), where)))
            else:
                out.append(ParamInfo(name, _shape(entry, where)))
    else:
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            match = _LINE.fullmatch(line)
            where = f"{path}:{number}"
            if match is None:
                raise ConfigError(f"{where}: expected 'NAME SHAPE [ROLE]'. Received: {line!r}")
            name, shape, role = match.groups()
            out.append(ParamInfo(name, _shape(shape, where), _role(role, where)))
    if not out:
        raise ConfigError(f"{path}: no parameter names")
    return out


def _per_step(spec: OptimizerSpec) -> list[tuple[str, PerStep]]:
    values: list[tuple[str, Value | None]] = [("learning rate", spec.lr), ("weight_decay", spec.weight_decay)]
    for g in spec.groups or ():
        values += [(f"groups[{g.source_index}] lr", g.lr), (f"groups[{g.source_index}] weight_decay", g.weight_decay)]
    return [(where, v) for where, v in values if isinstance(v, PerStep)]


def _shown(names: Sequence[str], limit: int = 4) -> str:
    return ", ".join(repr(n) for n in names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _decays(spec: OptimizerSpec) -> bool:
    values = [spec.weight_decay] + [g.weight_decay for g in spec.groups or () if g.weight_decay is not None]
    return any(not (isinstance(v, Constant) and v.value == 0.0) for v in values)


def portability_warnings(spec: OptimizerSpec, params: Sequence[ParamInfo] | None = None,
                         steps: int | None = None) -> list[str]:
    """What in ``spec`` may not mean on ``params`` what its author meant, one sentence each.

    * a group's selector, or ``order_params``, that matches no parameter (a build would
      refuse the empty group; the warning says which selector, and when the names are
      ``/`` paths and the selector a ``.`` name, that torch-style names do not match Keras
      paths and a ``{"role": ...}`` selector is portable);
    * MindSpore's default weight-decay filter (ungrouped, with weight decay) matching no
      parameter, or leaving norm parameters (role ``norm``) decayed;
    * a Keras ``exclude_from_weight_decay`` pattern matching no parameter;
    * with ``steps``, a per-step lr or weight-decay list shorter than ``steps`` (the
      step past its end raises ``ScheduleExhaustedError``).

    Args:
        spec: a canonical spec.
        params: the model's parameters (:func:`read_names`, a built-in layout); ``None``:
            only the per-step check.
        steps: the optimizer steps training will take, or ``None``.
    """
    warnings: list[str] = []
    if steps is not None:
        for where, value in _per_step(spec):
            if len(value.values) < steps:
                warnings.append(f"the per-step {where} list has {len(value.values)} entries, fewer than the "
                                f"{steps} planned steps: step {len(value.values)} will raise")
    if params is None:
        return warnings
    names = [p.name for p in params]
    paths = sum("/" in n for n in names) > len(names) // 2
    selectors: list[tuple[str, Any]] = [
        (f"groups[{g.source_index}]", g.params) for g in spec.groups or () if g.params != "*"]
    if spec.order_params is not None and spec.order_params != "*":
        selectors.append(("order_params", spec.order_params))
    for where, selector in selectors:
        label = f"{where} ({describe_selector(selector)})"
        try:
            matched = select(selector, params, label)
        except GroupError as exc:
            matched, reason = [], f"{exc}"
        else:
            reason = f"{label}: the selector matches no parameter"
        if not matched:
            texts = [selector] if isinstance(selector, str) else selector if isinstance(selector, list) else []
            if paths and any("." in t and "/" not in t for t in texts):
                reason += (". The names are '/' paths (Keras) and the selector names '.' paths (torch); "
                           "a {'role': ...} selector matches on both")
            warnings.append(reason)
    if spec.decay_filter == "mindspore" and _decays(spec):
        skipped = [n for n in names if "beta" in n or "gamma" in n]
        roles = param_roles(params)
        decayed_norms = [n for n in names if roles[n] == "norm" and n not in skipped]
        if not skipped:
            warnings.append(f"the default weight-decay filter ({MINDSPORE_FILTER}) matches no parameter: "
                            f"weight_decay applies to every parameter"
                            + (f", including the norm parameters {_shown(decayed_norms)}" if decayed_norms else ""))
        elif decayed_norms:
            warnings.append(f"the default weight-decay filter ({MINDSPORE_FILTER}) leaves the norm parameters "
                            f"{_shown(decayed_norms)} decayed")
        if decayed_norms:
            warnings[-1] += ("; a group {'params': {'role': 'norm'}, 'weight_decay': 0.0} skips them on every "
                             "framework")
    for pattern in spec.decay_exclude:
        if not any(compile_name_pattern(pattern).search(n) for n in names):
            warnings.append(f"the exclude_from_weight_decay pattern {pattern!r} matches no parameter")
    return warnings
