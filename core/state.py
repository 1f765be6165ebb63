"""The neutral optimizer state: one format every backend writes and loads (DESIGN.md §8).

A state dict is plain data — NumPy arrays, numbers, strings — so a run checkpointed on one
backend resumes on another with the same numbers::

    {
      "format": "optbridge.state", "format_version": 2,
      "algorithm": "adam",                 # canonical algorithm name
      "global_step": 3,                    # optimizer steps taken
      "param_names": [...],                # the optimizer's parameter order
      "groups": [{"index": 0, "params": [...], "host_state": {...}, "lr_override": None,
                  "schedules": {"lr": {...}}, "scheduler_values": {...}, "hyperparameters": {...}}],
      "state": {param name: {slot name: ndarray}},
    }

``host_state`` holds the algorithm's per-group host scalars (MindSpore Adam's accumulated
``beta1_power``/``beta2_power``, ASGD's ``eta``/``mu``); ``lr_override`` a learning rate set
with ``set_lr`` (or by a bound ``optim.lr_scheduler`` object). Format 2 adds the schedule
state: ``schedules`` maps ``"lr"``/``"weight_decay"`` to the state of a stateful schedule
(torch lr_scheduler declarations: ``{"kind", "interval", "advances", "runtime"}``, the
runtime holding epoch counters, ``ReduceLROnPlateau``'s ``best``/``num_bad_epochs``/
``cooldown_counter`` and so on); ``scheduler_values`` torch's scheduler bookkeeping
(``initial_lr``, ``max_lr``, ...); ``hyperparameters`` algorithm hyperparameters changed at
run time (momentum cycled by ``CyclicLR``). Format 1 dicts (no such keys) still load
into optimizers without stateful schedules. Loading validates everything before anything
changes.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .errors import StateDictError

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["STATE_FORMAT", "STATE_FORMAT_VERSION", "build_state_dict", "check_state_dict"]

STATE_FORMAT = "optbridge.state"
STATE_FORMAT_VERSION = 2
#: Versions :func:`check_state_dict` accepts (1: before schedule state existed).
READABLE_VERSIONS = (1, 2)


def build_state_dict(engine: "Engine", slots: Mapping[str, Mapping[str, np.ndarray]]) -> dict:
    """Assemble the neutral state from the engine's counters and a backend's slot arrays."""
    return {
        "format": STATE_FORMAT,
        "format_version": STATE_FORMAT_VERSION,
        "algorithm": engine.spec.algorithm.name,
        "global_step": engine.global_step,
        "param_names": list(engine.param_names),
        "groups": [
            {
                "index": g.index,
                "params": list(g.names),
                "host_state": dict(g.host_state),
                "lr_override": g.lr_override,
                "schedules": {key: track.state_dict() for key, track in g.tracks.items()},
                "scheduler_values": copy.deepcopy(g.scheduler_values),
                "hyperparameters": dict(g.hyperparameter_overrides),
            }
            for g in engine.groups
        ],
        "state": {name: {k: np.array(v, copy=True) for k, v in s.items()} for name, s in slots.items()},
    }


def check_state_dict(engine: "Engine", sd: Mapping[str, Any]) -> None:
    """Raise :class:`StateDictError` unless ``sd`` fits ``engine`` exactly; change nothing."""
    if not isinstance(sd, Mapping) or sd.get("format") != STATE_FORMAT:
        raise StateDictError(f"not an optbridge state dict (expected 'format': {STATE_FORMAT!r})")
    if sd.get("format_version") not in READABLE_VERSIONS:
        raise StateDictError(
            f"state format_version {sd.get('format_version')!r} is not supported (expected one of {READABLE_VERSIONS})"
        )
    if sd.get("algorithm") != engine.spec.algorithm.name:
        raise StateDictError(
            f"state is for algorithm {sd.get('algorithm')!r}, this optimizer runs {engine.spec.algorithm.name!r}"
        )
    step = sd.get("global_step")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise StateDictError(f"'global_step' must be an int >= 0. Received: {step!r}")
    groups = sd.get("groups")
    if not isinstance(groups, list) or len(groups) != len(engine.groups):
        raise StateDictError(
            f"state has {len(groups) if isinstance(groups, list) else groups!r} groups, "
            f"this optimizer has {len(engine.groups)}"
        )
    for pos, (g, sg) in enumerate(zip(engine.groups, groups)):
        if list(sg.get("params", [])) != list(g.names):
            raise StateDictError(f"groups[{pos}]: state holds parameters {sg.get('params')!r}, expected {list(g.names)!r}")
        if set(sg.get("host_state", {})) != set(g.host_state):
            raise StateDictError(
                f"groups[{pos}]: host state keys {sorted(sg.get('host_state', {}))} != {sorted(g.host_state)}"
            )
        override = sg.get("lr_override")
        if override is not None and (isinstance(override, bool) or not isinstance(override, (int, float))):
            raise StateDictError(f"groups[{pos}]: 'lr_override' must be a number or None. Received: {override!r}")
        _check_schedule_state(g, sg, pos)
    expected = engine.expected_slots()
    state = sd.get("state", {})
    if not isinstance(state, Mapping) or set(state) != set(expected):
        got = set(state) if isinstance(state, Mapping) else set()
        raise StateDictError(
            f"state parameters do not match: missing {sorted(set(expected) - got)[:5]}, "
            f"unexpected {sorted(got - set(expected))[:5]}"
        )
    for name, slots in expected.items():
        got = state[name]
        if set(got) != set(slots):
            raise StateDictError(f"state[{name!r}]: slots {sorted(got)} != expected {sorted(slots)}")
        shape = tuple(engine.params[name].shape)
        for slot, arr in got.items():
            if tuple(np.shape(arr)) != shape:
                raise StateDictError(f"state[{name!r}][{slot!r}]: shape {np.shape(arr)} != parameter shape {shape}")


def _check_schedule_state(g: Any, sg: Mapping[str, Any], pos: int) -> None:
    """Format-2 keys of one group: schedule states, scheduler values, hyperparameters."""
    schedules = sg.get("schedules", {})
    if not isinstance(schedules, Mapping) or set(schedules) != set(g.tracks):
        got = sorted(schedules) if isinstance(schedules, Mapping) else schedules
        raise StateDictError(
            f"groups[{pos}]: schedule states for {got!r}, this optimizer's group has stateful schedules for "
            f"{sorted(g.tracks)}"
        )
    for key, track in g.tracks.items():
        track.check_state_dict(schedules[key], f"groups[{pos}].schedules[{key!r}]")
    values = sg.get("scheduler_values", {})
    if not isinstance(values, Mapping):
        raise StateDictError(f"groups[{pos}]: 'scheduler_values' must be a mapping. Received: {values!r}")
    hyper = sg.get("hyperparameters", {})
    if not isinstance(hyper, Mapping):
        raise StateDictError(f"groups[{pos}]: 'hyperparameters' must be a mapping. Received: {hyper!r}")
    base = g.base_algorithm if g.base_algorithm is not None else g.algorithm
    known = base.hyperparameters()
    for name, value in hyper.items():
        if name not in known:
            raise StateDictError(f"groups[{pos}]: 'hyperparameters' names {name!r}, not a hyperparameter of {base.name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise StateDictError(f"groups[{pos}]: 'hyperparameters'[{name!r}] must be a number. Received: {value!r}")
