"""Parameter roles: what a parameter is for, the same on every framework (DESIGN.md section 2a).

A group selector ``{"role": "norm"}`` picks parameters by role rather than by name, so
"no weight decay on biases and norms" means the same on torch names (``bn.weight``) and
Keras paths (``bn/gamma``). Every parameter has exactly one role:

* ``"norm"`` — every parameter of a normalization layer (scale and shift alike);
* ``"embedding"`` — the table of an embedding layer;
* ``"bias"`` — the additive bias of any other layer;
* ``"weight"`` — everything else (convolution and dense kernels, ...).

**From the model.** ``optbridge.build(spec, model)`` with a torch ``nn.Module`` or a Keras
model takes the roles from module and layer types (the backend sets
:attr:`optbridge.groups.ParamInfo.role`): torch ``BatchNorm*``, ``SyncBatchNorm``,
``InstanceNorm*``, ``LayerNorm``, ``GroupNorm``, ``RMSNorm`` and Keras
``BatchNormalization``, ``LayerNormalization``, ``GroupNormalization``,
``RMSNormalization`` are norms; torch ``Embedding``/``EmbeddingBag`` and Keras
``Embedding`` are embeddings; elsewhere a rank-1 parameter whose own name contains
``bias`` (torch ``bias``, ``in_proj_bias``, ``bias_ih_l0``; a Keras layer's ``bias``) is a
bias.

**Fallback, from names and ranks** (:func:`fallback_roles`), for parameters whose role
nobody gave (a plain ``{name: array}`` mapping, Keras variables without their model). A
name is split into components at ``.`` and ``/``; its *leaf* is the last component and
its *prefix* the rest. Checked in this order, the first rule that holds gives the role:

1. ``"embedding"`` — rank 2 and a prefix component containing ``embed``
   (``embedding.weight``, ``embeddings/embeddings``, ``tok_embed.weight``);
2. ``"norm"`` — rank 1 and the leaf is ``gamma``, ``beta``, ``weight`` or ``scale``
   (a rank-1 ``weight`` is a norm's scale in torch), or a prefix component names a norm
   (contains ``norm``, or is ``bn``, ``ln`` or ``gn`` followed only by digits or ``_``
   and more text: ``bn1``, ``ln_f``);
3. ``"norm"`` — a rank-1 leaf containing ``bias`` whose prefix holds a parameter that
   rule 2 made a norm through its leaf (the shift beside a norm's scale:
   ``downsample.1.bias`` beside ``downsample.1.weight``);
4. ``"bias"`` — rank 1 and the leaf contains ``bias``;
5. ``"weight"`` — everything else.

Matching is case-insensitive. The fallback is a guess: a model gives the true roles.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .groups import ParamInfo

__all__ = ["ROLES", "fallback_role", "fallback_roles", "param_roles"]

#: The roles a ``{"role": ...}`` selector may name, and that a parameter may have.
ROLES = ("bias", "norm", "embedding", "weight")

_NORM_LEAVES = ("gamma", "beta", "weight", "scale")
_NORM_COMPONENT = re.compile(r"(bn|ln|gn)(\d*)(_.*)?")


def _split(name: str) -> tuple[list[str], str]:
    parts = [p for p in re.split(r"[./]", name.lower()) if p]
    if not parts:
        return [], ""
    return parts[:-1], parts[-1]


def _names_norm(component: str) -> bool:
    return "norm" in component or _NORM_COMPONENT.fullmatch(component) is not None


def fallback_role(name: str, shape: Sequence[int], norm_prefixes: frozenset[str] = frozenset()) -> str:
    """The role rules 1, 2, 4 and 5 of the module docstring give ``name`` of ``shape``;
    rule 3 applies when ``name``'s prefix is in ``norm_prefixes``."""
    prefix, leaf = _split(name)
    rank = len(shape)
    if rank == 2 and any("embed" in c for c in prefix):
        return "embedding"
    if rank == 1 and (leaf in _NORM_LEAVES or any(_names_norm(c) for c in prefix)):
        return "norm"
    if rank == 1 and "bias" in leaf:
        return "norm" if "/".join(prefix) in norm_prefixes else "bias"
    return "weight"


def fallback_roles(params: Sequence[ParamInfo]) -> dict[str, str]:
    """The role of each parameter by name and rank alone (rules 1-5 of the module docstring)."""
    norm_prefixes = set()
    for p in params:
        prefix, leaf = _split(p.name)
        if len(p.shape) == 1 and leaf in _NORM_LEAVES:
            norm_prefixes.add("/".join(prefix))
    frozen = frozenset(norm_prefixes)
    return {p.name: fallback_role(p.name, p.shape, frozen) for p in params}


def param_roles(params: Sequence[ParamInfo]) -> dict[str, str]:
    """Each parameter's role: the one its backend gave (``ParamInfo.role``), else the fallback."""
    if all(p.role is not None for p in params):
        return {p.name: p.role for p in params if p.role is not None}
    guessed = fallback_roles(params)
    return {p.name: p.role if p.role is not None else guessed[p.name] for p in params}
