"""Parameter names for JAX pytrees.

optbridge selects parameters by name (``"layer1.*.weight"``), so a pytree's leaves are
named by their key paths joined with dots: ``{"Dense_0": {"kernel": w}}`` names ``w``
``"Dense_0.kernel"``, list and tuple positions become their index (``"layers.0.w"``), and
a flat ``{name: array}`` mapping keeps its keys. The names are what groups, configs and
the neutral ``state_dict`` use.
"""
from __future__ import annotations

from typing import Any

import jax

from optbridge.errors import SpecTypeError

__all__ = ["leaf_name", "named_leaves"]


def _key_text(key: Any) -> str:
    for attribute in ("key", "name", "idx"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)


def leaf_name(path: tuple[Any, ...]) -> str:
    """The dotted name of the leaf at a ``jax.tree_util`` key path."""
    return ".".join(_key_text(k) for k in path)


def named_leaves(tree: Any, what: str = "params") -> tuple[tuple[str, ...], list[Any], Any]:
    """``(names, leaves, treedef)`` of a pytree, leaves in ``jax.tree_util`` order.

    Raises:
        SpecTypeError: the tree has no leaves, or two leaves get the same name
            (``{"a": {"b": x}, "a.b": y}``).
    """
    pairs, treedef = jax.tree_util.tree_flatten_with_path(tree)
    if not pairs:
        raise SpecTypeError(f"{what}: the pytree has no leaves. Received: {type(tree).__name__}")
    names = tuple(leaf_name(path) for path, _ in pairs)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SpecTypeError(f"{what}: two leaves are both named {name!r}; rename one of them")
        seen.add(name)
    return names, [leaf for _, leaf in pairs], treedef
