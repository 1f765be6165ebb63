"""What every torch-dialect optimizer shares: ``torch.optim.Optimizer``'s rules (torch 2.13).

Mirrors ``torch/optim/optimizer.py`` (``Optimizer.__init__`` and ``add_param_group``):

* ``params`` is ``None`` (every parameter, one group), a *selector* (a name, a glob, a
  list of names/globs, or a selector dict such as ``{"regex": ...}``; see
  :mod:`optbridge.groups`), or a list of *group dicts*. A group dict has ``"params"`` (a
  selector) and may override any hyperparameter of the class (any key of torch's
  ``defaults`` dict: ``"lr"``, ``"momentum"``, ``"betas"``, ``"weight_decay"``,
  ``"maximize"``, ``"foreach"``, ...); keys it leaves out take the constructor's values.
* An empty list raises ``ValueError("optimizer got an empty parameter list")``; a later
  element that is not a dict raises ``TypeError("param_group must be a dict, but got
  ...")``; a group dict without ``"params"`` raises ``KeyError`` (torch: ``KeyError:
  'params'``); a group key that is not a hyperparameter of the class raises
  :class:`~optbridge.errors.SpecKeyError` naming the group index and the key (torch
  accepts and keeps unknown keys; optbridge refuses them so a typo is not silently
  ignored).
* torch's "some parameters appear in more than one parameter group" is
  :class:`~optbridge.errors.DuplicateParameterError` (a ``ValueError`` subclass of
  ``GroupError``, raised when the groups are resolved against the model's parameters by
  :func:`optbridge.build`); an empty group or a parameter no group takes are
  ``GroupError`` too, unless ``unassigned="frozen"`` (keyword-only optbridge extension).

Hyperparameters are validated with torch 2.13's messages and in its order (the
subclass's :meth:`TorchOptimizer._check`). torch validates only the constructor's
arguments; optbridge also validates every group's merged hyperparameters with the same
checks, the message prefixed with ``groups[i] (<selector>): ``. An argument of a type
torch cannot compare (``lr="0.1"``) raises ``TypeError`` naming the argument (torch
raises Python's own comparison ``TypeError``).

Learning rates and weight decay, per group too: a number (torch), or -- optbridge
extensions -- a per-step list (entry ``i`` is used by the optimizer step with index
``i``) or a :class:`~optbridge.schedules.base.Schedule` (any registered schedule:
``optim.lr_scheduler.*.declare(...)``, ``nn.learning_rate_schedule`` classes, ...), the
value forms the MindSpore dialect and the canonical :class:`~optbridge.spec.GroupSpec`
take. Every entry of a per-step list passes the class's own check for a number (torch's
message, e.g. ``Invalid weight_decay value: -0.1``, followed by ``(weight_decay[i])``);
a schedule's values are not checked ahead of time (MindSpore does not check a weight-decay
``Cell`` either). Coupled decay adds ``wd(t)·p`` to the gradient of step ``t``; decoupled
decay (``AdamW``) multiplies by ``1 − lr(t)·wd(t)``.

Numbers: torch computes every host scalar in Python ``float`` (float64), so the spec's
``precision`` is ``"float64"``; weight decay applies to every parameter of a group (no
MindSpore ``beta``/``gamma`` filter); there is no gradient centralization and no loss
scale, so the only pre-processing is negation (``maximize``) and coupled weight decay.
``foreach``, ``fused``, ``capturable`` and ``differentiable`` are accepted and validated
as torch does and recorded in configs; they select torch implementations, not formulas,
and do not change optbridge's numbers (the numbers are those of torch's default
single-tensor CPU path, ``foreach=False``; torch's ``capturable``/``differentiable``
paths compute bias corrections from a float32 step tensor and differ from it in the last
bits).

Writing a torch-dialect class on this base
-------------------------------------------
::

    @register_dialect
    class RMSprop(TorchOptimizer):
        qualname = "torch.optim.RMSprop"
        cls_name = "RMSprop"
        # torch's ``defaults`` keys, in torch's order: the keys a group dict may override
        hyperparameters = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered",
                           "capturable", "foreach", "maximize", "differentiable")

        def __init__(self, params=None, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
                     momentum=0, centered=False, capturable=False, foreach=None,
                     maximize=False, differentiable=False, *, unassigned="error"):
            defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                            momentum=momentum, centered=centered, capturable=capturable,
                            foreach=foreach, maximize=maximize, differentiable=differentiable)
            self._init_torch(params, defaults, unassigned)

        def _check(self, hp):            # torch's __init__ checks, torch's order and words
            if number("lr", hp["lr"]) < 0.0:
                raise SpecValueError(f"Invalid learning rate: {hp['lr']}")
            ...

        def _algorithm(self, hp):        # merged hyperparameters -> canonical algorithm
            return CanonicalRMSProp(alpha=float(hp["alpha"]), ..., maximize=bool(hp["maximize"]))

* :meth:`_init_torch` validates (``_check`` on the constructor's values, then the
  ``params``/group dicts, then ``_check`` on each group's merged values, then
  :meth:`_check_after_params` for torch's post-``super().__init__`` checks such as
  "`fused` and `foreach` cannot be `True` together.") and records the arguments.
* ``_check`` receives ``hp["lr"]`` and ``hp["weight_decay"]`` as numbers even when the
  user gave a list or a schedule (the base validates those itself and hands ``_check``
  a valid stand-in; for a weight-decay list it also calls ``_check`` once per entry).
* ``_algorithm`` must not read ``lr`` or ``weight_decay``: the base lowers them to the
  group's values (``GroupSpec.lr``/``weight_decay``); every other hyperparameter that
  differs from the constructor's becomes a per-group override (``GroupSpec.overrides``).
  All groups must lower to the same canonical algorithm name.
* Use :func:`number` for torch's numeric comparisons; raise
  :class:`~optbridge.errors.SpecValueError` / ``SpecTypeError`` with torch's message.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from numbers import Real
from typing import Any, ClassVar

import numpy as np

from ....algorithms.base import Algorithm
from ....errors import OptbridgeError, SpecKeyError, SpecTypeError, SpecValueError
from ....groups import describe_selector, validate_selector
from ....schedules.base import Schedule
from ....schedules.values import Constant, PerStep, Scheduled, Value
from ....spec import GroupSpec, OptimizerSpec
from ...base import DialectOptimizer, check_fits_float

__all__ = ["TorchOptimizer", "TorchRuntimeError", "number", "check_betas", "check_fused"]


class TorchRuntimeError(OptbridgeError, RuntimeError):
    """A ``RuntimeError`` torch raises at construction (``fused`` with ``foreach``)."""

#: What a torch-dialect optimizer pre-processes: negation (maximize), then coupled decay.
TORCH_PREPROCESS = ("weight_decay",)


def _is_number(value: Any) -> bool:
    return isinstance(value, (Real, np.floating, np.integer)) and not isinstance(value, np.bool_)


def plain_lr(value: Any, where: str = "") -> Any:
    """A tensor ``lr`` as the float it holds, anything else unchanged.

    torch 2.13 accepts a 1-element tensor as ``lr`` (``torch.tensor(0.001)``, as in its own
    optimizer test inputs) and refuses a larger one with ``ValueError("Tensor lr must be
    1-element")``. Without importing torch, a tensor is recognised by its methods:
    ``numel()`` and ``item()`` (a NumPy array has no ``numel``). The spec records the float.
    """
    if isinstance(value, np.ndarray) or not (callable(getattr(value, "numel", None))
                                             and callable(getattr(value, "item", None))):
        return value
    if value.numel() != 1:
        raise SpecValueError(f"{where}Tensor lr must be 1-element")
    return float(value.item())


def number(name: str, value: Any) -> Any:
    """``value`` unchanged if torch could compare it with a float; else ``TypeError``.

    torch compares hyperparameters directly (``if lr < 0.0``), so ``bool`` and ``int``
    pass (as in torch) and anything else fails with Python's comparison error; this
    raises that ``TypeError`` with a message naming the argument instead.
    """
    if not _is_number(value):
        raise SpecTypeError(f"'{name}' must be a number, but got {value!r} of type {type(value).__name__}")
    return value


def check_betas(betas: Any) -> tuple[Any, Any]:
    """``betas`` must be a pair (tuple or list) whose entries torch can compare."""
    if isinstance(betas, (str, bytes)) or not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise SpecTypeError(f"'betas' must be a pair (beta1, beta2), but got {betas!r}")
    return number("betas[0]", betas[0]), number("betas[1]", betas[1])


def check_fused(hp: Mapping[str, Any]) -> None:
    """torch's checks after ``super().__init__`` for classes with ``fused`` (SGD, Adam, AdamW...)."""
    if hp.get("fused"):
        if hp.get("differentiable"):
            raise TorchRuntimeError("`fused` does not support `differentiable`")
        if hp.get("foreach"):
            raise TorchRuntimeError("`fused` and `foreach` cannot be `True` together.")


def _where(index: int, selector: Any) -> str:
    return f"groups[{index}] ({describe_selector(selector)}): "


def _per_step_entries(value: Any, key: str, where: str) -> list[Any] | None:
    """The entries of a per-step list (a list, tuple or 1-D array), or ``None`` for another form.

    Entries must be numbers (``bool`` is refused); their ranges are the caller's to check.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return None
    if not isinstance(value, (list, tuple, np.ndarray)):
        return None
    entries = list(value.tolist() if isinstance(value, np.ndarray) else value)
    if not entries:
        raise SpecValueError(f"{where}a per-step '{key}' list must not be empty")
    for i, entry in enumerate(entries):
        if not _is_number(entry) or isinstance(entry, bool):
            raise SpecTypeError(
                f"{where}entries of a per-step '{key}' list must be numbers; {key}[{i}] is {entry!r} "
                f"of type {type(entry).__name__}"
            )
    return entries


def _not_a_value(key: str, value: Any, where: str) -> SpecTypeError:
    return SpecTypeError(
        f"{where}'{key}' must be a number, a per-step list of numbers or a Schedule, but got {value!r} "
        f"of type {type(value).__name__}"
    )


def _lr_value(lr: Any, where: str) -> tuple[Value, Any]:
    """The lr as a canonical value, and the number ``_check`` sees in its place.

    A number is torch's; a list (per-step values) or a schedule are optbridge extensions.
    List entries must be numbers >= 0 (torch's "Invalid learning rate" check per entry).
    """
    if isinstance(lr, Schedule):
        return Scheduled(lr), 0.0
    if isinstance(lr, np.ndarray) and lr.ndim == 0:
        lr = lr.item()
    entries = _per_step_entries(lr, "lr", where)
    if entries is not None:
        for i, entry in enumerate(entries):
            if not 0.0 <= entry or math.isinf(entry):
                raise SpecValueError(f"{where}Invalid learning rate: {entry} (lr[{i}])")
        return PerStep(tuple(float(e) for e in entries)), entries[0]
    if not _is_number(lr):
        raise _not_a_value("lr", lr, where)
    return Constant(float(lr)), lr


def _wd_value(wd: Any, where: str) -> tuple[Value, Any, list[Any]]:
    """The weight decay as a canonical value, the stand-in ``_check`` sees, and the list entries.

    A number is torch's (the stand-in is the number itself, so torch's message shows it as
    given); a per-step list and a schedule are optbridge extensions (stand-in ``0.0``;
    the caller checks each list entry with the class's own check).
    """
    if isinstance(wd, Schedule):
        return Scheduled(wd), 0.0, []
    if isinstance(wd, np.ndarray) and wd.ndim == 0:
        wd = wd.item()
    entries = _per_step_entries(wd, "weight_decay", where)
    if entries is not None:
        return PerStep(tuple(float(e) for e in entries)), 0.0, entries
    if not _is_number(wd):
        raise _not_a_value("weight_decay", wd, where)
    return Constant(float(wd)), wd, []


class TorchOptimizer(DialectOptimizer):
    """Base of torch-dialect optimizers (``torch.optim.Optimizer``). See the module docstring.

    Class attributes a subclass sets: ``qualname`` (``"torch.optim.SGD"``), ``cls_name``
    (``"SGD"``) and ``hyperparameters`` (torch's ``defaults`` keys, in torch's order).
    """

    cls_name: ClassVar[str] = "Optimizer"
    #: torch's ``defaults`` keys: the hyperparameters a group dict may override
    hyperparameters: ClassVar[tuple[str, ...]] = ()

    _defaults: dict[str, Any]
    _groups_input: Any
    _group_list: list[dict[str, Any]] | None
    _unassigned: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.group_keys = ("params",) + tuple(cls.hyperparameters)

    # -- hooks for subclasses -------------------------------------------------------------
    def _check(self, hp: dict[str, Any]) -> None:
        """torch's ``__init__`` checks on one set of hyperparameters (before ``super().__init__``)."""

    def _check_after_params(self, hp: dict[str, Any]) -> None:
        """torch's checks after ``super().__init__`` (``fused`` with ``foreach``/``differentiable``)."""

    def _algorithm(self, hp: dict[str, Any]) -> Algorithm:
        """The canonical algorithm for one group's merged hyperparameters."""
        raise NotImplementedError

    # -- torch Optimizer.__init__ ------------------------------------------------------------
    def _init_torch(self, params: Any, defaults: dict[str, Any], unassigned: str,
                    extra_arguments: Mapping[str, Any] | None = None) -> None:
        """Validate like torch, then record ``params``, ``defaults`` and ``unassigned``.

        ``defaults`` holds every key of ``hyperparameters`` (torch's ``defaults`` dict);
        only those that are constructor arguments are recorded (``AdamW`` fixes
        ``decoupled_weight_decay=True`` without taking it as an argument), plus
        ``extra_arguments`` (constructor arguments that are not hyperparameters).
        """
        missing = [k for k in self.hyperparameters if k not in defaults]
        extra = [k for k in defaults if k not in self.hyperparameters]
        if missing or extra:
            raise TypeError(f"{type(self).__name__}: defaults do not match 'hyperparameters' "
                            f"(missing {missing}, unexpected {extra})")
        if "lr" in defaults:
            defaults = {**defaults, "lr": plain_lr(defaults["lr"])}
        if isinstance(params, (list, tuple)) and any(isinstance(g, Mapping) and "lr" in g for g in params):
            params = [{**g, "lr": plain_lr(g["lr"], _where(i, g.get("params")))}
                      if isinstance(g, Mapping) and "lr" in g else g for i, g in enumerate(params)]
        self._default_lr, self._default_wd = self._checked(defaults, "")
        self._groups_input, self._group_list = self._parse_params(params)
        self._group_lrs: list[Value | None] = []
        self._group_wds: list[Value | None] = []
        if self._group_list is not None:
            for index, group in enumerate(self._group_list):
                where = _where(index, group["params"])
                merged = {**defaults, **{k: v for k, v in group.items() if k != "params"}}
                lr, wd = self._checked(merged, where)
                self._group_lrs.append(lr if "lr" in group else None)
                self._group_wds.append(wd if "weight_decay" in group else None)
        self._check_after_params(dict(defaults))
        if unassigned not in ("error", "frozen"):
            raise SpecValueError(f"'unassigned' must be 'error' or 'frozen', but got {unassigned!r}")
        self._defaults = dict(defaults)
        self._unassigned = unassigned
        accepted = set(self.argument_names())
        arguments = {"params": params, **{k: v for k, v in defaults.items() if k in accepted}}
        if extra_arguments:
            arguments.update(extra_arguments)
        arguments["unassigned"] = unassigned
        self._record(arguments)

    def _checked(self, hp: dict[str, Any], where: str) -> tuple[Value, Value]:
        """Check lr and weight decay forms, then ``_check``; return the lr and weight-decay values.

        ``_check`` runs once with number stand-ins for dynamic values (torch's order and
        messages for everything), then once per entry of a per-step weight-decay list (the
        class's own weight-decay check, the message naming the entry). First, an integer
        past the float range (``10**400``, which ``float()`` cannot convert) is refused.
        """
        for key, value in hp.items():
            check_fits_float(key, value, where)
        lr, lr_stand_in = _lr_value(hp["lr"], where)
        stand_ins = {"lr": lr_stand_in}
        wd: Value = Constant(0.0)
        entries: list[Any] = []
        if "weight_decay" in hp:
            wd, stand_ins["weight_decay"], entries = _wd_value(hp["weight_decay"], where)
        self._run_check({**hp, **stand_ins}, where, "")
        for i, entry in enumerate(entries):
            self._run_check({**hp, **stand_ins, "weight_decay": entry}, where, f" (weight_decay[{i}])")
        return lr, wd

    def _run_check(self, hp: dict[str, Any], where: str, suffix: str) -> None:
        """``_check`` with its message prefixed by ``where`` and followed by ``suffix``."""
        try:
            self._check(hp)
        except SpecKeyError:
            raise
        except (SpecTypeError, SpecValueError, RuntimeError) as exc:
            if not where and not suffix:
                raise
            raise type(exc)(f"{where}{exc}{suffix}") from None

    def _parse_params(self, params: Any) -> tuple[Any, list[dict[str, Any]] | None]:
        """``None`` | a selector (one group) | a list of group dicts."""
        if params is None:
            return None, None
        if isinstance(params, (str, Mapping)):
            validate_selector(params, "params")
            return params, None
        if not isinstance(params, Iterable):
            raise SpecTypeError(
                "params argument given to the optimizer should be an iterable of parameter names or dicts, "
                f"but got {type(params).__name__}"
            )
        items = list(params)
        if not items:
            raise SpecValueError("optimizer got an empty parameter list")
        if not isinstance(items[0], Mapping):
            validate_selector(items, "params")
            return items, None
        groups: list[dict[str, Any]] = []
        for index, group in enumerate(items):
            if not isinstance(group, Mapping):
                raise SpecTypeError(f"param_group must be a dict, but got {type(group)} (groups[{index}])")
            if "params" not in group:
                raise SpecKeyError(f"groups[{index}]: the group dict has no 'params' key")
            selector = group["params"]
            where = _where(index, selector)
            if isinstance(selector, set):
                raise SpecTypeError(
                    f"{where}optimizer parameters need to be organized in ordered collections, but the ordering "
                    "of tensors in sets will change between runs. Please use a list instead."
                )
            unknown = [k for k in group if k not in self.group_keys]
            if unknown:
                raise SpecKeyError(
                    f"{where}unknown key(s) {unknown} for torch.optim.{self.cls_name}; a group may hold "
                    f"{list(self.group_keys)}"
                )
            validate_selector(list(selector) if isinstance(selector, tuple) else selector, where.rstrip(": "))
            groups.append(dict(group))
        return items, groups

    # -- lowering ----------------------------------------------------------------------------
    def to_canonical(self) -> OptimizerSpec:
        """The canonical spec: the constructor's algorithm, per-group lr/wd and overrides."""
        defaults = self._defaults
        algorithm = self._algorithm(defaults)
        base = algorithm.hyperparameters()
        groups: tuple[GroupSpec, ...] | None
        if self._group_list is None:
            sel = self._groups_input
            groups = None if sel is None else (GroupSpec(params=list(sel) if isinstance(sel, tuple) else sel),)
        else:
            specs = []
            for index, (group, lr, wd) in enumerate(zip(self._group_list, self._group_lrs, self._group_wds)):
                merged = {**defaults, **{k: v for k, v in group.items() if k != "params"}}
                group_alg = self._algorithm(merged)
                if group_alg.name != algorithm.name:
                    raise SpecValueError(
                        f"{_where(index, group['params'])}lowers to canonical {group_alg.name!r}, the optimizer "
                        f"to {algorithm.name!r}"
                    )
                overrides = {k: v for k, v in group_alg.hyperparameters().items() if v != base[k]}
                selector = group["params"]
                specs.append(GroupSpec(
                    params=list(selector) if isinstance(selector, tuple) else selector,
                    lr=lr,
                    weight_decay=wd,
                    overrides=overrides,
                    source_index=index,
                ))
            groups = tuple(specs)
        return OptimizerSpec(
            algorithm=algorithm,
            lr=self._default_lr,
            weight_decay=self._default_wd,
            groups=groups,
            decay_filter=None,
            unassigned=self._unassigned,
            precision="float64",
            preprocess=TORCH_PREPROCESS,
            origin=self.qualname,
        )
