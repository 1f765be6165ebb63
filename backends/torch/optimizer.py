"""``optbridge.backends.torch.Optimizer``: a ``torch.optim.Optimizer`` driven by the engine.

See ``docs/backends-torch.md`` for the user guide; the rules that matter here:

* The engine (``optbridge.engine.Engine``) owns the step counter and every host scalar;
  :meth:`Optimizer.step` asks it for a plan, runs each bucket on its path, then commits.
* **Which learning rate wins.** Before each step every ``param_groups[i]['lr']`` is
  compared with the value the optimizer last published there. A changed value (a torch
  ``lr_scheduler``, or ``group['lr'] = x``) is applied as ``set_lr(x, group=i)``: a
  static override that wins over the spec's static lr from then on. If the group's lr
  is an optbridge schedule (per-step list or Schedule), the spec owns it — one owner
  per learning rate: constructing a torch ``lr_scheduler`` on the optimizer (it writes
  ``initial_lr`` or ``lr`` into every group) raises ``StaticLearningRateError`` right
  there, naming the group, the spec's schedule, the scheduler and the two fixes, and so
  does assigning a different value to that group's ``group['lr']``; nothing is written.
  After each step, ``set_lr``, ``end_epoch`` and ``load_state_dict`` the optimizer
  publishes the lr of the next step into ``group['lr']``.
* **Momentum and betas are live too**, as in torch: ``group['momentum']``,
  ``group['betas']`` (torch's name, published for algorithms with ``beta1``/``beta2``)
  and ``group['beta1']``/``group['beta2']``. After each step the optimizer publishes the
  values the next step uses (a declared ``CyclicLR``/``OneCycleLR`` cycles them; a bound
  optbridge scheduler changes them through the engine); a value changed since then —
  by torch's own ``CyclicLR``/``OneCycleLR`` or by hand — is applied with
  ``Engine.set_hyperparameters`` before the next step and stays until changed again. A
  value a declared schedule sets every step cannot be written (one owner per value), and
  a change that would add or drop state slots (momentum to or from 0) raises; nothing is
  applied when any edit of any group is refused.
* ``group['weight_decay']`` shows the next step's weight decay (an optbridge schedule or
  per-step list included). It and the other hyperparameters are read-only: a changed
  value raises at the next step instead of being ignored.
"""
from __future__ import annotations

import array
import dataclasses
import itertools
import math
import operator
import sys
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from optbridge.engine import BucketStep, Engine, OptimizerAPI
from optbridge.errors import (
    BackendError,
    ScheduleExhaustedError,
    SpecTypeError,
    SpecValueError,
    StaticLearningRateError,
    StepInputError,
)
from optbridge.groups import ParamInfo
from optbridge.schedules.values import Constant
from optbridge.spec import GroupSpec, OptimizerSpec

from . import hostscan, state_io
from .fast_paths import as_kernel, preprocess, table
from .flat import FlatBuffers, flatten
from .gradients import check_gradient
from .paths import (
    NESTED,
    PATHS,
    SCALE,
    WD,
    bucket_step,
    compiled_bucket_step,
    fused_layout,
    hashable,
    in_layout_of,
    same_strides,
    trace_key,
)

__all__ = ["Optimizer", "COMPILE_THRESHOLD"]


def work_params(params: Sequence[torch.Tensor], compute_dtype: torch.dtype | None) -> list[torch.Tensor]:
    """The parameters in the compute dtype (copies for float16/bfloat16 with float32 state)."""
    return list(params) if compute_dtype is None else [p.to(compute_dtype) for p in params]

_PARAM_DTYPES = (torch.float32, torch.float64)
_grad_of = operator.attrgetter("grad")
#: what a gradient must share with its parameter (the layout excludes sparse gradients)
_metadata = operator.attrgetter("shape", "dtype", "device", "layout")
_stride_of = torch.Tensor.stride
#: tensor types whose ``*_like`` factories make plain tensors (a subclass may dispatch them elsewhere)
_PLAIN = (torch.Tensor, torch.nn.Parameter)
_is_contiguous = torch.Tensor.is_contiguous
#: Default ``compile_threshold``: buckets below 65,536 elements are not worth a compile.
COMPILE_THRESHOLD = 1 << 16
#: The compiled path compiles at most this many tensors per graph.
COMPILE_CHUNK = 64
_LOW_DTYPES = (torch.float16, torch.bfloat16)
#: ``param_groups`` keys written back into the engine when changed (see the module docstring).
_LIVE_KEYS = ("lr", "momentum", "betas", "beta1", "beta2")


@dataclass
class _Unit:
    """The parameters of one engine bucket that share device and dtype."""

    names: tuple[str, ...]
    params: list[torch.Tensor]
    slots: dict[str, list[torch.Tensor]]
    compute_dtype: torch.dtype | None
    device: torch.device
    algorithm: Any
    numel: int = 0
    flat: FlatBuffers | None = None
    #: flat mode: the one-tensor lists every step passes (built once)
    flat_grads: list[torch.Tensor] = field(default_factory=list)
    flat_params: list[torch.Tensor] = field(default_factory=list)
    flat_slots: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    native: Callable[..., None] | None = None
    #: with ``native``: the state tensors' layout per parameter for the gradient scan
    #: (:func:`_state_layouts`), recorded when the unit is built
    layouts: bytes = b""
    compiled: dict[Any, Callable[..., None]] = field(default_factory=dict)
    #: ``(step variant, first index of the chunk)`` -> compiled function, for steps where every
    #: parameter has a gradient (the chunk's layout is then fixed; no per-tensor key each step)
    chunks: dict[Any, Callable[..., None]] = field(default_factory=dict)
    #: :func:`~optbridge.backends.torch.paths.trace_key` -> the algorithm its graph is traced with
    traced: dict[Any, Any] = field(default_factory=dict)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _named(params: Any, names: Any) -> list[tuple[str, torch.Tensor]]:
    """Normalize the accepted parameter forms to ``[(name, tensor)]``."""
    lookup: dict[torch.Tensor, str] | None = None
    if names is not None:
        if isinstance(names, torch.nn.Module):
            lookup = {p: n for n, p in names.named_parameters()}
        elif isinstance(names, Mapping):
            lookup = {p: n for p, n in names.items()} if all(isinstance(k, torch.Tensor) for k in names) \
                else {p: n for n, p in names.items()}
        else:
            raise SpecTypeError(f"'names' must be a torch.nn.Module or a mapping. Received: {type(names).__name__}")
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
    for entry in items:
        if isinstance(entry, tuple) and len(entry) == 2:
            name, tensor = entry
        elif isinstance(entry, torch.Tensor):
            if lookup is None or entry not in lookup:
                raise SpecTypeError(
                    "the torch backend needs parameter names: pass model.named_parameters(), a {name: tensor} "
                    "mapping, or names=model (a module whose named_parameters() include every tensor)")
            name, tensor = lookup[entry], entry
        else:
            raise SpecTypeError(f"expected (name, tensor) pairs or tensors. Received: {type(entry).__name__}")
        if not isinstance(name, str):
            raise SpecTypeError(f"parameter names must be strings. Received: {name!r}")
        if not isinstance(tensor, torch.Tensor):
            raise SpecTypeError(f"parameter {name!r} must be a torch.Tensor. Received: {type(tensor).__name__}")
        out.append((name, tensor))
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


def _with_betas(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters plus torch's ``betas`` pair when the algorithm has ``beta1`` and ``beta2``."""
    keys = dict(hyperparameters)
    if "beta1" in keys and "beta2" in keys:
        keys["betas"] = (keys["beta1"], keys["beta2"])
    return keys


def _scalar(value: Any) -> Any:
    """A one-element tensor as a Python number (torch allows tensor hyperparameters); else ``value``."""
    return value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value


def _differs(value: Any, published: Any) -> bool:
    try:
        return bool(value != published)
    except (TypeError, RuntimeError, ValueError):  # e.g. a pair holding tensors
        return True


def _hyperparameter_edits(index: int, group: Mapping[str, Any], published: Mapping[str, Any],
                          changed: Sequence[str]) -> dict[str, Any]:
    """``{momentum | beta1 | beta2: value}`` from the changed live keys of ``param_groups[index]``.

    ``betas`` (torch's key; its schedulers write it) and ``beta1``/``beta2`` may both be
    edited only if they agree.
    """
    values: dict[str, Any] = {}
    if "momentum" in changed:
        values["momentum"] = _scalar(group["momentum"])
    if "betas" in changed:
        betas = group["betas"]
        if isinstance(betas, (str, bytes)) or not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise SpecValueError(f"param_groups[{index}]['betas'] must be a pair (beta1, beta2). Received: {betas!r}")
        for name, value, before in zip(("beta1", "beta2"), betas, published["betas"]):
            if _differs(value, before):
                values[name] = _scalar(value)
    for name in ("beta1", "beta2"):
        if name in changed:
            value = _scalar(group[name])
            if name in values and _differs(values[name], value):
                raise SpecValueError(
                    f"param_groups[{index}]: 'betas' and '{name}' were both changed and disagree "
                    f"({group['betas']!r} and {group[name]!r})")
            values[name] = value
    return values


def _all_contiguous(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor],
                    slots: Mapping[str, Sequence[torch.Tensor]]) -> bool:
    """Whether every parameter, gradient and slot is contiguous (the Python scan's layout check:
    contiguous tensors of one shape share their strides wherever they matter)."""
    return all(all(map(_is_contiguous, ts)) for ts in (params, grads, *slots.values()))


def _state_layouts(slots: Mapping[str, Sequence[torch.Tensor]]) -> bytes:
    """The compiled gradient scan's record of each parameter's state layout (``b""``: no state).

    Per parameter, native int64 ``ndim, sizes..., strides...`` of its slots, or ``-1``
    when they differ from one another (that parameter then never passes the scan). The
    scan compares each parameter with it every step (a replaced ``p.data`` is caught
    there); the record itself stays true because the optimizer writes its state tensors
    in place only (``load_state_dict`` copies into them), so the scan need not read them.
    """
    lists = list(slots.values())
    if not lists:
        return b""
    words: list[int] = []
    for tensors in zip(*lists):
        first = tensors[0]
        if all(t.shape == first.shape and same_strides(t, first) for t in tensors[1:]):
            words += [first.dim(), *first.shape, *first.stride()]
        else:
            words.append(-1)
    return array.array("q", words).tobytes()


def _split(which: Sequence[bool], params: list[torch.Tensor], grads: list[torch.Tensor],
           slots: Mapping[str, list[torch.Tensor]], keep: bool) -> tuple[list, list, dict[str, list]]:
    """The parameters, gradients and slots at the indices where ``which`` is ``keep``."""
    def pick(seq: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [t for t, w in zip(seq, which) if w == keep]
    return pick(params), pick(grads), {k: pick(v) for k, v in slots.items()}


#: keys a torch ``lr_scheduler`` writes into every group when it binds (``initial_lr``) or steps (``lr``)
_LR_WRITES = ("lr", "initial_lr")
#: how far up the stack a writer of ``group['lr']`` is looked for (scheduler method -> helper -> here)
_SCHEDULER_FRAMES = 8


def _scheduler_in_stack() -> Any:
    """The torch ``lr_scheduler`` whose method is writing a param group, or ``None``.

    Only called on the refusal path and when some group's lr is dynamic, so walking a
    few frames costs nothing that matters.
    """
    kinds = (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    frame: types.FrameType | None = sys._getframe(2)
    for _ in range(_SCHEDULER_FRAMES):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, kinds):
            return candidate
        frame = frame.f_back
    return None


class _ParamGroup(dict):
    """One of ``Optimizer.param_groups``: a plain torch group dict whose learning-rate
    writes are checked by the optimizer before they land (see the module docstring)."""

    def __init__(self, owner: Optimizer, values: Mapping[str, Any]):
        super().__init__(values)
        self._owner = owner

    def __setitem__(self, key: str, value: Any) -> None:
        owner = self.__dict__.get("_owner")  # absent while pickle/deepcopy refill the items
        if key in _LR_WRITES and owner is not None:
            owner._check_lr_write(self, key, value)
        super().__setitem__(key, value)

    def setdefault(self, key: str, default: Any = None) -> Any:
        owner = self.__dict__.get("_owner")
        if key in _LR_WRITES and key not in self and owner is not None:
            owner._check_lr_write(self, key, default)
        return super().setdefault(key, default)


class Optimizer(torch.optim.Optimizer, OptimizerAPI):
    """A ``torch.optim.Optimizer`` that runs a canonical optbridge spec.

    Usually made by ``optbridge.build(spec, model.named_parameters())``; construct it
    directly to choose the path and options.

    Args:
        params: ``model.named_parameters()``, a ``{name: tensor}`` mapping, or tensors /
            torch param groups together with ``names``.
        spec: a dialect optimizer (``optim.Adam(...)``, ``nn.Momentum(...)``) or a
            canonical :class:`~optbridge.spec.OptimizerSpec`.
        path: ``"auto"`` (torch's own fused kernel where the canonical formula is exactly
            torch's, else compiled), ``"compiled"`` (always compiled), ``"native"`` (same
            as ``"auto"``) or ``"reference"`` (eager, per tensor; for debugging).
        flat: flat-buffer mode (see :mod:`optbridge.backends.torch.flat`).
        state_dtype: ``None`` (state in the parameter dtype; float16/bfloat16 parameters
            then raise) or ``torch.float32``: float32 state and float32 arithmetic for
            float16/bfloat16 parameters, rounded back into the parameter each step.
        names: a module (or ``{name: tensor}``) naming the tensors when ``params`` holds
            bare tensors, e.g. as ZeroRedundancyOptimizer's ``optimizer_class``.
        kernels: ``{algorithm: FastPath or update function}``; default: every registered
            algorithm (:func:`~optbridge.backends.torch.fast_paths.table`).
        compile_threshold: on ``"auto"``/``"native"``, a bucket with fewer elements than
            this runs the eager reference code instead of being compiled: compiling costs
            seconds, and a small bucket's eager step takes microseconds. ``0``: always
            compile. ``"compiled"`` ignores it.

    Raises:
        SpecTypeError / SpecValueError: bad parameters or options.
        BackendError: no kernel for the algorithm.
        GroupError: the spec's groups do not resolve against the names.
    """

    def __init__(self, params: Any, spec: Any = None, *, path: str = "auto", flat: bool = False,
                 state_dtype: torch.dtype | None = None, names: Any = None,
                 kernels: Mapping[str, Any] | None = None, compile_threshold: int = COMPILE_THRESHOLD):
        if spec is None:
            raise SpecTypeError("Optimizer needs a spec: Optimizer(model.named_parameters(), spec)")
        canonical = spec.to_canonical() if hasattr(spec, "to_canonical") else spec
        if not isinstance(canonical, OptimizerSpec):
            raise SpecTypeError(
                f"spec must be a dialect optimizer or an OptimizerSpec. Received: {type(spec).__name__}"
            )
        if path not in PATHS:
            raise SpecValueError(f"path must be one of {list(PATHS)}. Received: {path!r}")
        if state_dtype is not None and state_dtype is not torch.float32:
            raise SpecValueError(f"state_dtype must be None or torch.float32. Received: {state_dtype!r}")
        named = _named(params, names)
        if not named:
            raise SpecValueError("optimizer got an empty parameter list")
        for name, t in named:
            if t.dtype not in _PARAM_DTYPES + _LOW_DTYPES:
                raise SpecTypeError(f"parameter {name!r} has dtype {t.dtype}; supported: float32, float64, "
                                    f"float16 and bfloat16 (the last two with state_dtype=torch.float32)")
            if t.dtype in _LOW_DTYPES and state_dtype is None:
                raise SpecValueError(
                    f"parameter {name!r} is {_dtype_name(t.dtype)}: pass state_dtype=torch.float32 to keep float32 "
                    f"state for it (an explicit option, never a silent cast)")
            if not (t.is_leaf or t.retains_grad):
                raise SpecValueError(f"parameter {name!r} is not a leaf tensor; only leaves can be optimized")
        self._kernel_table = {k: as_kernel(k, v) for k, v in (table() if kernels is None else kernels).items()}
        if isinstance(compile_threshold, bool) or not isinstance(compile_threshold, int) or compile_threshold < 0:
            raise SpecValueError(f"compile_threshold must be an int >= 0. Received: {compile_threshold!r}")
        self._path = path
        self._compile_threshold = compile_threshold
        self._flat = bool(flat)
        self._state_dtype = state_dtype
        self._spec = canonical
        self._names_arg = names
        self._named_params = dict(named)
        self._building = True
        engine = self._make_engine(canonical, named)
        self.engine = engine
        torch.optim.Optimizer.__init__(self, self._torch_groups(engine), self._defaults(engine))
        self._building = False
        self._allocate_state(engine)
        self._build_units()
        self._publish()

    # -- construction ---------------------------------------------------------------
    def _make_engine(self, spec: OptimizerSpec, named: Sequence[tuple[str, torch.Tensor]]) -> Engine:
        engine = Engine(spec, [ParamInfo(n, tuple(t.shape)) for n, t in named])
        for g in engine.groups:
            if g.algorithm.name not in self._kernel_table:
                raise BackendError(f"the torch backend has no kernel for algorithm {g.algorithm.name!r}")
        return engine

    def _group_keys(self, engine: Engine, index: int) -> dict[str, Any]:
        """The hyperparameters, torch's ``betas`` and the weight decay of the next step.

        A finished per-step weight-decay list shows nothing (the group keeps its last value).
        """
        group = engine.groups[index]
        keys = _with_betas(engine.algorithm_at(group, engine.global_step).hyperparameters())
        wd = group.weight_decay
        if isinstance(wd, Constant):
            keys["weight_decay"] = wd.value
        else:
            try:
                keys["weight_decay"] = engine.weight_decay_value(group, engine.global_step)
            except ScheduleExhaustedError:
                pass
        return keys

    def _torch_groups(self, engine: Engine) -> list[dict[str, Any]]:
        lrs = engine.get_lr()
        out: list[dict[str, Any]] = []
        for i, g in enumerate(engine.groups):
            group = _ParamGroup(self, {"params": [(n, self._named_params[n]) for n in g.names], "lr": lrs[i]})
            group.update(self._group_keys(engine, i))
            out.append(group)
        return out

    def _defaults(self, engine: Engine) -> dict[str, Any]:
        defaults = _with_betas(engine.spec.algorithm.hyperparameters())
        defaults["lr"] = engine.get_lr()[0]
        return defaults

    def _allocate_state(self, engine: Engine) -> None:
        for name, slots in engine.slot_layouts().items():
            p = self._named_params[name]
            dtype = self._state_dtype if p.dtype in _LOW_DTYPES else p.dtype
            entry = self.state[p]
            for slot, layout in slots.items():
                if slot not in entry:
                    # in the parameter's memory layout where it is dense (torch.optim's zeros_like(p,
                    # memory_format=torch.preserve_format)): the fused kernels need it (paths.fused_layout)
                    entry[slot] = (torch.full_like(p.detach(), layout.init, dtype=dtype)
                                   if type(p) in _PLAIN and layout.shape == tuple(p.shape)
                                   else torch.full(layout.shape, layout.init, dtype=dtype, device=p.device))

    def _build_units(self) -> None:
        self._units: list[list[_Unit]] = []
        for group in self.engine.groups:
            for bucket in group.buckets:
                by_key: dict[tuple, list[str]] = {}
                for n in bucket.names:
                    p = self._named_params[n]
                    by_key.setdefault((p.device, p.dtype), []).append(n)
                units = []
                kernel = self._kernel_table[group.algorithm.name]
                slot_names = [s.name for s in group.algorithm.slots()]
                for (device, dtype), unit_names in by_key.items():
                    params = [self._named_params[n] for n in unit_names]
                    slots = {s: [self.state[p].get(s) for p in params] for s in slot_names}
                    compute = self._state_dtype if dtype in _LOW_DTYPES else None
                    unit = _Unit(tuple(unit_names), params, slots, compute, device, group.algorithm,
                                 sum(p.numel() for p in params))
                    if self._path in ("auto", "native") and compute is None:
                        unit.native = kernel.native_for(group.algorithm)
                    if self._flat and not bucket.centralize and kernel.elementwise:
                        unit.flat = flatten(unit_names, params, slots)
                        unit.flat_grads, unit.flat_params = [unit.flat.grad], [unit.flat.param]
                        unit.flat_slots = {k: [v] for k, v in unit.flat.slots.items()}
                        for p, i in zip(params, range(len(params))):
                            for s in slot_names:
                                self.state[p][s] = slots[s][i]
                    if unit.native is not None and unit.flat is None:
                        unit.layouts = _state_layouts(slots)
                    units.append(unit)
                self._units.append(units)

    # -- live group keys: lr, momentum, betas ------------------------------------------
    def _publish(self) -> None:
        """Write the next step's lr, hyperparameters and weight decay into each group.

        A finished per-step list keeps its last value.
        """
        engine = self.engine
        published = []
        for i, (group, runtime) in enumerate(zip(self.param_groups, engine.groups)):
            try:
                dict.__setitem__(group, "lr", engine.lr_at(runtime, engine.global_step))
            except ScheduleExhaustedError:
                pass
            keys = self._group_keys(engine, i)
            group.update(keys)
            published.append({k: group[k] for k in ("lr", *keys)})
        self._published = published

    def schedule_changed(self, group: int, key: str) -> None:
        """A bound optbridge scheduler changed ``key`` of a group in the engine: show it in
        ``param_groups`` (only that value: an edit not yet applied elsewhere stays pending)."""
        engine = self.engine
        if key == "lr":
            values = {"lr": engine.lr_at(engine.groups[group], engine.global_step)}
        else:
            values = {k: v for k, v in self._group_keys(engine, group).items()
                      if k in ("momentum", "betas", "beta1", "beta2")}
        self.param_groups[group].update(values)
        self._published[group].update(values)

    def _check_lr_write(self, group: Mapping[str, Any], key: str, value: Any) -> None:
        """Refuse a write of ``group[key]`` (``'lr'``/``'initial_lr'``) that would take a
        learning rate away from its owner, the spec, before anything is written.

        A torch ``lr_scheduler`` writes every group, so it is refused when any group's lr
        is a per-step list or a schedule: when it binds (``initial_lr``; OneCycleLR,
        CyclicLR and ReduceLROnPlateau write ``lr`` first). Other code is refused when it
        assigns a different ``lr`` to such a group.

        Raises:
            StaticLearningRateError: naming the group, the spec's schedule, the writer and
                the two fixes.
        """
        engine = getattr(self, "engine", None)
        if getattr(self, "_building", True) or engine is None:
            return
        dynamic = [i for i in range(len(engine.groups)) if engine.dynamic_lr(i) is not None]
        if not dynamic:
            return
        index = next((i for i, g in enumerate(self.param_groups) if g is group), None)
        scheduler = _scheduler_in_stack()
        if scheduler is None:
            if index not in dynamic or (key == "lr" and not _differs(value, group.get("lr"))):
                return
            if key == "initial_lr":
                writer = "a torch lr_scheduler (it writes param_groups[i]['initial_lr'] when it binds)"
            else:
                writer = f"code assigning param_groups[{index}]['lr'] (a torch lr_scheduler or by hand)"
            culprit = index
        else:
            cls = type(scheduler)
            writer = f"{cls.__module__}.{cls.__qualname__}"
            culprit = index if index in dynamic else dynamic[0]
        runtime = engine.groups[culprit]
        raise StaticLearningRateError(
            f"param_groups[{culprit}] ({runtime.label}): {writer} cannot set this group's learning rate: the spec "
            f"gives it {engine.dynamic_lr(culprit)}, and the spec owns it (one owner per learning rate). Either give "
            f"the group a static lr in the spec (a number) and let the scheduler change it, or declare the scheduler "
            f"in the spec (optbridge.dialects.torch.optim.lr_scheduler.<Name>.declare(...) as the group's lr) and do "
            f"not attach the torch one. Nothing was changed"
        )

    def _sync_lr(self) -> None:
        """Apply edits of the live keys (see the module docstring); check the read-only keys.

        Every edit of every group is validated and applied, or (any refused) none is.
        """
        engine = self.engine
        if len(self.param_groups) != len(engine.groups):
            raise StepInputError(
                f"param_groups has {len(self.param_groups)} groups, the optimizer {len(engine.groups)}; "
                f"add groups with add_param_group")
        lr_edits: list[tuple[int, float]] = []
        hyper_edits: list[tuple[int, dict[str, Any]]] = []
        for i, (group, published) in enumerate(zip(self.param_groups, self._published)):
            changed = [k for k, v in published.items() if k in group and _differs(group[k], v)]
            for key in changed:
                if key not in _LIVE_KEYS:
                    raise SpecValueError(
                        f"param_groups[{i}]['{key}'] was changed to {group[key]!r} (was {published[key]!r}); only "
                        f"{list(_LIVE_KEYS)} are live on the optbridge torch optimizer: build a new spec to change "
                        f"'{key}'")
            if "lr" in changed:
                lr = _scalar(group["lr"])
                if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
                    raise SpecValueError(f"param_groups[{i}]['lr'] must be a finite number >= 0. Received: {lr!r}")
                lr_edits.append((i, float(lr)))
            values = _hyperparameter_edits(i, group, published, changed)
            scheduled = sorted(engine.scheduled_hyperparameters(engine.groups[i]) & set(values))
            if scheduled:
                raise SpecValueError(
                    f"param_groups[{i}]: {scheduled} is set every step by the group's optbridge schedule "
                    f"(CyclicLR/OneCycleLR declared with cycle_momentum=True) and cannot be written")
            if values:
                hyper_edits.append((i, values))
        if not lr_edits and not hyper_edits:
            return
        saved = [(g.algorithm, dict(g.hyperparameter_overrides), g.lr_override) for g in engine.groups]
        try:
            for i, values in hyper_edits:
                engine.set_hyperparameters(i, **values)
            for i, lr in lr_edits:
                engine.set_lr(lr, group=i)
        except BaseException:
            for g, (algorithm, overrides, lr_override) in zip(engine.groups, saved):
                g.algorithm, g.hyperparameter_overrides, g.lr_override = algorithm, overrides, lr_override
            raise
        self._publish()

    def set_lr(self, value: float, group: int | None = None) -> None:
        self._sync_lr()
        super().set_lr(value, group)
        self._publish()

    def get_lr(self) -> list[float]:
        self._sync_lr()
        self._publish()
        return super().get_lr()

    def end_epoch(self, metric: float | None = None) -> None:
        self._sync_lr()
        super().end_epoch(metric)
        self._publish()

    # -- the step -----------------------------------------------------------------------
    def _gather(self) -> list[list[tuple[list[int] | None, list[torch.Tensor], bool]]]:
        """Each unit's gradients, which parameters have one, and whether the layouts are checked.

        Validates before any update. The common case — every gradient present and matching
        its parameter — is one compiled scan per unit (:mod:`.hostscan`; a Python scan where
        it is unavailable); anything else takes the per-parameter loop below, which names
        the parameter at fault. For a unit on torch's fused kernel the scan also checks the
        memory layouts (:func:`~.paths.fused_layout`); the third entry says it found them all
        alike, else :meth:`_run` sorts the tensors out one by one.
        """
        scan = hostscan.load()
        out = []
        for units in self._units:
            row: list[tuple[list[int] | None, list[torch.Tensor], bool]] = []
            for unit in units:
                if unit.flat is not None:
                    unit.flat.check()
                    row.append((None, unit.flat_grads, True))  # one contiguous buffer each
                    continue
                native = unit.native is not None
                if scan is not None:
                    grads = scan.dense_grads(unit.params, hostscan.ACCEPTED, unit.layouts if native else None)
                else:
                    grads = list(map(_grad_of, unit.params))
                    if not (all(map(operator.is_not, grads, itertools.repeat(None)))
                            and list(map(_metadata, grads)) == list(map(_metadata, unit.params))
                            and (not native or _all_contiguous(unit.params, grads, unit.slots))):
                        grads = None
                if grads is not None:
                    # every gradient present, dense, and of its parameter's shape, dtype and
                    # device (and, for a fused unit, every tensor of one index laid out alike)
                    row.append((None, grads, True))
                    continue
                present: list[int] = []
                grads = []
                for i, p in enumerate(unit.params):
                    g = p.grad
                    if g is None:
                        continue
                    check_gradient(unit.names[i], p, g)
                    present.append(i)
                    grads.append(g)
                row.append((None if len(present) == len(unit.params) else present, grads, not native))
            out.append(row)
        return out

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update from each parameter's ``.grad`` (parameters whose grad is None are skipped).

        Args:
            closure: re-evaluates the model and returns the loss (as in torch.optim).

        Returns:
            The closure's loss, or ``None``.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._sync_lr()
        gathered = self._gather()
        plan = self.engine.plan()
        for bs, units, row in zip(plan.buckets, self._units, gathered):
            for unit, (present, grads, layouts_checked) in zip(units, row):
                if grads:
                    self._run(unit, bs, present, grads, layouts_checked)
        self.engine.commit(plan)
        self._publish()
        return loss

    def _run(self, unit: _Unit, bs: BucketStep, present: list[int] | None, grads: list[torch.Tensor],
             layouts_checked: bool) -> None:
        """Update one unit's parameters that have gradients (``present``: their indices, ``None``: all).

        ``layouts_checked``: the gather found every parameter, gradient and slot of a fused
        unit in one layout; otherwise each tensor is sorted by :func:`fused_layout` first.
        """
        alg = bs.algorithm
        if unit.flat is not None:
            params, slots = unit.flat_params, unit.flat_slots
        elif present is None:
            params, slots = unit.params, unit.slots
        else:
            params = [unit.params[i] for i in present]
            slots = {k: [v[i] for i in present] for k, v in unit.slots.items()}
        decay = bs.weight_decay != 0.0
        scale = bs.grad_scale is not None
        eager = False
        if unit.native is not None:
            preprocess = bs.centralize or scale
            rest = None
            if not layouts_checked:
                eager_ones = [fused_layout(p, g, [v[i] for v in slots.values()]) == "eager"
                              for i, (p, g) in enumerate(zip(params, grads))]
                if any(eager_ones):
                    # the parameters torch's kernel cannot pair with their state run on the reference path
                    rest = _split(eager_ones, params, grads, slots, True)
                    params, grads, slots = _split(eager_ones, params, grads, slots, False)
                if not preprocess:
                    grads = in_layout_of(params, grads)
            if params:
                scalars = dict(bs.scalars, step=self.engine.global_step + 1)
                if preprocess:
                    grads = self._eager_preprocess(unit, bs, params, grads)
                    # the pre-processed tensors take their layout from torch's ops: check it again
                    if list(map(_stride_of, grads)) != list(map(_stride_of, params)):
                        grads = in_layout_of(params, grads)
                    unit.native(alg, params, grads, slots, scalars, False, 0.0)
                else:
                    unit.native(alg, params, grads, slots, scalars, bs.negate, bs.weight_decay)
            if rest is None:
                return
            params, grads, slots = rest
            eager = True
        names, values, flags = [], [], {}
        for k, v in bs.scalars.items():
            # a nested mapping (LARS's inner scalars) joins the vector too: as Python floats in
            # flags, a new learning rate would recompile
            for name, value in ({f"{k}{NESTED}{ik}": iv for ik, iv in v.items()} if isinstance(v, Mapping)
                                else {k: v}).items():
                if isinstance(value, float):
                    names.append(name)
                    values.append(value)
                else:
                    flags[name] = value
        names += [WD, SCALE]
        values += [bs.weight_decay, 1.0 if bs.grad_scale is None else bs.grad_scale]
        dtype = unit.compute_dtype or params[0].dtype
        wide_names: tuple[str, ...] = ()
        wide = None
        if dtype != torch.float64 and alg.float64_scalars:
            # the scalars the rule takes in float64 whatever the bucket's dtype: a second vector
            keep = [i for i, n in enumerate(names) if n not in alg.float64_scalars]
            wide_names = tuple(n for n in names if n in alg.float64_scalars)
            wide = self._scalar_vector([values[names.index(n)] for n in wide_names], torch.float64, unit.device)
            names, values = [names[i] for i in keep], [values[i] for i in keep]
        svec = self._scalar_vector(values, dtype, unit.device)
        pre = (bs.negate, decay, bs.centralize, scale)
        args = (self._kernel_table[alg.name].update, alg, params, grads, slots, svec, tuple(names), flags, pre,
                unit.compute_dtype, wide, wide_names)
        if (eager or self._path == "reference" or not self._kernel_table[alg.name].compiles(alg)
                or (self._path != "compiled" and unit.numel < self._compile_threshold)):
            bucket_step(*args)
            return
        # cycled momentum/betas arrive as scalars: trace with the representative of this step's
        # algorithm, so a new value never recompiles
        alg = unit.traced.setdefault(hashable(trace_key(alg, unit.algorithm)), alg)
        args = args[:1] + (alg,) + args[2:]
        if bs.centralize:
            # inductor (torch 2.13) fails to compile the per-tensor mean next to in-place updates
            # (KeyError in loop_body): centralize eagerly, compile the rest.
            grads = self._eager_preprocess(unit, bs, work_params(params, unit.compute_dtype), grads)
            pre = (False, False, False, False)
            args = args[:3] + (grads,) + args[4:8] + (pre,) + args[9:]
        variant = (alg.name, alg, pre, tuple(names), tuple(sorted(flags)), unit.compute_dtype, wide_names)
        whole = present is None
        if len(params) > COMPILE_CHUNK:
            # bounded graphs: compile time stays flat, and chunks of equal shapes share one compiled function
            for lo in range(0, len(params), COMPILE_CHUNK):
                hi = lo + COMPILE_CHUNK
                chunk = (args[2][lo:hi], args[3][lo:hi], {k: v[lo:hi] for k, v in args[4].items()})
                self._run_compiled(unit, variant, args[:2] + chunk + args[5:], lo if whole else None)
            return
        self._run_compiled(unit, variant, args, 0 if whole else None)

    def _run_compiled(self, unit: _Unit, variant: tuple, args: tuple, chunk: int | None) -> None:
        """Run one chunk's compiled function; ``chunk``: its first index when every parameter of
        the unit has a gradient (its layout is the unit's, so the function is looked up without
        a per-tensor key), else ``None``."""
        fast = None if chunk is None else hashable((variant, chunk))
        fn = unit.chunks.get(fast) if fast is not None else None
        if fn is not None:
            fn(*args)
            return
        alg, params = args[1], args[2]
        layout = tuple((tuple(p.shape), p.dtype, str(p.device)) for p in params)
        key = hashable(variant + (layout,))
        fn = unit.compiled.get(key)
        if fn is None:
            fn = compiled_bucket_step(key, zero_dim=any(not shape for shape, _, _ in layout))
            try:
                fn(*args)  # compiles; a compile error raises before any tensor is written
            except Exception as exc:
                warnings.warn(f"optbridge torch backend: torch.compile failed for a {alg.name!r} bucket "
                              f"({type(exc).__name__}: {str(exc)[:200]}); this bucket runs eagerly", RuntimeWarning,
                              stacklevel=3)
                fn = bucket_step
                bucket_step(*args)
            unit.compiled[key] = fn
        else:
            fn(*args)
        if fast is not None:
            unit.chunks[fast] = fn

    @staticmethod
    def _scalar_vector(values: list[float], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        if device.type == "cpu":
            return torch.tensor(values, dtype=dtype)
        host = torch.tensor(values, dtype=dtype, pin_memory=torch.cuda.is_available() and device.type == "cuda")
        return host.to(device, non_blocking=True)

    def _eager_preprocess(self, unit: _Unit, bs: BucketStep, params, grads) -> list[torch.Tensor]:
        """Pre-process gradients eagerly (in the compute dtype of ``params``)."""
        dtype = params[0].dtype
        if grads[0].dtype != dtype:
            grads = [g.to(dtype) for g in grads]
        # torch.full fills on the device (torch.tensor(x, device=cuda) would copy from the host and sync)
        wd = torch.full((), bs.weight_decay, dtype=dtype, device=unit.device) if bs.weight_decay != 0.0 else None
        scale = torch.full((), bs.grad_scale, dtype=dtype, device=unit.device) if bs.grad_scale is not None else None
        return preprocess(params, grads, bs.negate, wd, bs.centralize, scale)

    # -- gradients ------------------------------------------------------------------------
    @torch._disable_dynamo
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients (``set_to_none`` as in torch; flat buckets are zeroed in place).

        When every bucket is flat, torch's per-parameter pass is skipped: the gradient views
        are re-attached where something replaced them, and each buffer is zeroed.
        """
        flat = [unit.flat for units in self._units for unit in units if unit.flat is not None]
        if len(flat) < sum(map(len, self._units)):
            super().zero_grad(set_to_none)
        for buffers in flat:
            buffers.attach_grads()
            buffers.grad.zero_()

    # -- groups -----------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group: ``{"params": named tensors, "lr": ..., "weight_decay": ..., <hyperparameters>}``.

        Parameters need names (``(name, tensor)`` pairs, or tensors with ``names=`` given
        at construction). Keys other than ``params``, ``lr``, ``weight_decay`` and
        ``param_names`` must be the algorithm's hyperparameters (or torch's ``betas`` for
        ``beta1``/``beta2``). The new group's host
        state starts fresh; the global step continues.
        """
        if self._building:
            super().add_param_group(param_group)
            return
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise SpecTypeError("param_group must be a dict with a 'params' entry")
        raw = param_group["params"]
        raw = [raw] if isinstance(raw, torch.Tensor) else list(raw)
        given_names = param_group.get("param_names")
        if given_names is not None:
            raw = list(zip(given_names, raw))
        lookup = {p: n for n, p in self._named_params.items()}
        named = _named(raw, self._names_arg)
        for n, t in named:
            if n in self._named_params or t in lookup:
                raise SpecValueError(f"add_param_group: parameter {n!r} is already in a group")
        alg_keys = set(self._spec.algorithm.hyperparameters())
        betas = {"betas"} if {"beta1", "beta2"} <= alg_keys else set()
        extra = {"params", "lr", "weight_decay", "param_names"} | betas
        unknown = [k for k in param_group if k not in alg_keys | extra]
        if unknown:
            raise SpecValueError(f"add_param_group: unknown keys {unknown}; allowed: {sorted(extra - {'params'})} and "
                                 f"{sorted(alg_keys)}")
        overrides = {k: v for k, v in param_group.items() if k in alg_keys}
        if "betas" in param_group:
            overrides.update(_hyperparameter_edits(len(self.param_groups), param_group, {"betas": (None, None)},
                                                   [k for k in ("betas", "beta1", "beta2") if k in param_group]))
        self._sync_lr()
        spec = self._spec
        existing = spec.groups if spec.groups is not None else (GroupSpec(params=list(self.engine.param_names)),)
        new = GroupSpec(
            params=[n for n, _ in named],
            lr=None if "lr" not in param_group else Constant(float(param_group["lr"])),
            weight_decay=None if "weight_decay" not in param_group else Constant(float(param_group["weight_decay"])),
            overrides=overrides,
            source_index=len(existing),
        )
        order = spec.order_params
        if order is not None:
            order = list(self.engine.param_names) + [n for n, _ in named]
        new_spec = dataclasses.replace(spec, groups=tuple(existing) + (new,), order_params=order)
        all_named = list(self._named_params.items()) + named
        engine = self._make_engine(new_spec, all_named)
        old = self.engine.state_dict({})
        fresh = engine.state_dict({})
        merged = dict(fresh)
        merged["global_step"] = old["global_step"]
        merged["groups"] = [dict(g) for g in old["groups"]] + [fresh["groups"][-1]]
        for key in fresh:
            if key not in ("groups", "global_step", "param_names", "state", "format", "format_version", "algorithm"):
                merged[key] = old.get(key, fresh[key])
        engine.load_host_state(merged)
        self._spec = new_spec
        self._named_params = dict(all_named)
        self.engine = engine
        self._building = True
        try:
            group = self._torch_groups(engine)[-1]
            super().add_param_group(group)
        finally:
            self._building = False
        self._allocate_state(engine)
        self._build_units()
        self._publish()

    # -- state --------------------------------------------------------------------------------
    def export_slots(self) -> dict[str, dict[str, torch.Tensor]]:
        return {n: {k: v for k, v in self.state[self._named_params[n]].items()} for n in self.engine.expected_slots()}

    def import_slots(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        state_io.import_slots(self, state)

    describe_slot = staticmethod(state_io.describe_slot)

    def state_dict(self) -> dict[str, Any]:
        """torch layout keyed by parameter name, which is also the neutral optbridge state.

        See :mod:`optbridge.backends.torch.state_io`. Loadable with
        ``torch.load(path, weights_only=True)``.
        """
        self._sync_lr()
        return state_io.state_dict(self)

    def neutral_state_dict(self) -> dict[str, Any]:
        """The neutral state with NumPy arrays (DESIGN.md §8): load it on any backend."""
        return state_io.to_numpy(self.state_dict())

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a state from :meth:`state_dict` (any backend's neutral state works too).

        All or nothing: checked in full and every slot value converted before anything
        changes (see :mod:`optbridge.backends.torch.state_io`); a refusal raises
        :class:`~optbridge.errors.StateDictError` naming the path at fault.
        """
        state_io.load_state_dict(self, state_dict)
        self._publish()

    def __repr__(self) -> str:
        return (f"optbridge.backends.torch.Optimizer({self._spec.origin or self._spec.algorithm.name}, "
                f"path={self._path!r}, flat={self._flat}, groups={len(self.param_groups)})")
