"""State dicts of the torch backend: torch's layout keyed by name = the neutral optbridge state.

:func:`state_dict` returns one dict that is both

* **torch's layout** — ``"state"`` maps a parameter id to ``{slot: tensor}`` and
  ``"param_groups"`` lists each group's options with its parameter ids under
  ``"params"``; the ids are the parameter *names* (torch uses positions), so the dict
  is self-describing and ``torch.save``/``torch.load(..., weights_only=True)`` round
  trip it; and
* **the neutral optbridge state** (DESIGN.md §8, ``optbridge.state``): ``format``,
  ``format_version``, ``algorithm``, ``global_step``, ``param_names``, ``groups`` (host
  state, lr overrides) and ``state`` keyed by name, with tensors where NumPy would hold
  arrays. The NumPy backend loads it directly when the tensors are on the CPU;
  :func:`to_numpy` converts it for any backend.

Each ``param_groups`` entry also carries the engine's part of the state that concerns its
group under :data:`HOST_KEY` (``"optbridge"``: ``format``, ``format_version``,
``algorithm``, ``global_step``, ``transforms`` and that group's entry of ``groups``), so that the torch
layout alone is a whole state: ``torch.distributed.checkpoint``'s
``get_optimizer_state_dict`` keeps only ``state`` and ``param_groups`` (re-keying
``state`` and each group's ``params`` by position, or by fully qualified name), and
:func:`neutral_form` rebuilds the neutral state from what it hands back to
``load_state_dict``.

Like torch, the state tensors are returned by reference, not copied. A ``DTensor``
parameter's state (FSDP2, :mod:`.sharded`) is returned as the ``DTensor``s the optimizer
holds; :func:`to_numpy` gathers them whole (every process must call it), and loading
takes a slot's value as a ``DTensor`` (redistributed to the slot's placements where they
differ) or whole (each process keeps its shard). Slots are named as
the canonical algorithm names them (``exp_avg``, ``momentum_buffer``, ``ax``); there is
no per-parameter ``step``: the step counter is the optimizer's ``global_step`` (a group's
own count is ``global_step - first_step``, see :mod:`optbridge.state`).

:func:`load_state_dict` is all or nothing: the torch layout (:func:`check_param_groups`)
and the neutral part (:func:`optbridge.state.parse_state_dict`: every key, type, range,
shape and dtype kind) are checked and every slot value is converted before anything
changes (:func:`prepare_load`); only then are they applied (:func:`apply_load`); a
refusal raises :class:`~optbridge.errors.StateDictError` naming the path. The optimizer
runs torch's state-dict hooks around these functions; this module needs only the engine,
the groups and the slot tensors.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from optbridge.engine import Engine
from optbridge.errors import StateDictError
from optbridge.state import EngineState, describe_array, is_real, plain_data, real_number

from .param_groups import ParamGroup
from .sharded import is_sharded, shard_like, whole

__all__ = ["HOST_KEY", "state_dict", "neutral_form", "check_format", "LoadPlan", "prepare_load", "apply_load",
           "convert_slots", "assign_slots", "check_param_groups", "describe_slot", "to_numpy"]

_NEUTRAL_ONLY = ("params", "param_names")
#: the key of each ``param_groups`` entry holding the engine's state of that group (module docstring)
HOST_KEY = "optbridge"
#: the top-level keys of the neutral state a ``param_groups`` entry carries under :data:`HOST_KEY`
#: (``transforms`` from format 4 on)
_CARRIED = ("format", "format_version", "algorithm", "global_step", "transforms")


def _plain(value: Any) -> Any:
    """NumPy values → tensors / Python numbers, so ``torch.load(weights_only=True)`` accepts them."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def state_dict(engine: Engine, param_groups: Sequence[Mapping[str, Any]],
               slots: Mapping[str, Mapping[str, torch.Tensor]]) -> dict[str, Any]:
    """See the module docstring; ``slots``: ``{name: {slot: tensor}}`` (returned by reference)."""
    neutral = _plain(engine.state_dict({}))
    neutral["state"] = {name: {k: v.detach() for k, v in s.items()} for name, s in slots.items()}
    groups = []
    for group, host in zip(param_groups, neutral["groups"]):
        names = group["param_names"]
        entry = {k: _plain(v) for k, v in group.items() if k not in _NEUTRAL_ONLY}
        entry["params"] = list(names)
        entry["param_names"] = list(names)
        entry[HOST_KEY] = {**{k: copy.deepcopy(neutral[k]) for k in _CARRIED if k in neutral},
                           "group": copy.deepcopy(host)}
        groups.append(entry)
    neutral["param_groups"] = groups
    return neutral


def neutral_form(sd: Any, param_names: Sequence[str]) -> Any:
    """``sd`` as the neutral state when it is the torch layout alone (``state`` and
    ``param_groups``, each group carrying :data:`HOST_KEY`), as
    ``torch.distributed.checkpoint`` hands it to ``load_state_dict`` (module docstring);
    anything else unchanged (:func:`check_format` judges it).

    ``state`` may be keyed by position (each saved group's ``params`` paired with its
    ``param_names``) or by name; ``param_names``: the optimizer's order.

    Raises:
        StateDictError: the groups disagree on the carried keys, or a key of ``state``
            names no parameter.
    """
    if not isinstance(sd, Mapping) or set(sd) - {"state", "param_groups"} or \
            not isinstance(sd.get("param_groups"), (list, tuple)):
        return sd  # the neutral state, or a damaged one (check_format and the parser name what is wrong)
    saved = sd["param_groups"]
    if not saved or not all(isinstance(g, Mapping) and isinstance(g.get(HOST_KEY), Mapping) for g in saved):
        return sd
    carried = {k: saved[0][HOST_KEY].get(k) for k in _CARRIED if k in saved[0][HOST_KEY]}
    for i, entry in enumerate(saved):
        for k in _CARRIED:
            if entry[HOST_KEY].get(k) != carried.get(k):
                raise StateDictError(f"param_groups[{i}][{HOST_KEY!r}].{k}: {entry[HOST_KEY].get(k)!r:.80} differs "
                                     f"from param_groups[0]'s {carried[k]!r:.80}")
    by_id: dict[Any, Any] = {}
    for entry in saved:
        ids, names = entry.get("params"), entry.get("param_names")
        if isinstance(ids, (list, tuple)) and isinstance(names, (list, tuple)) and len(ids) == len(names):
            by_id.update((i, n) for i, n in zip(ids, names) if not isinstance(i, str))
    state = {}
    for key, slots in dict(sd.get("state", {})).items():
        name = key if isinstance(key, str) else by_id.get(key)
        if name is None:
            raise StateDictError(f"state[{key!r}]: names no parameter of param_groups' params")
        state[name] = slots
    groups = []
    for entry in saved:
        names = entry.get("param_names", entry.get("params"))
        groups.append({**{k: v for k, v in entry.items() if k not in ("params", HOST_KEY)}, "params": names})
    return {**carried, "param_names": list(param_names), "groups": [g[HOST_KEY].get("group") for g in saved],
            "state": state, "param_groups": groups}


def describe_slot(value: Any) -> tuple[tuple[int, ...], str, str] | None:
    """``(shape, dtype kind, dtype name)`` of a tensor (any device or dtype), else as
    :func:`optbridge.state.describe_array` describes NumPy values."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            kind = "c"
        elif value.is_floating_point():
            kind = "f"
        else:
            kind = "b" if value.dtype is torch.bool else "i"
        return tuple(value.shape), kind, str(value.dtype).removeprefix("torch.")
    return describe_array(value)


def convert_slots(targets: Mapping[str, Mapping[str, torch.Tensor]],
                  state: Mapping[str, Mapping[str, Any]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``[(slot tensor, new value)]``: every value of a checked ``state`` as a fresh tensor of its
    slot's dtype and device in ``targets`` (``{name: {slot: tensor}}``; floating-point values
    of another width are rounded, as ``torch.optim`` casts loaded state). Changes nothing."""
    converted = []
    for name, slots in state.items():
        for slot, value in slots.items():
            target = targets[name][slot]
            try:
                if is_sharded(value) and is_sharded(target):
                    if (value.device_mesh, tuple(value.placements)) != (target.device_mesh, tuple(target.placements)):
                        value = value.redistribute(target.device_mesh, target.placements)
                elif is_sharded(value):
                    value = whole(value)
                if isinstance(value, torch.Tensor):
                    tensor = value.detach().to(device=target.device, dtype=target.dtype, copy=True)
                else:
                    tensor = torch.tensor(np.asarray(value), dtype=target.dtype, device=target.device)
            except (TypeError, ValueError, RuntimeError) as exc:
                raise StateDictError(f"state[{name!r}].{slot}: cannot convert to {target.dtype}: {exc}") from exc
            if tuple(tensor.shape) != tuple(target.shape):
                raise StateDictError(f"state[{name!r}].{slot}: shape {tuple(tensor.shape)} != {tuple(target.shape)}")
            if is_sharded(target) and not is_sharded(tensor):
                tensor = shard_like(tensor, target)  # whole on every process: each keeps its shard
            converted.append((target, tensor))
    return converted


def assign_slots(converted: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Copy converted values in place (the kernels and flat buffers keep their tensors)."""
    with torch.no_grad():
        for target, tensor in converted:
            target.copy_(tensor)


def _same_kind(template: Any, value: Any, path: str, minimum: float | None = None) -> None:
    """``value`` is of ``template``'s kind: a finite number, a bool, a string or a list of them;
    for an option that is ``None`` (torch's ``Adafactor(eps1=None)``), ``None`` or a finite number."""
    if template is None:
        if value is not None:
            real_number(value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value, path)
    elif isinstance(template, bool):
        if not isinstance(value, bool):
            raise StateDictError(f"{path}: must be a bool. Received: {value!r:.80}")
    elif is_real(template):
        real_number(value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value, path,
                    minimum=minimum)
    elif isinstance(template, str):
        if not isinstance(value, str):
            raise StateDictError(f"{path}: must be a string. Received: {value!r:.80}")
    elif isinstance(template, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(template):
            raise StateDictError(f"{path}: must be a list of {len(template)} item(s). Received: {value!r:.80}")
        for i, (t, v) in enumerate(zip(template, value)):
            _same_kind(t, v, f"{path}[{i}]")


def check_param_groups(param_groups: Sequence[Mapping[str, Any]], saved: Any,
                       own: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The scheduler keys of each saved group to set, after checking the torch layout.

    ``saved`` (the state dict's ``param_groups``; a neutral state from another backend has
    none) must hold one dict per group with the group's parameter names under
    ``params`` (and ``param_names``). The optimizer's own keys (``lr``, the
    hyperparameters, ``betas``, ``weight_decay``) must have the kind they have here; their
    values come from the spec and the neutral state, not from here. Every other key
    (``initial_lr`` and the like, written by torch lr_schedulers, or a user's) must be plain
    data; those are returned, and on load they replace the group's other keys, as torch
    replaces its param_groups. ``own``: each group's options (``{key: value}``).
    """
    if not isinstance(saved, (list, tuple)) or len(saved) != len(param_groups):
        raise StateDictError(f"state has {len(saved) if isinstance(saved, (list, tuple)) else saved!r:.80} "
                             f"param_groups, this optimizer has {len(param_groups)}")
    extras = []
    for i, (group, entry, options) in enumerate(zip(param_groups, saved, own)):
        where = f"param_groups[{i}]"
        if not isinstance(entry, Mapping):
            raise StateDictError(f"{where}: must be a dict. Received: {type(entry).__name__} {entry!r:.80}")
        names = list(group["param_names"])
        if "params" not in entry:
            raise StateDictError(f"{where}: has no 'params'")
        for key in _NEUTRAL_ONLY:
            value = entry.get(key, names)
            names_ok = isinstance(value, (list, tuple)) and all(isinstance(n, str) for n in value)
            if not (names_ok and list(value) == names):
                raise StateDictError(f"{where}.{key}: must be this group's parameters {names!r:.200}. Received: "
                                     f"{entry[key]!r:.200}")
        extra = {}
        for key, value in entry.items():
            if key in _NEUTRAL_ONLY or key == HOST_KEY:
                continue
            path = f"{where}[{key!r}]"
            if key in options:
                _same_kind(options[key], value, path, minimum=0.0 if key == "lr" else None)
            elif not isinstance(key, str):
                raise StateDictError(f"{where}: keys must be strings. Received: {key!r}")
            else:
                extra[key] = plain_data(value, path)
        extras.append(extra)
    return extras


def check_format(sd: Any) -> None:
    """Raise :class:`StateDictError` unless ``sd`` is an optbridge state dict (not torch.optim's)."""
    if not isinstance(sd, Mapping) or not isinstance(sd.get("format"), str) or sd["format"] != "optbridge.state":
        raise StateDictError(
            "not an optbridge state dict (expected 'format': 'optbridge.state'): the torch backend loads what its "
            "state_dict() (or any optbridge backend's state_dict()) returns, not a torch.optim optimizer's state")


@dataclass(frozen=True)
class LoadPlan:
    """A state dict checked in full and converted, ready to apply (:func:`apply_load`)."""

    parsed: EngineState
    converted: list[tuple[torch.Tensor, torch.Tensor]]
    #: per group, the keys other than the options to store (``None``: the state had no torch layout)
    extras: list[dict[str, Any]] | None


def prepare_load(engine: Engine, param_groups: Sequence[ParamGroup], sd: Any,
                 targets: Mapping[str, Mapping[str, torch.Tensor]]) -> LoadPlan:
    """Check ``sd`` in full and convert every slot value; change nothing.

    Raises:
        StateDictError: naming the path at fault.
    """
    check_format(sd)
    own = [group.options() for group in param_groups]
    extras = check_param_groups(param_groups, sd["param_groups"], own) if "param_groups" in sd else None
    parsed = engine.parse_state_dict(sd, describe=describe_slot)
    return LoadPlan(parsed, convert_slots(targets, parsed.slots), extras)


def apply_load(engine: Engine, param_groups: Sequence[ParamGroup], plan: LoadPlan) -> None:
    """Apply a :func:`prepare_load` result: slots (in place), the engine's state, the groups' keys."""
    assign_slots(plan.converted)
    engine.apply_state(plan.parsed)
    if plan.extras is not None:
        for group, extra in zip(param_groups, plan.extras):
            group.replace_stored(extra, keep=_NEUTRAL_ONLY)


def to_numpy(sd: Mapping[str, Any]) -> dict[str, Any]:
    """The neutral part of a state dict with every tensor as a NumPy array (CPU copy; a
    ``DTensor`` gathered whole, so every process of its mesh must call this)."""

    def convert(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return whole(value.detach()).cpu().numpy().copy()
        if isinstance(value, Mapping):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return {k: convert(v) for k, v in sd.items() if k != "param_groups"}
