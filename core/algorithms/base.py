"""Canonical algorithms: the backend-neutral definition of an update rule.

An algorithm is a frozen dataclass of hyperparameters (Optax's ``init``/``update`` split,
with state as named slots). It declares

* ``slots(self)`` — the per-parameter state arrays a backend allocates, with their fill
  values and shapes (names follow torch where the formula matches, MindSpore otherwise;
  a slot is the parameter's shape unless it declares another kind, :data:`SLOT_SHAPES`,
  and a parameter the kind gives no shape has no such slot);
* ``init_host_state(self)`` / ``host_scalars(...)`` — the per-step scalars the engine
  computes on the host (bias corrections, ASGD's eta and mu, ...), in the arithmetic of
  the origin framework (``precision``), and ``declared_scalars(self)`` — every name
  ``host_scalars`` can produce, with its kind (a number or a flag), so a backend sizes its
  scalar vector and traces its step without running ``host_scalars`` first
  (:mod:`optbridge.scalars`);
* ``weight_decay_applied_by`` — ``"pipeline"`` when weight decay is the pre-processing
  step ``g + wd·p`` done before the update, ``"rule"`` when the algorithm's own update
  rule consumes ``scalars["weight_decay"]`` (decoupled forms; see
  :mod:`optbridge.algorithms.weight_decay`);
* ``maximize`` (a hyperparameter every algorithm has, default ``False``) — torch's
  ``maximize``: the gradient is negated before any other pre-processing, so coupled
  weight decay is added to ``−g`` (``torch.optim._functional``: ``grad = -grad`` comes
  before ``grad.add(param, alpha=weight_decay)``); per-group overridable like any
  hyperparameter;
* in its docstring, the update as a numbered list of elementwise operations — the
  canonical op order — and, beside it, ``update_tensor`` (or ``update`` for a rule that
  needs the whole bucket): that op order written once against the ops namespace
  (:mod:`optbridge.ops`), which every backend runs.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..groups import ParamInfo

__all__ = [
    "NUMBER",
    "FLAG",
    "Algorithm",
    "Slot",
    "SlotLayout",
    "SLOT_SHAPES",
    "SLOT_ALTERNATE_SHAPES",
    "HostStep",
    "register_algorithm",
    "algorithm_registry",
    "scalar_type",
]

algorithm_registry: dict[str, type[Algorithm]] = {}

#: kind of a host scalar that is a number (:meth:`Algorithm.declared_scalars`)
NUMBER = "number"
#: kind of a host scalar that is a flag: ``True``/``False`` on the host, ``1``/``0`` in a packed
#: vector; a rule reads it only through ``ops.cond`` / ``ops.where``
FLAG = "flag"


def register_algorithm(cls: type[Algorithm]) -> type[Algorithm]:
    """Class decorator: register a canonical algorithm under ``cls.name``."""
    existing = algorithm_registry.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"algorithm {cls.name!r} is already registered by {existing.__qualname__}")
    algorithm_registry[cls.name] = cls
    return cls


def scalar_type(precision: str) -> type:
    """NumPy scalar type for host arithmetic in ``precision`` ("float32" or "float64")."""
    return np.float32 if precision == "float32" else np.float64


#: The slot shapes an algorithm can declare (:attr:`Slot.shape`), as functions of the
#: parameter's shape ``P``: the slot's shape, or ``None`` where the parameter has no such slot.
#: Every shape keeps ``P``'s axes (a reduced axis has size 1), so the slot broadcasts
#: against the parameter and the rule reads it without a reshape.
#:
#: * ``"full"`` — ``P`` (an elementwise moment: Adam's ``exp_avg``);
#: * ``"row"`` — ``P[:-1] + (1,)`` for ``len(P) >= 2``, none otherwise (a statistic per
#:   row of the last two axes: Adafactor's ``row_var``, torch's layout);
#: * ``"col"`` — ``P[:-2] + (1, P[-1])`` for ``len(P) >= 2``, none otherwise (per column:
#:   Adafactor's ``col_var``);
#: * ``"unfactored"`` — ``P`` for ``len(P) < 2``, none otherwise (Adafactor's
#:   ``variance``, kept only where the moment is not factored).
SLOT_SHAPES: dict[str, Callable[[tuple[int, ...]], tuple[int, ...] | None]] = {
    "full": lambda p: p,
    "row": lambda p: p[:-1] + (1,) if len(p) >= 2 else None,
    "col": lambda p: p[:-2] + (1, p[-1]) if len(p) >= 2 else None,
    "unfactored": lambda p: p if len(p) < 2 else None,
}

#: Other layouts of the same elements a loaded state may hold for a slot, by shape kind:
#: MindSpore ``nn.AdaFactor`` (``exp_avg_sq_row`` of shape ``P[:-1]``, ``exp_avg_sq_col``
#: of ``P[:-2] + P[-1:]``) and Keras ``optimizers.Adafactor`` (the same) drop the reduced
#: axis that torch keeps. They are the canonical array without its size-1 axis, in the
#: same C order: a reshape, nothing else.
SLOT_ALTERNATE_SHAPES: dict[str, Callable[[tuple[int, ...]], tuple[tuple[int, ...], ...]]] = {
    "full": lambda p: (),
    "row": lambda p: (p[:-1],) if len(p) >= 2 else (),
    "col": lambda p: (p[:-2] + p[-1:],) if len(p) >= 2 else (),
    "unfactored": lambda p: (),
}


@dataclass(frozen=True)
class SlotLayout:
    """A slot as allocated for one parameter: its fill value and shape, and the other
    layouts of the same elements a loaded state may hold for it (:data:`SLOT_ALTERNATE_SHAPES`)."""

    init: float
    shape: tuple[int, ...]
    alternates: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class Slot:
    """One per-parameter state array: its name, the constant it starts with and its shape
    kind (:data:`SLOT_SHAPES`: ``"full"``, the parameter's shape, unless declared)."""

    name: str
    init: float = 0.0
    shape: str = "full"

    def __post_init__(self) -> None:
        if self.shape not in SLOT_SHAPES:
            raise ValueError(f"slot {self.name!r}: shape must be one of {sorted(SLOT_SHAPES)}. "
                             f"Received: {self.shape!r}")

    def layout(self, param_shape: Sequence[int]) -> SlotLayout | None:
        """This slot for a parameter of shape ``param_shape``, or ``None`` if it has none."""
        p = tuple(int(n) for n in param_shape)
        shape = SLOT_SHAPES[self.shape](p)
        if shape is None:
            return None
        return SlotLayout(self.init, shape, SLOT_ALTERNATE_SHAPES[self.shape](p))


@dataclass(frozen=True)
class HostStep:
    """What the engine hands one kernel call besides the tensors."""

    lr: float
    weight_decay: float
    step: int
    #: the bucket's label from :meth:`Algorithm.partition` (``""`` when it has none)
    partition: str = ""


@dataclass(frozen=True)
class Algorithm:
    """Base class: subclasses are frozen dataclasses whose fields are hyperparameters."""

    name: ClassVar[str] = ""
    weight_decay_applied_by: ClassVar[str] = "pipeline"
    #: ``False`` when the rule reduces over a tensor (LAMB's and LARS' trust ratios,
    #: Adafactor's row and column means, Muon's Newton–Schulz products): a backend must then
    #: give the rule each tensor whole (not a flat buffer of several tensors, nor one shard
    #: of an FSDP2 parameter); ``True``: every element is updated from its own elements alone
    elementwise: ClassVar[bool] = True
    maximize: bool = False

    def slots(self) -> tuple[Slot, ...]:
        """Per-parameter state slots for these hyperparameters."""
        return ()

    def init_host_state(self) -> dict[str, float]:
        """Host-side state kept per group between steps (e.g. accumulated beta powers)."""
        return {}

    def declared_scalars(self) -> dict[str, Any]:
        """Every host scalar :meth:`host_scalars` can produce for these hyperparameters, at
        any step and in any partition: ``{name: NUMBER | FLAG}``, a wrapping algorithm's
        nested scalars as a nested declaration (LARS: ``{"inner": {...}}``).

        A scalar produced on some steps only (RAdam's ``rect`` once the variance is
        tractable) is declared too: a packed vector holds NaN for it on the other steps,
        where the rule reads it under the flag that says it exists. Backends build their
        scalar layout from this (:class:`optbridge.scalars.ScalarLayout`), and a step that
        produces an undeclared name is refused. Default: ``lr`` and ``weight_decay``.
        """
        return {"lr": NUMBER, "weight_decay": NUMBER}

    def host_scalars(
        self, host_state: Mapping[str, float], hs: HostStep, precision: str
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Return ``(scalars, next_host_state)`` for step ``hs.step`` (1-based).

        ``scalars`` always holds ``lr`` and ``weight_decay``; algorithms add their own.
        Must not mutate ``host_state``.
        """
        return {"lr": hs.lr, "weight_decay": hs.weight_decay}, dict(host_state)

    def partition(self, params: Sequence[ParamInfo]) -> Mapping[str, str]:
        """Labels of parameters whose update takes a per-parameter variant (LARS's ``lars_filter``).

        The engine buckets a group's parameters by label (besides its decay and
        centralization flags) and hands each bucket's label to :meth:`host_scalars` as
        ``HostStep.partition``. ``params`` are all the model's parameters; names missing
        from the result get ``""``. Default: no variants.
        """
        return {}

    @classmethod
    def has_rule(cls) -> bool:
        """Whether the algorithm defines its update rule over the ops namespace (every
        built-in one does; a plugin's algorithm may instead bring per-backend kernels)."""
        return cls.update_tensor is not Algorithm.update_tensor or cls.update is not Algorithm.update

    @property
    def float64_scalars(self) -> frozenset[str]:
        """Host scalars a backend hands :meth:`update` as float64 0-d values whatever the
        bucket's dtype (the origin framework computes with them as Python floats); every
        other number arrives in the bucket's dtype. Default: none."""
        return frozenset()

    def update(self, ops: Any, params: list, grads: Sequence[Any], slots: Mapping[str, list],
               scalars: Mapping[str, Any]) -> None:
        """Apply the update rule to one bucket, writing results back through ``ops``.

        Args:
            ops: the backend's ops namespace (:class:`optbridge.ops.Ops`).
            params: the bucket's parameters; entry ``i`` is replaced by the array
                :meth:`update_tensor` returns (the same object on in-place backends).
            grads: the pre-processed gradients, in the same order.
            slots: ``{slot name: [state arrays]}`` in the same order; entries are
                replaced by the arrays the rule wrote. An entry is ``None`` where the
                parameter has no such slot (its shape kind gives it none, see :class:`Slot`).
            scalars: this step's host scalars as the backend's scalars in the bucket's
                dtype (a nested mapping stays nested; booleans may be traced).

        The default runs :meth:`update_tensor` on each tensor, with the slots that tensor
        has; a rule that couples tensors overrides this instead.
        """
        for i, (p, g) in enumerate(zip(params, grads)):
            state = {name: arrays[i] for name, arrays in slots.items() if arrays[i] is not None}
            params[i] = self.update_tensor(ops, p, g, state, scalars)
            for name in state:
                slots[name][i] = state[name]

    def update_tensor(self, ops: Any, p: Any, g: Any, state: dict[str, Any], scalars: Mapping[str, Any]) -> Any:
        """The canonical op order for one tensor: returns the new parameter and rebinds each
        slot it writes in ``state`` (see :mod:`optbridge.ops`, "Writing results back")."""
        raise NotImplementedError(f"canonical {self.name!r} defines no update rule")

    def hyperparameters(self) -> dict[str, Any]:
        """Field values, as plain data: the algorithm's own first, then ``maximize``."""
        names = [f.name for f in dataclasses.fields(self)]
        own = [n for n in names if n not in _BASE_FIELDS] + [n for n in names if n in _BASE_FIELDS]
        return {n: getattr(self, n) for n in own}

    def replace(self, **changes: Any) -> Algorithm:
        """A copy with some hyperparameters changed (per-group overrides)."""
        return dataclasses.replace(self, **changes)


_BASE_FIELDS = frozenset(f.name for f in dataclasses.fields(Algorithm))
