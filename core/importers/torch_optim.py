"""``optbridge.from_torch``: a live ``torch.optim`` optimizer (and its scheduler) as a torch-dialect spec.

What maps to what (torch 2.13):

* the optimizer's class ``torch.optim.<Name>`` → the dialect class
  ``optbridge.dialects.torch.optim.<Name>`` registered as ``"torch.optim.<Name>"`` (the
  dialect's classes share torch's names, signatures and ``defaults`` keys, so the registry
  is the mapping table). A subclass of a torch class, or a class the dialect lacks
  (``LBFGS``, ``SparseAdam``, ``Muon``), is refused: its step is not the dialect's.
* ``optimizer.defaults`` → the constructor's arguments, every key (``maximize``,
  ``amsgrad``, ``nesterov``, ``decoupled_weight_decay``, ``foreach``, ``fused``, ... with
  their values, defaults included); ``AdamW``'s fixed ``decoupled_weight_decay=True`` stays
  implied by the class.
* each ``param_groups[i]`` → a group dict ``{"params": selector, <the keys whose value
  differs from the defaults>}``; a group's ``lr`` is its current value. One group over
  every parameter of ``model`` is the flat form (``params=None``). Tensor-valued options
  (``lr=torch.tensor(0.01)``) become Python numbers.
* parameter tensors → names: ``model.named_parameters()`` (a module, a ``{name: tensor}``
  mapping or ``(name, tensor)`` pairs), else the ``param_names`` torch keeps for an
  optimizer built from ``named_parameters()``; ``torch.compile``'s ``_orig_mod``
  components are dropped. With ``model`` given, a group that holds every parameter under a
  module prefix is written ``"prefix.*"``, the last group taking every remaining parameter
  ``"*"``, and parameters no group holds make the spec ``unassigned="frozen"`` (torch
  leaves them alone too); without ``model`` groups list their names and the spec is
  ``unassigned="frozen"``.
* ``scheduler`` (bound to this optimizer) → each group's ``lr`` becomes the declared
  scheduler of the same class (``lr_scheduler.StepLR.declare(lr=group["initial_lr"],
  ...)``), its arguments read back from the scheduler; ``SequentialLR`` and
  ``ChainedScheduler`` nest, a list of schedulers stepped together is a
  ``ChainedScheduler``. ``CyclicLR`` and ``OneCycleLR`` carry the group's own
  ``base_lr``/``max_lr``/momenta.

The spec describes the optimizer as constructed: state (moments, step counts, a
scheduler's ``last_epoch``) is not imported, so a declared schedule starts from its first
epoch, and a group's ``lr`` is taken from ``initial_lr`` when a scheduler is given.
Refused, with the group, key or class at fault: a ``LambdaLR``/``MultiplicativeLR`` or a
``CyclicLR`` ``scale_fn`` holding a Python callable (code is not config), an unknown
optimizer or scheduler class, a group key torch does not define for the class (a user's
tag: pass ``ignore_keys``), a parameter without a name.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..dialects.base import dialect_registry
from ..dialects.torch.names import plain_name
from ..dialects.torch.optim import TorchOptimizer
from ..dialects.torch.optim import lr_scheduler as declared
from ..errors import SpecKeyError, SpecTypeError, SpecValueError

__all__ = ["from_torch", "SCHEDULER_BOOKKEEPING"]

#: group keys torch's schedulers write into ``param_groups`` (not hyperparameters)
SCHEDULER_BOOKKEEPING = ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum")
_GLOB_CHARS = set("*?[")

#: schedulers whose constructor arguments are attributes of the same name
_PLAIN_SCHEDULERS: dict[str, tuple[str, ...]] = {
    "StepLR": ("step_size", "gamma"),
    "ConstantLR": ("factor", "total_iters"),
    "LinearLR": ("start_factor", "end_factor", "total_iters"),
    "ExponentialLR": ("gamma",),
    "PolynomialLR": ("total_iters", "power"),
    "CosineAnnealingLR": ("T_max", "eta_min"),
    "CosineAnnealingWarmRestarts": ("T_0", "T_mult", "eta_min"),
}


def _plain(value: Any) -> Any:
    """A torch option as plain data: one-element tensors as numbers, tuples of them likewise."""
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    item = getattr(value, "item", None)
    numel = getattr(value, "numel", None)
    if callable(item) and callable(numel) and numel() == 1:
        return item()
    return value


def _native_class(obj: Any, module: str, what: str, known: Iterable[str]) -> str:
    """The class name of ``obj`` if it is exactly ``<module>.<Name>``; else ``SpecTypeError``."""
    import importlib

    cls = type(obj)
    name = cls.__name__
    try:
        native = getattr(importlib.import_module(module), name, None)
    except ImportError:
        native = None
    if native is not cls:
        raise SpecTypeError(
            f"from_torch: {cls.__module__}.{cls.__qualname__} is not a {module} {what} class the torch dialect "
            f"has (a subclass or another library's class may step differently). Importable: {sorted(known)}"
        )
    return name


# -- names -------------------------------------------------------------------------------------
def _model_names(model: Any) -> list[tuple[str, Any]]:
    """``(name, tensor)`` pairs of ``model``: a module, a ``{name: tensor}`` mapping or pairs."""
    if hasattr(model, "named_parameters"):
        pairs = list(model.named_parameters())
    elif isinstance(model, Mapping):
        pairs = list(model.items())
    elif isinstance(model, Iterable) and not isinstance(model, (str, bytes)):
        pairs = list(model)
    else:
        raise SpecTypeError(f"from_torch: 'model' must be a torch.nn.Module, a {{name: tensor}} mapping or "
                            f"(name, tensor) pairs. Received: {type(model).__name__}")
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise SpecTypeError(f"from_torch: model entry {i} is not a (name, tensor) pair: {pair!r}")
    return pairs


def _group_names(groups: Sequence[Mapping[str, Any]], model: Any) -> tuple[list[list[str]], list[str] | None]:
    """Each group's parameter names, and the model's names in model order (``None`` without a model)."""
    model_names: list[str] | None = None
    lookup: dict[int, str] = {}
    if model is not None:
        model_names = []
        for given_name, tensor in _model_names(model):
            plain = plain_name(given_name)
            lookup.setdefault(id(tensor), plain)
            model_names.append(plain)
    out: list[list[str]] = []
    for index, group in enumerate(groups):
        tensors = list(group["params"])
        given = group.get("param_names")
        names = []
        for pos, tensor in enumerate(tensors):
            name = lookup.get(id(tensor)) if model is not None else None
            if name is None and model is None and given is not None and pos < len(given):
                name = plain_name(given[pos])
            if name is None:
                where = "is not a parameter of 'model'" if model is not None else \
                    "has no name (pass model=, or build the optimizer from model.named_parameters())"
                raise SpecValueError(f"from_torch: param_groups[{index}]['params'][{pos}] "
                                     f"(shape {tuple(getattr(tensor, 'shape', ()))}) {where}")
            names.append(name)
        out.append(names)
    return out, model_names


def _compress(names: list[str], model_names: list[str]) -> list[str]:
    """``names`` as globs: ``"prefix.*"`` for every module prefix whose parameters all belong here."""
    mine = set(names)
    out: list[str] = []
    done: set[str] = set()
    for name in names:
        if name in done:
            continue
        parts = name.split(".")
        chosen = name
        done.add(name)
        for k in range(1, len(parts)):
            prefix = ".".join(parts[:k])
            under = [m for m in model_names if m.startswith(prefix + ".")]
            if set(under) <= mine and not _GLOB_CHARS & set(prefix):
                chosen = prefix + ".*"
                done.update(under)
                break
        out.append(chosen)
    return out


def _selectors(group_names: list[list[str]], model_names: list[str] | None) -> tuple[list[Any], bool]:
    """One selector per group, and whether parameters outside the groups stay frozen."""
    if model_names is None:
        return [_as_selector(names) for names in group_names], True
    covered = {n for names in group_names for n in names}
    leftover = [n for n in model_names if n not in covered]
    if any(_GLOB_CHARS & set(n) for n in covered):
        return [_as_selector(names) for names in group_names], bool(leftover)
    selectors: list[Any] = []
    for i, names in enumerate(group_names):
        if i == len(group_names) - 1 and i > 0 and not leftover:
            selectors.append("*")
        else:
            globs = _compress(names, model_names)
            selectors.append(globs[0] if len(globs) == 1 else globs)
    return selectors, bool(leftover)


def _as_selector(names: list[str]) -> Any:
    """Exact names: a string or a list, or an anchored regex where a name holds a glob character."""
    if any(_GLOB_CHARS & set(n) for n in names):
        import re

        return {"regex": "|".join(re.escape(n) for n in names)}
    return names[0] if len(names) == 1 else list(names)


# -- schedulers ----------------------------------------------------------------------------------
def _recover(approx: float, check: Callable[[float], bool], what: str, scheduler: str) -> float:
    """The shortest decimal near ``approx`` for which ``check`` holds (the argument torch was given)."""
    for digits in (6, 10, 12, 15, 17):
        candidate = float(f"{approx:.{digits}g}")
        if check(candidate):
            return candidate
    raise SpecValueError(f"from_torch: cannot recover {scheduler}'s {what!r} from its state exactly "
                         f"(about {approx!r})")


def _declaration_arguments(scheduler: Any, index: int) -> tuple[str, dict[str, Any]]:
    """The scheduler's class name and constructor arguments for param group ``index``."""
    known = [n for n in declared.__all__ if n not in ("LRScheduler", "TorchSchedule")]
    name = _native_class(scheduler, "torch.optim.lr_scheduler", "scheduler", known)
    if name in _PLAIN_SCHEDULERS:
        return name, {k: getattr(scheduler, k) for k in _PLAIN_SCHEDULERS[name]}
    if name == "MultiStepLR":
        return name, {"milestones": sorted(scheduler.milestones.elements()), "gamma": scheduler.gamma}
    if name == "ReduceLROnPlateau":
        keys = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "eps")
        return name, {**{k: getattr(scheduler, k) for k in keys}, "min_lr": scheduler.min_lrs[index]}
    if name in ("SequentialLR", "ChainedScheduler"):
        inner = [_declare(s, index, None, None) for s in scheduler._schedulers]
        if name == "SequentialLR":
            return name, {"schedulers": inner, "milestones": list(scheduler._milestones)}
        return name, {"schedulers": inner}
    if name == "CyclicLR":
        return name, _cyclic_arguments(scheduler, index)
    if name == "OneCycleLR":
        return name, _one_cycle_arguments(scheduler, index)
    raise SpecValueError(
        f"from_torch: a {name} holds Python callables (lr_lambda), which a config cannot carry; declare it "
        f"with an expression instead, e.g. lr_scheduler.{name}.declare(lr, lr_lambda=\"0.95 ** epoch\")"
    )


def _cyclic_arguments(s: Any, index: int) -> dict[str, Any]:
    if s._scale_fn_custom is not None:
        raise SpecValueError("from_torch: a CyclicLR with a custom scale_fn holds a Python callable, which a config "
                             "cannot carry; declare it with an expression over x, e.g. scale_fn=\"1 / (2 ** (x - 1))\"")
    total, ratio = s.total_size, s.step_ratio

    def fits(up: float) -> bool:
        return up + (total - up) == total and up / total == ratio

    rounded = float(round(ratio * total))
    up = rounded if fits(rounded) else _recover(ratio * total, fits, "step_size_up", "CyclicLR")
    args = {"base_lr": s.base_lrs[index], "max_lr": s.max_lrs[index], "step_size_up": _whole(up),
            "step_size_down": _whole(total - up), "mode": s.mode, "gamma": s.gamma,
            "cycle_momentum": s.cycle_momentum}
    if s.cycle_momentum:
        args["base_momentum"] = s.base_momentums[index]
        args["max_momentum"] = s.max_momentums[index]
    return args


def _whole(value: float) -> float | int:
    """An integral float as the int a user writes (``step_size_up=3``); torch converts it back."""
    return int(value) if value.is_integer() else value


def _one_cycle_arguments(s: Any, index: int) -> dict[str, Any]:
    group = s.optimizer.param_groups[index]
    max_lr, initial, minimum = group["max_lr"], group["initial_lr"], group["min_lr"]
    div = _recover(max_lr / initial, lambda c: max_lr / c == initial, "div_factor", "OneCycleLR")
    final = _recover(initial / minimum, lambda c: initial / c == minimum, "final_div_factor", "OneCycleLR")
    total = s.total_steps
    end = s._schedule_phases[0]["end_step"]
    pct = _recover((end + 1) / total, lambda c: float(c * total) - 1 == end, "pct_start", "OneCycleLR")
    args = {"max_lr": max_lr, "total_steps": total, "pct_start": pct, "anneal_strategy": s._anneal_func_type,
            "cycle_momentum": s.cycle_momentum, "div_factor": div, "final_div_factor": final,
            "three_phase": len(s._schedule_phases) == 3}
    if s.cycle_momentum:
        args["base_momentum"] = group["base_momentum"]
        args["max_momentum"] = group["max_momentum"]
    return args


def _declare(scheduler: Any, index: int, lr: float | None, interval: str | None) -> declared.TorchSchedule:
    """The declared form of ``scheduler`` for param group ``index`` (``lr=None``: nested, no lr)."""
    name, args = _declaration_arguments(scheduler, index)
    cls = getattr(declared, name)
    if name in ("CyclicLR", "OneCycleLR"):
        lr = None
    declaration: declared.TorchSchedule = cls.declare(lr, interval=interval, **args)
    return declaration


# -- the optimizer ---------------------------------------------------------------------------------
def from_torch(optimizer: Any, model: Any = None, scheduler: Any = None, *, interval: str | None = None,
               ignore_keys: Iterable[str] = ()) -> TorchOptimizer:
    """The torch-dialect spec of a live ``torch.optim`` optimizer (see the module docstring for the mapping).

    Building the result on the torch backend (``optbridge.build(spec, model.named_parameters())``)
    runs the optimizer's numbers step for step.

    Args:
        optimizer: a ``torch.optim.<Name>`` instance of a class the torch dialect has.
        model: names the parameters: a ``torch.nn.Module``, a ``{name: tensor}`` mapping or
            ``(name, tensor)`` pairs; ``None`` uses the ``param_names`` of an optimizer built
            from ``named_parameters()``.
        scheduler: a ``torch.optim.lr_scheduler`` scheduler bound to ``optimizer``, or a list
            of them (stepped together: a ``ChainedScheduler``); ``None`` for none.
        interval: when the declared scheduler advances: ``"epoch"`` (on ``opt.end_epoch()``)
            or ``"step"`` (after every optimizer step); ``None`` takes the declaration's
            default (``"step"`` for ``CyclicLR``/``OneCycleLR``, else ``"epoch"``).
        ignore_keys: group keys to leave out (tags such as ``"name"`` that torch keeps but
            never reads); any other key torch does not define for the class is refused.

    Returns:
        The dialect optimizer, e.g. ``optim.AdamW([{"params": "encoder.*", "lr": 1e-4}, {"params": "*"}],
        lr=1e-3, ...)``.

    Raises:
        SpecTypeError: not a torch optimizer class the dialect has (or a subclass); a
            scheduler class the dialect lacks; a bad ``model``.
        SpecValueError: a parameter without a name; a scheduler bound to another optimizer
            or holding a Python callable.
        SpecKeyError: a group key the class does not define (naming the group and key).
    """
    known = sorted(q.rsplit(".", 1)[1] for q, c in dialect_registry.items() if issubclass(c, TorchOptimizer))
    if not (hasattr(optimizer, "param_groups") and hasattr(optimizer, "defaults")):
        raise SpecTypeError(f"from_torch takes a torch.optim optimizer. Received: {type(optimizer).__name__}")
    name = _native_class(optimizer, "torch.optim", "optimizer", known)
    cls = dialect_registry.get(f"torch.optim.{name}")
    if cls is None or not issubclass(cls, TorchOptimizer):
        raise SpecTypeError(f"from_torch: torch.optim.{name} has no torch-dialect class. Importable: {known}")
    hyper = cls.hyperparameters
    missing = [k for k in hyper if k not in optimizer.defaults]
    extra = [k for k in optimizer.defaults if k not in hyper]
    if missing or extra:
        raise SpecKeyError(f"from_torch: torch.optim.{name}'s defaults do not match the dialect's (missing {missing}, "
                           f"unknown {extra}); this torch release differs from the dialect's (torch 2.13)")
    defaults = {k: _plain(optimizer.defaults[k]) for k in hyper}
    skip = set(SCHEDULER_BOOKKEEPING) | {"params", "param_names"} | set(ignore_keys)
    groups = optimizer.param_groups
    values: list[dict[str, Any]] = []
    for index, group in enumerate(groups):
        unknown = [k for k in group if k not in skip and k not in hyper]
        if unknown:
            raise SpecKeyError(f"from_torch: param_groups[{index}] holds key(s) {unknown} that torch.optim.{name} "
                               f"does not define; pass ignore_keys={unknown!r} if they are tags torch never reads")
        values.append({k: _plain(group[k]) for k in hyper if k in group})
    schedulers = _schedulers(scheduler, optimizer)
    if schedulers is None and any("initial_lr" in g for g in groups):
        warnings.warn("from_torch: a scheduler drives this optimizer (its groups hold 'initial_lr') but none was "
                      "given; each group's current lr is imported as a constant (pass scheduler=)", stacklevel=2)
    if schedulers is not None:
        cycles = any(_cycles_momentum(s) for s in schedulers)
        for index, group in enumerate(groups):
            if cycles:
                _restore_momentum(values[index], defaults)
            lr = _plain(group.get("initial_lr", group["lr"]))
            if len(schedulers) == 1:
                values[index]["lr"] = _declare(schedulers[0], index, lr, interval)
            else:
                inner = [_declare(s, index, None, None) for s in schedulers]
                values[index]["lr"] = declared.ChainedScheduler.declare(lr, interval=interval, schedulers=inner)
    names, model_names = _group_names(groups, model)
    selectors, frozen = _selectors(names, model_names)
    accepted = set(cls.argument_names())
    arguments = {k: v for k, v in defaults.items() if k in accepted}
    extra_arguments: dict[str, Any] = {"unassigned": "frozen"} if frozen else {}
    if len(groups) == 1 and all(k in accepted for k, v in values[0].items() if v != defaults[k]):
        selector = None if not frozen and model_names is not None else selectors[0]
        return cls(selector, **{**arguments, **{k: v for k, v in values[0].items() if k in accepted}},
                   **extra_arguments)
    group_dicts = []
    for selector, group_values in zip(selectors, values):
        differing = {k: v for k, v in group_values.items() if _differs(v, defaults[k])}
        group_dicts.append({"params": selector, **differing})
    return cls(group_dicts, **arguments, **extra_arguments)


def _cycles_momentum(scheduler: Any) -> bool:
    """Whether ``scheduler`` (or one it wraps) writes the groups' ``momentum``/``betas[0]`` itself."""
    inner = getattr(scheduler, "_schedulers", None)
    if inner is not None:
        return any(_cycles_momentum(s) for s in inner)
    return bool(getattr(scheduler, "cycle_momentum", False))


def _restore_momentum(values: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    """Drop what a momentum-cycling scheduler wrote into a group: its declaration writes it again."""
    if "momentum" in values:
        values["momentum"] = defaults["momentum"]
    if "betas" in values:
        values["betas"] = (defaults["betas"][0], *values["betas"][1:])


def _differs(value: Any, default: Any) -> bool:
    return type(value) is not type(default) or bool(value != default)


def _schedulers(scheduler: Any, optimizer: Any) -> list[Any] | None:
    """``scheduler`` as a list (``None`` for none), each checked to drive ``optimizer``."""
    if scheduler is None:
        return None
    items = list(scheduler) if isinstance(scheduler, (list, tuple)) else [scheduler]
    if not items:
        return None
    for i, item in enumerate(items):
        if getattr(item, "optimizer", None) is not optimizer:
            where = f"scheduler[{i}]" if isinstance(scheduler, (list, tuple)) else "scheduler"
            raise SpecValueError(f"from_torch: {where} ({type(item).__name__}) is not bound to this optimizer")
    return items
