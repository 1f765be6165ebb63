"""Parameter names as torch modules give them, made portable.

A module wrapped by ``torch.compile`` (an ``OptimizedModule``) keeps the original under
``_orig_mod``, so ``named_parameters()`` gives ``_orig_mod.fc.weight`` (at any depth: a
compiled submodule gives ``encoder._orig_mod.fc.weight``). :func:`plain_name` drops those
components: selectors written for the plain model resolve on the compiled one, and state
dicts move between the two. The torch backend names parameters with it, and
``optbridge.from_torch`` imports param groups with it.
"""
from __future__ import annotations

__all__ = ["COMPILED_COMPONENT", "plain_name"]

#: the path component ``torch.compile`` inserts (``OptimizedModule._orig_mod``)
COMPILED_COMPONENT = "_orig_mod"


def plain_name(name: str) -> str:
    """``name`` without the :data:`COMPILED_COMPONENT` components: ``encoder._orig_mod.fc.weight``
    is ``encoder.fc.weight``."""
    if COMPILED_COMPONENT not in name:
        return name
    return ".".join(part for part in name.split(".") if part != COMPILED_COMPONENT)
