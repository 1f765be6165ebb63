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

Like torch, the state tensors are returned by reference, not copied. Slots are named as
the canonical algorithm names them (``exp_avg``, ``momentum_buffer``, ``ax``); there is
no per-parameter ``step``: the step counter is the optimizer's ``global_step``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import torch

from optbridge.errors import StateDictError

if TYPE_CHECKING:
    from .optimizer import Optimizer

__all__ = ["state_dict", "load_state_dict", "import_slots", "to_numpy"]

_NEUTRAL_ONLY = ("params", "param_names")


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


def state_dict(opt: "Optimizer") -> dict[str, Any]:
    """See the module docstring."""
    for hook in opt._optimizer_state_dict_pre_hooks.values():
        hook(opt)
    neutral = _plain(opt._engine.state_dict({}))
    neutral["state"] = {name: {k: v.detach() for k, v in slots.items()} for name, slots in opt._export_slots().items()}
    groups = []
    for group in opt.param_groups:
        names = group["param_names"]
        entry = {k: _plain(v) for k, v in group.items() if k not in _NEUTRAL_ONLY}
        entry["params"] = list(names)
        entry["param_names"] = list(names)
        groups.append(entry)
    neutral["param_groups"] = groups
    for hook in opt._optimizer_state_dict_post_hooks.values():
        result = hook(opt, neutral)
        if result is not None:
            neutral = result
    return neutral


def import_slots(opt: "Optimizer", state: Mapping[str, Mapping[str, Any]]) -> None:
    """Copy slot values in place (the kernels and flat buffers keep their tensors).

    Every value is converted first, so a bad one raises before anything changes.
    """
    converted = []
    for name, slots in state.items():
        p = opt._named_params[name]
        for slot, value in slots.items():
            target = opt.state[p][slot]
            try:
                if isinstance(value, torch.Tensor):
                    tensor = value.detach().to(device=target.device, dtype=target.dtype)
                else:
                    tensor = torch.as_tensor(np.asarray(value), dtype=target.dtype, device=target.device)
            except (TypeError, ValueError, RuntimeError) as exc:
                raise StateDictError(f"state[{name!r}][{slot!r}]: cannot convert to {target.dtype}: {exc}") from exc
            if tuple(tensor.shape) != tuple(target.shape):
                raise StateDictError(f"state[{name!r}][{slot!r}]: shape {tuple(tensor.shape)} != {tuple(target.shape)}")
            converted.append((target, tensor))
    with torch.no_grad():
        for target, tensor in converted:
            target.copy_(tensor)


def load_state_dict(opt: "Optimizer", sd: Mapping[str, Any]) -> None:
    """Validate ``sd`` in full, then load slots, counters and torch group extras."""
    if not isinstance(sd, Mapping) or sd.get("format") != "optbridge.state":
        raise StateDictError(
            "not an optbridge state dict: the torch backend loads what its state_dict() (or any optbridge "
            "backend's state_dict()) returns, not a torch.optim optimizer's state")
    for hook in opt._optimizer_load_state_dict_pre_hooks.values():
        result = hook(opt, sd)
        if result is not None:
            sd = result
    saved_groups = sd.get("param_groups")
    if saved_groups is not None:
        if not isinstance(saved_groups, list) or len(saved_groups) != len(opt.param_groups):
            raise StateDictError(f"state has {len(saved_groups) if isinstance(saved_groups, list) else saved_groups!r} "
                                 f"param_groups, this optimizer has {len(opt.param_groups)}")
    opt._engine.check_state_dict(sd)
    import_slots(opt, sd["state"])
    opt._engine.load_host_state(sd)
    if saved_groups is not None:
        # keys torch lr_schedulers add (initial_lr, ...) travel with the groups; the optimizer's own keys
        # and lr come from the spec and the engine state.
        for group, saved in zip(opt.param_groups, saved_groups):
            for key, value in saved.items():
                if key not in group:
                    group[key] = value
    for hook in opt._optimizer_load_state_dict_post_hooks.values():
        hook(opt)


def to_numpy(sd: Mapping[str, Any]) -> dict[str, Any]:
    """The neutral part of a state dict with every tensor as a NumPy array (CPU copy)."""

    def convert(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy().copy()
        if isinstance(value, Mapping):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return {k: convert(v) for k, v in sd.items() if k != "param_groups"}
