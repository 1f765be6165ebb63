"""Parameter groups as data: selectors and their resolution against named parameters.

A group's ``params`` is a *selector*, never a framework object, so a config is plain data
(DESIGN.md section 3). Selector forms:

* ``"fc.weight"`` — an exact name; ``"layer1.*.weight"`` — a glob (``fnmatch``, ``*``
  crosses dots); ``"*"`` — every parameter that no *earlier* group claimed.
* ``["fc.weight", "fc.bias", "conv*"]`` — a list of names/globs, taken in list order
  (each glob's matches in model order).
* ``{"regex": "conv\\\\d+\\\\.weight"}`` — names that the regular expression matches in full
  (as ``re.fullmatch``), matched in linear time by :class:`optbridge.patterns.NamePattern`
  so no pattern can make resolution hang; backreferences, lookarounds, conditionals,
  atomic groups and possessive quantifiers are refused (see :mod:`optbridge.patterns`).
* ``{"name_contains": ["bn", "norm"]}`` — names containing any of the substrings.
* ``{"ndim": 4}``, ``{"min_ndim": 2}``, ``{"max_ndim": 1}`` — by tensor rank.
* ``{"role": "norm"}``, ``{"role": ["bias", "norm"]}`` — by role (``bias``, ``norm``,
  ``embedding``, ``weight``): from the model's module/layer types where the backend knows
  them, else by the name/rank fallback of :mod:`optbridge.roles`.
* ``{"regex": ".*kernel", "exclude_names": ["dense/kernel"]}`` — ``exclude_names``: exact
  names the selector does not pick (names that are no parameter are ignored).
  Keys of one dict combine with AND: ``{"name_contains": "conv", "ndim": 4}``,
  ``{"role": "weight", "ndim": 2}``.

Resolution follows MindSpore's rules: no group may be empty, no parameter may be in two
groups, ``order_params`` must hold exactly the grouped parameters, and a parameter that
no group claims is an error unless the spec says ``unassigned="frozen"``. Errors name the
group index and its selector.
"""
from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import DuplicateParameterError, GroupError, SelectorTypeError
from .patterns import compile_name_pattern
from .roles import ROLES, param_roles

__all__ = [
    "ParamInfo",
    "ResolvedGroup",
    "Resolution",
    "select",
    "describe_selector",
    "validate_selector",
    "resolve_groups",
    "restrict",
]

_DICT_KEYS = ("regex", "name_contains", "ndim", "min_ndim", "max_ndim", "role", "exclude_names")
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class ParamInfo:
    """What resolution needs to know of a parameter: its name, its shape and, where the
    backend knows it from the model's module or layer types, its role (one of
    :data:`optbridge.roles.ROLES`; ``None``: the name/rank fallback decides)."""

    name: str
    shape: tuple[int, ...]
    role: str | None = None


@dataclass(frozen=True)
class ResolvedGroup:
    """A group bound to parameter names. ``index`` is the position in the user's list."""

    index: int
    label: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Resolution:
    """The outcome of :func:`resolve_groups`.

    Attributes:
        groups: resolved groups, in the user's order.
        order: the optimizer's parameter order (``order_params`` if given, else the
            concatenation of the groups).
        frozen: parameters no group claimed (only with ``unassigned="frozen"``).
    """

    groups: tuple[ResolvedGroup, ...]
    order: tuple[str, ...]
    frozen: tuple[str, ...]


def describe_selector(selector: Any) -> str:
    """Short text for a selector, used in messages: ``'conv*'``, ``['a', 'b']``, ``{'ndim': 4}``."""
    text = repr(selector)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_selector(selector: Any, where: str) -> None:
    """Check a selector's form (not whether it matches anything).

    Raises:
        GroupError: naming ``where`` (e.g. ``groups[2]``), the rule and the value.
    """
    if isinstance(selector, str):
        if not selector:
            raise GroupError(f"{where}: a selector string must not be empty")
        return
    if isinstance(selector, Mapping):
        unknown = [k for k in selector if k not in _DICT_KEYS]
        if unknown or not selector:
            raise GroupError(
                f"{where}: a selector dict takes the keys {list(_DICT_KEYS)}, got {list(selector)}"
            )
        if "regex" in selector:
            if not isinstance(selector["regex"], str):
                raise GroupError(f"{where}: 'regex' must be a string. Received: {selector['regex']!r}")
            try:
                compile_name_pattern(selector["regex"])
            except re.error as exc:
                raise GroupError(f"{where}: 'regex' {selector['regex']!r} does not compile: {exc}") from None
            except ValueError as exc:
                raise GroupError(f"{where}: 'regex': {exc}") from None
        if "name_contains" in selector:
            parts = selector["name_contains"]
            parts = [parts] if isinstance(parts, str) else parts
            if not isinstance(parts, (list, tuple)) or not parts or not all(isinstance(p, str) for p in parts):
                raise GroupError(
                    f"{where}: 'name_contains' must be a string or a non-empty list of strings. "
                    f"Received: {selector['name_contains']!r}"
                )
        if "exclude_names" in selector:
            names = selector["exclude_names"]
            if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
                raise GroupError(
                    f"{where}: 'exclude_names' must be a non-empty list of names (strings). "
                    f"Received: {names!r:.80}"
                )
        if "role" in selector:
            roles = selector["role"]
            roles = [roles] if isinstance(roles, str) else roles
            if not isinstance(roles, (list, tuple)) or not roles or not all(r in ROLES for r in roles):
                raise GroupError(
                    f"{where}: 'role' must be one of {list(ROLES)} or a non-empty list of them. "
                    f"Received: {selector['role']!r}"
                )
        for key in ("ndim", "min_ndim", "max_ndim"):
            if key in selector:
                v = selector[key]
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise GroupError(f"{where}: '{key}' must be an int >= 0. Received: {v!r}")
        return
    if isinstance(selector, (list, tuple)):
        if not selector:
            raise GroupError(f"{where}: the parameter list must not be empty")
        for i, item in enumerate(selector):
            if not isinstance(item, str):
                raise SelectorTypeError(
                    f"{where}: entries of a parameter list must be names or globs (str); "
                    f"entry {i} is {item!r} of type {type(item).__name__}"
                )
            if not item:
                raise GroupError(
                    f"{where}: entries of a parameter list must be non-empty names or globs; "
                    f"entry {i} is {item!r}"
                )
        return
    raise SelectorTypeError(
        f"{where}: a selector must be a name, a glob, a list of them or a dict with keys "
        f"{list(_DICT_KEYS)}. Received: {selector!r} of type {type(selector).__name__}"
    )


def _match_dict(selector: Mapping[str, Any], info: ParamInfo, role: str) -> bool:
    if "exclude_names" in selector and info.name in selector["exclude_names"]:
        return False
    if "regex" in selector and not compile_name_pattern(selector["regex"]).fullmatch(info.name):
        return False
    if "name_contains" in selector:
        parts = selector["name_contains"]
        parts = [parts] if isinstance(parts, str) else parts
        if not any(p in info.name for p in parts):
            return False
    ndim = len(info.shape)
    if "ndim" in selector and ndim != selector["ndim"]:
        return False
    if "min_ndim" in selector and ndim < selector["min_ndim"]:
        return False
    if "max_ndim" in selector and ndim > selector["max_ndim"]:
        return False
    if "role" in selector:
        roles = selector["role"]
        if role not in ([roles] if isinstance(roles, str) else roles):
            return False
    return True


def _unknown_name(name: str, known: Sequence[str], where: str) -> GroupError:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return GroupError(f"{where}: there is no parameter named {name!r}.{hint}")


def select(selector: Any, params: Sequence[ParamInfo], where: str = "selector") -> list[str]:
    """Names that ``selector`` picks from ``params``, in selector order, without repeats.

    ``"*"`` here means every parameter; the "not claimed earlier" rule is applied by
    :func:`resolve_groups`.

    Raises:
        GroupError: an exact name that is not a parameter (with close matches).
    """
    validate_selector(selector, where)
    names = [p.name for p in params]
    if isinstance(selector, Mapping):
        roles = param_roles(params) if "role" in selector else {}
        return [p.name for p in params if _match_dict(selector, p, roles.get(p.name, ""))]
    items = [selector] if isinstance(selector, str) else list(selector)
    known = set(names)
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        if _GLOB_CHARS & set(item):
            matched = [n for n in names if fnmatch.fnmatchcase(n, item)]
        elif item in known:
            matched = [item]
        else:
            raise _unknown_name(item, names, where)
        for n in matched:
            if n not in seen:
                seen.add(n)
                out.append(n)
    return out


def resolve_groups(
    groups: Sequence[Any] | None,
    params: Sequence[ParamInfo],
    *,
    order_params: Any = None,
    unassigned: str = "error",
    labels: Iterable[int] | None = None,
    optional: Iterable[bool] | None = None,
) -> Resolution:
    """Bind group selectors to parameter names following MindSpore's rules.

    Args:
        groups: selectors, one per group, or ``None`` for one group of every parameter.
        params: the model's named parameters, in model order.
        order_params: a selector giving the update order, or ``None``.
        unassigned: ``"error"`` or ``"frozen"``.
        labels: the user-facing index of each group (defaults to 0, 1, ...).
        optional: for each group, whether it may match no parameter (it then resolves to
            an empty group instead of raising; Keras ``MultiOptimizer`` builds no inner
            optimizer that no variable maps to). Default: no group may be empty.

    Raises:
        GroupError: an empty group, a parameter claimed by no group (with
            ``unassigned="error"``), or ``order_params`` not matching the grouped set.
        DuplicateParameterError: a parameter claimed by two groups.
    """
    if unassigned not in ("error", "frozen"):
        raise GroupError(f"'unassigned' must be 'error' or 'frozen'. Received: {unassigned!r}")
    if not params:
        raise GroupError("the model has no parameters to optimize")
    seen_names: set[str] = set()
    for p in params:
        if p.name in seen_names:
            raise GroupError(f"two parameters share the name {p.name!r}; names must be unique")
        if p.role is not None and p.role not in ROLES:
            raise GroupError(f"parameter {p.name!r} has the role {p.role!r}; a role is one of {list(ROLES)}")
        seen_names.add(p.name)
    selectors = ["*"] if groups is None else list(groups)
    indices = list(labels) if labels is not None else list(range(len(selectors)))
    may_be_empty = list(optional) if optional is not None else [False] * len(selectors)
    owner: dict[str, int] = {}
    resolved: list[ResolvedGroup] = []
    for pos, (selector, index) in enumerate(zip(selectors, indices)):
        label = describe_selector(selector)
        where = f"groups[{index}] ({label})"
        if selector == "*":
            names = [p.name for p in params if p.name not in owner]
        else:
            names = select(selector, params, where)
            for n in names:
                if n in owner:
                    first = resolved[owner[n]]
                    raise DuplicateParameterError(
                        f"{where}: parameter {n!r} is already in groups[{first.index}] ({first.label}); "
                        f"a parameter may belong to one group only"
                        + (" ('*' takes every parameter not claimed by an earlier group: put it last)"
                           if first.label == "'*'" else "")
                    )
        if not names and not may_be_empty[pos]:
            raise GroupError(f"{where}: the selector matches no parameter; a group must not be empty")
        for n in names:
            owner[n] = pos
        resolved.append(ResolvedGroup(index=index, label=label, names=tuple(names)))

    leftover = [p.name for p in params if p.name not in owner]
    if leftover and unassigned == "error":
        shown = ", ".join(repr(n) for n in leftover[:5]) + (" ..." if len(leftover) > 5 else "")
        raise GroupError(
            f"{len(leftover)} parameter(s) belong to no group: {shown}. Add a group with "
            f"params='*' to take the rest, or set unassigned='frozen' to leave them untouched"
        )
    grouped = [n for g in resolved for n in g.names]
    if order_params is None:
        order = tuple(grouped)
    else:
        order_list = select(order_params, params, "order_params")
        grouped_set = set(grouped)
        missing = [n for n in grouped if n not in set(order_list)]
        extra = [n for n in order_list if n not in grouped_set]
        if missing or extra or len(order_list) != len(grouped):
            raise GroupError(
                "order_params must hold exactly the grouped parameters: "
                f"got {len(order_list)} name(s) for {len(grouped)} grouped parameter(s)"
                + (f"; missing {missing[:5]}" if missing else "")
                + (f"; not in any group {extra[:5]}" if extra else "")
            )
        order = tuple(order_list)
    return Resolution(groups=tuple(resolved), order=order, frozen=tuple(leftover))


def restrict(resolution: Resolution, names: Sequence[str]) -> Resolution:
    """``resolution`` keeping only ``names``: each group, the order and the frozen parameters
    keep their names among ``names``, in the order of ``names``; a group may end up empty.

    The groups of one process's share of a model (``ZeroRedundancyOptimizer`` gives each
    process a partition of the parameters, in an order of its own): resolved over the
    whole model, then restricted, every process has the same groups whatever its share.
    """
    position = {n: i for i, n in enumerate(names)}

    def kept(seq: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted((n for n in seq if n in position), key=position.__getitem__))

    return Resolution(groups=tuple(ResolvedGroup(g.index, g.label, kept(g.names)) for g in resolution.groups),
                      order=kept(resolution.order), frozen=kept(resolution.frozen))
