"""The neutral optimizer state: one format every backend writes and loads (DESIGN.md §8).

A state dict is plain data — NumPy arrays, numbers, strings — so a run checkpointed on one
backend resumes on another with the same numbers::

    {
      "format": "optbridge.state", "format_version": 4,
      "algorithm": "adam",                 # canonical algorithm name
      "global_step": 3,                    # optimizer steps taken
      "param_names": [...],                # the optimizer's parameter order
      "groups": [{"index": 0, "params": [...], "host_state": {...}, "lr_override": None,
                  "schedules": {"lr": {...}}, "scheduler_values": {...}, "hyperparameters": {...},
                  "first_step": 0}],
      "state": {param name: {slot name: ndarray}},
      "transforms": [{"transform": "loss_scale", "state": {"scale": 65536.0, ...}}, ...],
    }

``host_state`` holds the algorithm's per-group host scalars (MindSpore Adam's accumulated
``beta1_power``/``beta2_power``, ASGD's ``eta``/``mu``); ``lr_override`` a learning rate set
with ``set_lr`` (or by a bound ``optim.lr_scheduler`` object). Format 2 adds the schedule
state: ``schedules`` maps ``"lr"``/``"weight_decay"`` to the state of a stateful schedule
(torch lr_scheduler declarations: ``{"kind", "interval", "advances", "runtime"}``, the
runtime holding epoch counters, ``ReduceLROnPlateau``'s ``best``/``num_bad_epochs``/
``cooldown_counter`` and so on); ``scheduler_values`` torch's scheduler bookkeeping
(``initial_lr``, ``max_lr``, ...); ``hyperparameters`` algorithm hyperparameters changed at
run time (momentum cycled by ``CyclicLR``). Format 3 adds ``first_step``: the global step
at which the group joined (``add_param_group`` after training started); the group's own
step count, which bias corrections and step-dependent rules use, is ``global_step -
first_step``, as ``torch.optim`` counts a parameter's steps from when it was added. Format
1 dicts (no schedule keys) still load into optimizers without stateful schedules; format
1 and 2 dicts, into groups that joined at step 0. A group whose algorithm is not the
top-level ``algorithm`` (a per-group algorithm: Keras ``MultiOptimizer``) also holds
``"algorithm": <its name>``; the top level names the spec's own algorithm. Format 4 adds
``transforms``: the host numbers of the spec's gradient transforms
(:mod:`optbridge.transforms`; a loss scale and its counters, an accumulation count), one
entry per transform in the spec's order; their per-parameter arrays (an EMA's
``average``, an accumulator) are slots in ``state``. Dicts of formats 1 to 3 load into
optimizers whose transforms keep no host numbers.

Loading is all or nothing. :func:`parse_state_dict` turns an untrusted mapping into a
checked :class:`EngineState` (every key, type, range, shape and dtype kind, with the
rules of ``set_lr`` and ``set_hyperparameters``; see its docstring) and raises
:class:`~optbridge.errors.StateDictError` naming the path at fault
(``groups[0].host_state.beta1_power``). A backend then converts every slot array
before it assigns any, and :meth:`~optbridge.engine.Engine.apply_state` swaps the
checked values in, which cannot fail.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .errors import StateDictError

__all__ = [
    "STATE_FORMAT",
    "STATE_FORMAT_VERSION",
    "EngineLayout",
    "EngineState",
    "GroupState",
    "ScheduleState",
    "StateOwner",
    "build_state_dict",
    "check_state_dict",
    "describe_array",
    "is_real",
    "parse_state_dict",
    "plain_data",
    "real_number",
]

class StateOwner(Protocol):
    """What this module reads of the optimizer a state is for (the engine provides it;
    this module does not import the engine)."""

    @property
    def spec(self) -> Any: ...

    @property
    def global_step(self) -> int: ...

    @property
    def groups(self) -> Sequence[Any]: ...

    @property
    def params(self) -> Mapping[str, Any]: ...

    @property
    def param_names(self) -> tuple[str, ...]: ...

    def expected_slots(self) -> dict[str, dict[str, float]]: ...

    def slot_layouts(self) -> dict[str, dict[str, Any]]: ...

    @property
    def transform_states(self) -> tuple[Mapping[str, float], ...]: ...


STATE_FORMAT = "optbridge.state"
STATE_FORMAT_VERSION = 4
#: Versions :func:`check_state_dict` accepts (1: before schedule state existed; 2: before
#: ``first_step``).
READABLE_VERSIONS = (1, 2, 3, 4)


def build_state_dict(engine: StateOwner, slots: Mapping[str, Mapping[str, np.ndarray]]) -> dict:
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
                "first_step": g.first_step,
                **_group_algorithm(engine, g),
            }
            for g in engine.groups
        ],
        "state": {name: {k: np.array(v, copy=True) for k, v in s.items()} for name, s in slots.items()},
        "transforms": [{"transform": t.name, "state": dict(values)}
                       for t, values in zip(engine.spec.transforms, engine.transform_states)],
    }


def _group_algorithm(engine: StateOwner, group: Any) -> dict[str, str]:
    """``{"algorithm": name}`` for a group whose algorithm is not the spec's (a per-group
    algorithm, :attr:`optbridge.spec.GroupSpec.algorithm`), else ``{}``."""
    name = _base_algorithm(group).name
    return {} if name == engine.spec.algorithm.name else {"algorithm": name}


def _base_algorithm(group: Any) -> Any:
    return group.base_algorithm if group.base_algorithm is not None else group.algorithm


# -- checked values ------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleState:
    """A checked schedule state: the advances and a fresh runtime with the state loaded."""

    advances: int
    runtime: Any

    def validate(self, path: str = "schedule") -> None:
        """Check this value on its own: ``advances`` an int >= 0 and a runtime that gives a
        finite value (and finite hyperparameters, for ``CyclicLR``/``OneCycleLR``).

        Raises:
            StateDictError: naming ``path``.
        """
        _count(self.advances, f"{path}.advances")
        for method in ("value", "hyperparameters", "state_dict", "load_state_dict"):
            if not callable(getattr(self.runtime, method, None)):
                raise StateDictError(f"{path}.runtime: must be a schedule runtime (it has no {method}()). "
                                     f"Received: {type(self.runtime).__name__}")
        try:
            value = self.runtime.value()
            scheduled = self.runtime.hyperparameters()
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError) as exc:
            raise StateDictError(f"{path}.runtime: gives no value: {type(exc).__name__}: {exc}") from None
        real_number(value, f"{path}.runtime (the value it gives)")
        for name, v in _mapping(scheduled, f"{path}.runtime (the hyperparameters it gives)").items():
            real_number(v, f"{path}.runtime (the {name!r} it gives)")


@dataclass(frozen=True)
class GroupState:
    """A checked group state, ready to be swapped into a :class:`~optbridge.engine.GroupRuntime`."""

    host_state: Mapping[str, float]
    lr_override: float | None
    schedules: Mapping[str, ScheduleState]
    scheduler_values: Mapping[str, Any]
    hyperparameters: Mapping[str, float]
    algorithm: Any
    first_step: int = 0

    def validate(self, path: str = "group") -> None:
        """Check this value on its own, with the rules :func:`parse_state_dict` applies to a
        group: ``host_state`` and ``scheduler_values`` map strings to finite real numbers,
        ``lr_override`` is ``None`` or a finite number >= 0 (``set_lr``'s rule), each
        schedule state is valid, ``hyperparameters`` are numeric hyperparameters of
        ``algorithm`` that it holds (the overrides it was built with), and ``first_step``
        is an int >= 0.

        Raises:
            StateDictError: naming the path at fault (``group.host_state.beta1_power``).
        """
        _count(self.first_step, f"{path}.first_step")
        for key in ("host_state", "scheduler_values"):
            values = _mapping(getattr(self, key), f"{path}.{key}")
            for name, value in values.items():
                if not isinstance(name, str):
                    raise StateDictError(f"{path}.{key}: keys must be strings. Received: {name!r}")
                real_number(value, _at(f"{path}.{key}", name))
        if self.lr_override is not None:
            real_number(self.lr_override, f"{path}.lr_override", minimum=0.0)
        for key, schedule in _mapping(self.schedules, f"{path}.schedules").items():
            if not isinstance(schedule, ScheduleState):
                raise StateDictError(f"{path}.schedules[{key!r}]: must be a ScheduleState. Received: "
                                     f"{type(schedule).__name__}")
            schedule.validate(f"{path}.schedules[{key!r}]")
        hyperparameters = getattr(self.algorithm, "hyperparameters", None)
        if not callable(hyperparameters):
            raise StateDictError(f"{path}.algorithm: must be an algorithm. Received: {type(self.algorithm).__name__}")
        known = hyperparameters()
        for name, value in _mapping(self.hyperparameters, f"{path}.hyperparameters").items():
            where = _at(f"{path}.hyperparameters", name)
            if name not in known or not is_real(known[name]):
                raise StateDictError(f"{where}: not a numeric hyperparameter of {self.algorithm.name!r}")
            if real_number(value, where) != known[name]:
                raise StateDictError(f"{where}: {value!r} is not the algorithm's value {known[name]!r}")


@dataclass(frozen=True)
class EngineLayout:
    """The engine's groups as a structure (spec, parameters, resolution and the group
    runtimes themselves) at a :meth:`~optbridge.engine.Engine.snapshot`, so that
    :meth:`~optbridge.engine.Engine.restore` also undoes an added group."""

    spec: Any
    params: Mapping[str, Any]
    resolution: Any
    groups: tuple[Any, ...]


@dataclass(frozen=True)
class EngineState:
    """A state dict checked against one engine (:func:`parse_state_dict`), or a snapshot.

    ``slots`` holds the values of ``sd["state"]`` as given (each checked to be a real
    floating-point array of its slot's shape, ``Engine.slot_layouts``; a value in another
    accepted layout reshaped to it); the backend converts them.
    Applied by :meth:`optbridge.engine.Engine.apply_state`. ``layout`` is set by
    :meth:`~optbridge.engine.Engine.snapshot` only: the group structure to return to.
    """

    global_step: int
    groups: tuple[GroupState, ...]
    slots: Mapping[str, Mapping[str, Any]]
    layout: EngineLayout | None = None
    #: the gradient transforms' host numbers, one mapping per transform of the spec
    transforms: tuple[Mapping[str, float], ...] = ()

    def validate(self) -> None:
        """Check this value on its own: ``global_step`` an int >= 0, every group state
        valid (:meth:`GroupState.validate`), ``slots`` ``{name: {slot: value}}`` with string
        keys, and a ``layout`` (if any) with one group runtime per group state.

        Raises:
            StateDictError: naming the path at fault (``groups[1].lr_override``).
        """
        _count(self.global_step, "global_step")
        if not isinstance(self.groups, tuple):
            raise StateDictError(f"groups: must be a tuple of GroupState. Received: {type(self.groups).__name__}")
        for pos, group in enumerate(self.groups):
            if not isinstance(group, GroupState):
                raise StateDictError(f"groups[{pos}]: must be a GroupState. Received: {type(group).__name__}")
            group.validate(f"groups[{pos}]")
        if not isinstance(self.transforms, tuple) or not all(isinstance(t, Mapping) for t in self.transforms):
            raise StateDictError("transforms: must be a tuple of mappings")
        for name, slots in _mapping(self.slots, "state").items():
            if not isinstance(name, str):
                raise StateDictError(f"state: parameter names must be strings. Received: {name!r}")
            for slot in _mapping(slots, f"state[{name!r}]"):
                if not isinstance(slot, str):
                    raise StateDictError(f"state[{name!r}]: slot names must be strings. Received: {slot!r}")
        if self.layout is not None:
            if not isinstance(self.layout, EngineLayout):
                raise StateDictError(f"layout: must be an EngineLayout. Received: {type(self.layout).__name__}")
            if len(self.layout.groups) != len(self.groups):
                raise StateDictError(f"layout: holds {len(self.layout.groups)} groups, the state "
                                     f"{len(self.groups)}")


#: Top-level keys of the neutral format.
TOP_KEYS = ("format", "format_version", "algorithm", "global_step", "param_names", "groups", "state")
#: Top-level keys a backend's own layout adds beside the neutral ones (the torch backend's
#: ``param_groups``); that backend checks them, every other backend ignores them.
LAYOUT_KEYS = ("param_groups",)
#: The keys of one group, by format version.
GROUP_KEYS = {
    1: ("index", "params", "host_state", "lr_override"),
    2: ("index", "params", "host_state", "lr_override", "schedules", "scheduler_values", "hyperparameters"),
    3: ("index", "params", "host_state", "lr_override", "schedules", "scheduler_values", "hyperparameters",
        "first_step"),
}
GROUP_KEYS[4] = GROUP_KEYS[3]
_SCHEDULE_KEYS = ("kind", "interval", "advances", "runtime")


def describe_array(value: Any) -> tuple[tuple[int, ...], str, str] | None:
    """``(shape, dtype kind, dtype name)`` of an array value, or ``None`` if it is not one.

    Arrays are NumPy arrays and scalars and objects NumPy reads through ``__array__``
    that also have ``shape`` and ``dtype`` (JAX and TensorFlow arrays, CPU torch
    tensors). Lists, Python numbers, ``None`` and strings are not arrays. A backend whose
    tensors NumPy cannot read (CUDA torch tensors, bfloat16) passes its own describer;
    here NumPy's error propagates.
    """
    if isinstance(value, (np.ndarray, np.generic)):
        return tuple(value.shape), value.dtype.kind, value.dtype.name
    if hasattr(value, "__array__") and hasattr(value, "shape") and hasattr(value, "dtype"):
        arr = np.asarray(value)  # may raise (a CUDA tensor): parse_state_dict reports it with the path
        return tuple(arr.shape), arr.dtype.kind, arr.dtype.name
    return None


def is_real(value: Any) -> bool:
    """A Python or NumPy integer or float, not a bool (``True`` is no learning rate)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _at(path: str, key: Any) -> str:
    """``path.key`` for identifier keys, ``path['a.b']`` for others."""
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def real_number(value: Any, path: str, *, minimum: float | None = None, allow_inf: bool = False) -> float:
    """``value`` as a float: a real number (not a bool, not NaN, finite unless ``allow_inf``).

    Raises:
        StateDictError: naming ``path``.
    """
    if not is_real(value):
        raise StateDictError(f"{path}: must be a real number. Received: {value!r}")
    try:
        x = float(value)
    except OverflowError:
        raise StateDictError(f"{path}: must be a finite number. Received: {value!r}") from None
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise StateDictError(f"{path}: must be a finite number. Received: {value!r}")
    if minimum is not None and x < minimum:
        raise StateDictError(f"{path}: must be >= {minimum}. Received: {value!r}")
    return x


def _names_equal(value: Any, names: Any) -> bool:
    """``value`` is a list (or tuple) of exactly these strings, in this order."""
    return (isinstance(value, (list, tuple)) and all(isinstance(n, str) for n in value)
            and list(value) == list(names))


def _count(value: Any, path: str) -> int:
    """A Python or NumPy int >= 0 (not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise StateDictError(f"{path}: must be an int >= 0. Received: {value!r}")
    return int(value)


def _mapping(value: Any, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise StateDictError(f"{path}: must be a mapping. Received: {type(value).__name__} {value!r:.80}")
    return value


def _exact_keys(value: Mapping, expected: Any, path: str, what: str = "keys") -> None:
    """Raise unless ``value`` has exactly the keys ``expected`` (naming the missing and extra ones)."""
    got, want = set(value), set(expected)
    if got != want:
        raise StateDictError(
            f"{path}: {what} do not match: missing {_names(want - got)}, unexpected {_names(got - want)}")


def _names(keys: Any) -> str:
    """``['a', 'b', 3]``: sorted reprs, at most five."""
    shown = sorted(map(repr, keys))
    return "[" + ", ".join(shown[:5]) + (", ..." if len(shown) > 5 else "") + "]"


def plain_data(value: Any, path: str) -> Any:
    """A deep copy of plain data: finite numbers, bools, strings, ``None``, lists, str-keyed mappings.

    Raises:
        StateDictError: naming the path to the first value that is none of these.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if is_real(value):
        real_number(value, path)
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (list, tuple)):
        return type(value)(plain_data(v, f"{path}[{i}]") for i, v in enumerate(value))
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str):
                raise StateDictError(f"{path}: keys must be strings. Received: {k!r}")
        return {k: plain_data(v, _at(path, k)) for k, v in value.items()}
    raise StateDictError(f"{path}: must be plain data (numbers, strings, lists, mappings). Received: {value!r:.80}")


def _like(template: Any, value: Any, path: str) -> Any:
    """``value`` checked to have ``template``'s structure, rebuilt with its container types.

    Mappings need the same keys (an int key may come as its string, as JSON writes it),
    lists and tuples the same length; a number stands where
    a number stood (int or float: counters become fractional epochs; ±inf allowed, as
    in ``ReduceLROnPlateau``'s ``best``; NaN not), a bool where a bool, ``None`` where
    ``None``; strings (modes from the declaration) must be equal.
    """
    if isinstance(template, Mapping):
        value = _mapping(value, path)
        # JSON (the Keras adapter's saved state) writes int keys (MultiStepLR's milestones) as strings
        given = {k: k if k in value or not isinstance(k, int) or isinstance(k, bool) or str(k) not in value
                 else str(k) for k in template}
        if set(value) != set(given.values()):
            missing = [k for k in template if given[k] not in value]
            raise StateDictError(f"{path}: keys do not match: missing {_names(missing)}, unexpected "
                                 f"{_names(set(value) - set(given.values()))}")
        items = [(k, _like(template[k], value[given[k]], _at(path, k))) for k in template]
        try:
            # a mapping, not pairs: Counter(pairs) would count them; the concrete class (dict, Counter, ...)
            # takes one, which mypy cannot see from Mapping
            return type(template)(dict(items))  # type: ignore[call-arg]
        except TypeError:
            return dict(items)
    if isinstance(template, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(template):
            raise StateDictError(f"{path}: must be a list of {len(template)} item(s). Received: {value!r:.80}")
        return type(template)(_like(t, v, f"{path}[{i}]") for i, (t, v) in enumerate(zip(template, value)))
    if isinstance(template, (bool, np.bool_)):
        if not isinstance(value, (bool, np.bool_)):
            raise StateDictError(f"{path}: must be a bool. Received: {value!r:.80}")
        return bool(value)
    if is_real(template):
        real_number(value, path, allow_inf=True)
        return value.item() if isinstance(value, np.generic) else value
    if template is None:
        if value is not None:
            raise StateDictError(f"{path}: must be None. Received: {value!r:.80}")
        return None
    if isinstance(template, str):
        if not isinstance(value, str) or value != template:
            raise StateDictError(f"{path}: must be {template!r}. Received: {value!r:.80}")
        return value
    raise StateDictError(f"{path}: holds a {type(template).__name__}, which a state dict cannot restore")


# -- parsing -------------------------------------------------------------------------------
def parse_state_dict(engine: StateOwner, sd: Any, *, describe: Callable[[Any], Any] = describe_array,
                     slots: bool = True) -> EngineState:
    """Check an untrusted state dict against ``engine`` and return it as an :class:`EngineState`.

    Nothing changes: the result is applied by :meth:`Engine.apply_state`. Every value is
    checked with the rules of the setters, and a refusal raises :class:`StateDictError`
    naming the path (``groups[0].host_state.beta1_power``):

    * the top-level keys are exactly :data:`TOP_KEYS` (plus :data:`LAYOUT_KEYS`);
      ``format``, ``format_version`` (:data:`READABLE_VERSIONS`) and ``algorithm`` match;
      ``global_step`` is an int >= 0; ``param_names`` is the optimizer's order;
    * each group has exactly the keys :data:`GROUP_KEYS` of its version (plus
      ``algorithm``, the name of the group's algorithm, for a group whose algorithm is not
      the spec's), its ``index`` and ``params``; ``host_state`` has the algorithm's keys, each a finite real
      number; ``lr_override`` is ``None`` or a finite number >= 0 (``set_lr``'s rule);
      ``hyperparameters`` are numeric hyperparameters of the group's algorithm with
      finite values that keep its state slots (``set_hyperparameters``' rule);
      ``scheduler_values`` maps names to finite numbers (torch's ``initial_lr``,
      ``max_momentum``, ...); ``schedules`` has a state
      for each stateful schedule of the group: same ``kind`` and ``interval``,
      ``advances`` an int >= 0 (at most ``global_step`` for ``interval="step"``), and a
      ``runtime`` of the structure a fresh runtime has, which loads and gives a finite
      value;
    * ``state`` (unless ``slots=False``) has exactly the trained parameters, each exactly
      the algorithm's slots, each an array (``describe`` says what is one) of a real
      floating-point dtype — not complex, integer or bool — and of the slot's shape
      for its parameter (``Slot.layout``: the parameter's shape, or a factored statistic's;
      a factored statistic may also come in the layout of MindSpore and Keras, without the
      reduced axis, and is returned reshaped to the slot's shape). Floating-point values
      of another width are accepted: the backend rounds them to the state dtype, as
      ``torch.optim`` casts loaded state to the parameter's.
      Slot contents are data and are not range-checked (a diverged run's NaNs load).

    Args:
        engine: the engine the state is for.
        sd: the state dict (anything: it is checked).
        describe: ``describe(value) -> (shape, dtype kind, dtype name) | None`` for the
            backend's arrays (default :func:`describe_array`).
        slots: ``False`` checks the host part only (``state`` is then ignored).
    """
    sd = _mapping(sd, "state dict")
    if not isinstance(sd.get("format"), str) or sd["format"] != STATE_FORMAT:
        raise StateDictError(f"not an optbridge state dict (expected 'format': {STATE_FORMAT!r})")
    version = sd.get("format_version")
    if (isinstance(version, (bool, np.bool_)) or not isinstance(version, (int, np.integer))
            or version not in READABLE_VERSIONS):
        raise StateDictError(f"state format_version {version!r} is not supported (expected one of {READABLE_VERSIONS})")
    version = int(version)
    unknown = [k for k in sd if k not in TOP_KEYS + LAYOUT_KEYS]
    missing = [k for k in TOP_KEYS if k not in sd and (slots or k != "state")]
    if version >= 4:
        unknown = [k for k in unknown if k != "transforms"]
        if "transforms" not in sd:
            missing.append("transforms")
    if unknown or missing:
        raise StateDictError(f"state dict: keys do not match: missing {_names(missing)}, unexpected {_names(unknown)}")
    if not isinstance(sd["algorithm"], str) or sd["algorithm"] != engine.spec.algorithm.name:
        raise StateDictError(
            f"state is for algorithm {sd['algorithm']!r}, this optimizer runs {engine.spec.algorithm.name!r}")
    global_step = _count(sd["global_step"], "global_step")
    names = sd["param_names"]
    if not _names_equal(names, engine.param_names):
        raise StateDictError(
            f"param_names: {names!r:.200} is not this optimizer's order {list(engine.param_names)!r:.200}")
    groups = sd["groups"]
    if not isinstance(groups, (list, tuple)) or len(groups) != len(engine.groups):
        raise StateDictError(
            f"state has {len(groups) if isinstance(groups, (list, tuple)) else groups!r} groups, "
            f"this optimizer has {len(engine.groups)}")
    parsed = tuple(_parse_group(engine, g, sg, pos, version, global_step)
                   for pos, (g, sg) in enumerate(zip(engine.groups, groups)))
    checked: dict[str, dict[str, Any]] = {}
    if slots:
        checked = _parse_slots(engine, sd["state"], describe)
    transforms = _parse_transforms(engine, sd.get("transforms"), version)
    result = EngineState(global_step=global_step, groups=parsed, slots=checked, transforms=transforms)
    result.validate()
    return result


def _parse_transforms(engine: StateOwner, entries: Any, version: int) -> tuple[dict[str, float], ...]:
    """``sd["transforms"]`` checked against the spec's transforms (each its own rules,
    ``GradientTransform.check_state``); before format 4, the transforms' initial numbers
    where none keeps any."""
    transforms = engine.spec.transforms
    if version < 4:
        keeping = [t.name for t in transforms if t.initial_state()]
        if keeping:
            raise StateDictError(f"transforms: a format {version} state holds no state of the transforms {keeping}")
        return tuple({} for _ in transforms)
    if not isinstance(entries, (list, tuple)) or len(entries) != len(transforms):
        raise StateDictError(f"transforms: must be a list of {len(transforms)} entries (one per transform of the "
                             f"spec). Received: {entries!r:.120}")
    out = []
    for i, (transform, entry) in enumerate(zip(transforms, entries)):
        where = f"transforms[{i}]"
        entry = _mapping(entry, where)
        _exact_keys(entry, ("transform", "state"), where)
        if entry["transform"] != transform.name:
            raise StateDictError(f"{where}.transform: {entry['transform']!r} is not this optimizer's "
                                 f"{transform.name!r}")
        out.append(transform.check_state(entry["state"], f"{where}.state"))
    return tuple(out)


def check_state_dict(engine: StateOwner, sd: Any, *, describe: Callable[[Any], Any] = describe_array) -> None:
    """Raise :class:`StateDictError` unless ``sd`` fits ``engine`` exactly; change nothing."""
    parse_state_dict(engine, sd, describe=describe)


def _parse_group(engine: StateOwner, g: Any, sg: Any, pos: int, version: int, global_step: int) -> GroupState:
    where = f"groups[{pos}]"
    sg = _mapping(sg, where)
    own_algorithm = _group_algorithm(engine, g)
    _exact_keys(sg, GROUP_KEYS[version] + tuple(own_algorithm), where)
    if own_algorithm and (not isinstance(sg["algorithm"], str) or sg["algorithm"] != own_algorithm["algorithm"]):
        raise StateDictError(f"{where}.algorithm: the state is for algorithm {sg['algorithm']!r:.80}, this group "
                             f"runs {own_algorithm['algorithm']!r}")
    index = sg["index"]
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) or index != g.index:
        raise StateDictError(f"{where}.index: must be {g.index}. Received: {index!r}")
    params = sg["params"]
    if not _names_equal(params, g.names):
        raise StateDictError(f"{where}: state holds parameters {params!r:.200}, expected {list(g.names)!r:.200}")
    host = _mapping(sg["host_state"], f"{where}.host_state")
    if set(host) != set(g.host_state):
        raise StateDictError(f"{where}.host_state: host state keys {sorted(map(str, host))} != {sorted(g.host_state)}")
    host_state = {k: real_number(host[k], _at(f"{where}.host_state", k)) for k in g.host_state}
    override = sg["lr_override"]
    lr_override = None if override is None else real_number(override, f"{where}.lr_override", minimum=0.0)
    schedules = sg.get("schedules", {})
    if not isinstance(schedules, Mapping) or set(schedules) != set(g.tracks):
        got = sorted(map(str, schedules)) if isinstance(schedules, Mapping) else schedules
        raise StateDictError(
            f"{where}: schedule states for {got!r}, this optimizer's group has stateful schedules for "
            f"{sorted(g.tracks)}")
    parsed_schedules = {key: _parse_schedule(track, schedules[key], f"{where}.schedules[{key!r}]", global_step)
                        for key, track in g.tracks.items()}
    values = _mapping(sg.get("scheduler_values", {}), f"{where}.scheduler_values")
    for key in values:
        if not isinstance(key, str):
            raise StateDictError(f"{where}.scheduler_values: keys must be strings. Received: {key!r}")
    scheduler_values = {k: real_number(v, _at(f"{where}.scheduler_values", k)) for k, v in values.items()}
    hyper = _mapping(sg.get("hyperparameters", {}), f"{where}.hyperparameters")
    base = _base_algorithm(g)
    known = base.hyperparameters()
    overrides: dict[str, float] = {}
    for name, value in hyper.items():
        path = _at(f"{where}.hyperparameters", name)
        if name not in known:
            raise StateDictError(f"{where}: 'hyperparameters' names {name!r}, not a hyperparameter of {base.name!r}")
        if not is_real(known[name]):
            raise StateDictError(f"{path}: {name!r} of {base.name!r} is not numeric and cannot be overridden")
        overrides[name] = real_number(value, path)
    algorithm = base.replace(**overrides) if overrides else base
    if algorithm.slots() != base.slots():
        raise StateDictError(
            f"{where}.hyperparameters: {overrides} change the state slots of {base.name!r} (from "
            f"{[s.name for s in base.slots()]} to {[s.name for s in algorithm.slots()]})")
    first_step = _count(sg.get("first_step", 0), f"{where}.first_step")
    if first_step > global_step:
        raise StateDictError(f"{where}.first_step: the group cannot join after the last step: {first_step} > "
                             f"global_step {global_step}")
    return GroupState(host_state=host_state, lr_override=lr_override, schedules=parsed_schedules,
                      scheduler_values=scheduler_values, hyperparameters=overrides, algorithm=algorithm,
                      first_step=first_step)


def _parse_schedule(track: Any, state: Any, where: str, global_step: int) -> ScheduleState:
    """A fresh runtime of ``track``'s declaration with ``state`` loaded into it (the track is not touched)."""
    if not isinstance(state, Mapping) or set(state) != set(_SCHEDULE_KEYS):
        raise StateDictError(f"{where}: a schedule state must hold 'kind', 'interval', 'advances' and 'runtime'")
    if not isinstance(state["kind"], str) or not isinstance(state["interval"], str) or (
            state["kind"] != track.schedule.kind or state["interval"] != track.interval):
        raise StateDictError(
            f"{where}: state is for a {state['kind']!r:.80} schedule with interval {state['interval']!r:.40}, "
            f"this group runs {track.schedule.kind!r} with interval {track.interval!r}")
    advances = _count(state["advances"], f"{where}.advances")
    if track.interval == "step" and advances > global_step:
        raise StateDictError(
            f"{where}.advances: a step-interval schedule advances once per optimizer step: {advances} > global_step "
            f"{global_step}")
    runtime = track.schedule.start(track.context)
    loaded = _like(runtime.state_dict(), state["runtime"], f"{where}.runtime")
    try:
        runtime.load_state_dict(loaded)
        value = runtime.value()
        scheduled = runtime.hyperparameters()
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError) as exc:
        raise StateDictError(f"{where}.runtime: does not load: {type(exc).__name__}: {exc}") from None
    real_number(value, f"{where}.runtime (the value it gives)")
    for name, v in scheduled.items():
        real_number(v, f"{where}.runtime (the {name!r} it gives)")
    return ScheduleState(advances=advances, runtime=runtime)


def _parse_slots(engine: StateOwner, state: Any, describe: Callable[[Any], Any]) -> dict[str, dict[str, Any]]:
    expected = engine.slot_layouts()
    state = _mapping(state, "state")
    if set(state) != set(expected):
        raise StateDictError(f"state parameters do not match: missing {_names(set(expected) - set(state))}, "
                             f"unexpected {_names(set(state) - set(expected))}")
    out: dict[str, dict[str, Any]] = {}
    for name, names in expected.items():
        where = f"state[{name!r}]"
        got = _mapping(state[name], where)
        if set(got) != set(names):
            raise StateDictError(f"{where}: slots {sorted(map(str, got))} != expected {sorted(names)}")
        param_shape = tuple(engine.params[name].shape)
        checked: dict[str, Any] = {}
        for slot, layout in names.items():
            path = _at(where, slot)
            value = got[slot]
            try:
                info = describe(value)
            except (TypeError, ValueError, RuntimeError) as exc:
                raise StateDictError(f"{path}: cannot be read as an array here: {exc}") from None
            if info is None:
                raise StateDictError(f"{path}: must be an array. Received: {type(value).__name__} {value!r:.80}")
            got_shape, kind, dtype = info
            if kind != "f":
                raise StateDictError(f"{path}: must hold real floating-point values. Received dtype {dtype}")
            checked[slot] = _slot_value(value, tuple(got_shape), layout, param_shape, path)
        out[name] = checked
    return out


def _slot_value(value: Any, shape: tuple[int, ...], layout: Any, param_shape: tuple[int, ...], path: str) -> Any:
    """``value`` of a slot laid out as ``layout`` (a ``SlotLayout``): as given when it has the
    slot's shape, reshaped to it when it has one of the layouts of the same elements the slot
    accepts (MindSpore's and Keras's factored statistics without the reduced axis)."""
    if shape == layout.shape:
        return value
    if shape in layout.alternates:
        return value.reshape(layout.shape) if hasattr(value, "reshape") else np.reshape(np.asarray(value), layout.shape)
    if layout.shape == param_shape:
        raise StateDictError(f"{path}: shape {shape} != parameter shape {param_shape}")
    accepted = " or ".join(map(str, (layout.shape, *layout.alternates)))
    raise StateDictError(f"{path}: shape {shape} is not this slot's shape for parameter shape {param_shape}: "
                         f"expected {accepted}")
