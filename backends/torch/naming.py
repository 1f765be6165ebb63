"""Naming parameters: the torch backend keys every parameter by a name.

Names are what specs select on (``"fc.*"``), what state dicts are keyed by and what
error messages show. :func:`named_parameters` accepts the forms torch users have at
hand: ``model.named_parameters()``, a ``{name: tensor}`` mapping, or bare tensors (or
torch param-group dicts, as ZeroRedundancyOptimizer passes them) together with a module
or mapping that names them.

Two rules make names portable:

* a ``torch.compile``'d module names its parameters through ``_orig_mod``
  (``_orig_mod.fc.weight``, or ``encoder._orig_mod.fc.weight`` when a submodule is
  compiled); those path components are dropped (:func:`plain_name`), so selectors written
  for the plain model match and a state dict saved from one loads into the other;
* tensors that nothing names (``add_param_group({"params": module.parameters()})`` on an
  optimizer built without ``names=``) get generated names,
  ``param_groups.<group index>.<position in the group>`` (:func:`generated_name`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from optbridge.dialects.torch.names import plain_name
from optbridge.errors import SpecTypeError, SpecValueError

__all__ = ["named_parameters", "dtype_name", "plain_name", "generated_name", "module_roles"]

_NORM_TYPES: tuple[type, ...] = tuple(
    t for t in (getattr(torch.nn.modules.batchnorm, "_NormBase", None), torch.nn.LayerNorm, torch.nn.GroupNorm,
                getattr(torch.nn, "RMSNorm", None))
    if isinstance(t, type)
)
_EMBEDDING_TYPES: tuple[type, ...] = (torch.nn.Embedding, torch.nn.EmbeddingBag)


def dtype_name(dtype: torch.dtype) -> str:
    """``float32`` for ``torch.float32``."""
    return str(dtype).replace("torch.", "")


def generated_name(group: int, position: int) -> str:
    """The name of an unnamed tensor at ``position`` of param group ``group``."""
    return f"param_groups.{group}.{position}"


def module_roles(module: torch.nn.Module) -> dict[str, str]:
    """The role (:mod:`optbridge.roles`) of each of ``module.named_parameters()``, by the
    type of the module that owns it: every parameter of a ``BatchNorm*``/``SyncBatchNorm``/
    ``InstanceNorm*`` (``_NormBase``), ``LayerNorm``, ``GroupNorm`` or ``RMSNorm`` is
    ``"norm"``; of an ``Embedding`` or ``EmbeddingBag``, ``"embedding"``; elsewhere a rank-1
    parameter whose own name contains ``bias`` (``bias``, ``in_proj_bias``,
    ``bias_ih_l0``) is ``"bias"``, any other ``"weight"``. A parameter shared by several
    modules takes the role of its first owner, the module ``named_parameters`` names it
    after. Keys pass through :func:`plain_name`."""
    roles: dict[int, str] = {}
    for _, owner in module.named_modules():
        for attribute, param in owner.named_parameters(recurse=False):
            if id(param) in roles:
                continue
            if isinstance(owner, _NORM_TYPES):
                roles[id(param)] = "norm"
            elif isinstance(owner, _EMBEDDING_TYPES):
                roles[id(param)] = "embedding"
            elif param.dim() == 1 and "bias" in attribute.lower():
                roles[id(param)] = "bias"
            else:
                roles[id(param)] = "weight"
    return {plain_name(name): roles[id(param)] for name, param in module.named_parameters()}


def named_parameters(params: Any, names: Any = None, *,
                     unnamed_group: int | None = None) -> list[tuple[str, torch.Tensor]]:
    """The accepted parameter forms as ``[(name, tensor)]``, each name and tensor once.

    A module stands for its ``named_parameters()``.

    Names pass through :func:`plain_name`. ``unnamed_group``: tensors that neither the
    entry nor ``names`` names get :func:`generated_name` for that group index (the
    ``add_param_group`` case); ``None``: they are refused.

    Raises:
        SpecTypeError: a tensor without a name, a name that is no string, a non-tensor.
        SpecValueError: a name or a tensor given twice.
    """
    lookup: dict[torch.Tensor, str] | None = None
    if names is not None:
        if isinstance(names, torch.nn.Module):
            lookup = {p: n for n, p in names.named_parameters()}
        elif isinstance(names, Mapping):
            lookup = {p: n for p, n in names.items()} if all(isinstance(k, torch.Tensor) for k in names) \
                else {p: n for n, p in names.items()}
        else:
            raise SpecTypeError(f"'names' must be a torch.nn.Module or a mapping. Received: {type(names).__name__}")
    if isinstance(params, torch.nn.Module):
        params = params.named_parameters()
    if isinstance(params, torch.Tensor):
        raise SpecTypeError("params must be named: pass model.named_parameters() or {name: tensor}, not a tensor")
    if isinstance(params, Mapping):
        items: list[Any] = list(params.items())
    else:
        items = []
        for entry in list(params):
            if isinstance(entry, Mapping):  # torch-style param groups (ZeroRedundancyOptimizer's local optimizer)
                inner = entry.get("params", [])
                items.extend([inner] if isinstance(inner, torch.Tensor) else list(inner))
            else:
                items.append(entry)
    out: list[tuple[str, torch.Tensor]] = []
    for position, entry in enumerate(items):
        if isinstance(entry, tuple) and len(entry) == 2:
            name, tensor = entry
        elif isinstance(entry, torch.Tensor):
            if lookup is not None and entry in lookup:
                name = lookup[entry]
            elif unnamed_group is not None:
                name = generated_name(unnamed_group, position)
            else:
                raise SpecTypeError(
                    "the torch backend needs parameter names: pass model.named_parameters() or a {name: tensor} "
                    "mapping, or the tensors with names=model (a module whose named_parameters() include every "
                    "tensor): optbridge.build(spec, model.parameters(), names=model)")
            tensor = entry
        else:
            raise SpecTypeError(f"expected (name, tensor) pairs or tensors. Received: {type(entry).__name__}")
        if not isinstance(name, str):
            raise SpecTypeError(f"parameter names must be strings. Received: {name!r}")
        if not isinstance(tensor, torch.Tensor):
            raise SpecTypeError(f"parameter {name!r} must be a torch.Tensor. Received: {type(tensor).__name__}")
        out.append((plain_name(name), tensor))
    seen_names: set[str] = set()
    seen_tensors: set[torch.Tensor] = set()
    for name, tensor in out:
        if name in seen_names:
            raise SpecValueError(f"parameter name {name!r} appears twice")
        if tensor in seen_tensors:
            raise SpecValueError(f"parameter {name!r} is the same tensor as an earlier parameter")
        seen_names.add(name)
        seen_tensors.add(tensor)
    return out
