r"""``keras.optimizers.MultiOptimizer`` and ``keras.optimizers.OptimizerMap`` (Keras 3.15).

Mirrors ``keras/src/optimizers/multi_optimizer.py``: an :class:`OptimizerMap` maps
variable paths to Keras optimizers; :class:`MultiOptimizer` updates each variable with the
optimizer its path maps to. optbridge lowers the whole to **one** canonical spec: one
group per map entry (``GroupSpec.algorithm``: the entry's canonical algorithm, learning
rate, weight decay and ``exclude_from_weight_decay`` patterns) and a last group ``"*"``
for the default optimizer. One engine runs it, with one step counter and one state dict.

Lookup (``OptimizerMap.__getitem__``), for a variable path ``p``:

1. a key equal to ``p`` gives its optimizer;
2. else the keys that match ``p`` in full (``re.fullmatch``): one gives its optimizer,
   several raise ``ValueError("Multiple optimizers assigned to variable p.")``;
3. else the default optimizer.

The lowering keeps that: the group of key ``k`` selects ``{"regex": k}`` (matched in
linear time by :class:`optbridge.patterns.NamePattern`, which refuses backreferences and
lookarounds), plus the literal ``k`` where ``k`` does not match itself in full (``"a+"``),
and leaves out, by ``exclude_names``, every other key that ``k`` matches (a path equal to
that key is the other key's, step 1). A path two groups take is refused when the
optimizer is built (:class:`~optbridge.errors.DuplicateParameterError`, a ``ValueError``,
naming both groups). A group no variable maps to is left out, as Keras never builds an
inner optimizer without variables.

Numbers. Each Keras inner optimizer keeps its own ``iterations``, which its learning-rate
schedule and its bias corrections read; ``MultiOptimizer.apply`` calls every inner
optimizer that has variables at each step, and an inner optimizer's ``apply`` counts the
step even when some of its variables have no gradient. So every inner counter equals the
``MultiOptimizer``'s own, and the engine's one step counter gives Keras's numbers. (When
*none* of an inner optimizer's variables has a gradient, Keras raises ``ValueError("No
gradients provided for any variable.")`` after the inner optimizers before it have
already updated their variables; optbridge skips the variables without a gradient.)

Validation, in Keras's words where Keras has the check:

* ``OptimizerMap(default_optimizer, optimizer_map=None)``: ``TypeError`` unless
  ``default_optimizer`` is a Keras-dialect optimizer ("default_optimizer must be a Keras
  Optimizer instance. Received: ...") or ``optimizer_map`` is ``None`` or a dict
  ("optimizer_map must be a dictionary. Received: ...").
* ``optimizer_map[key] = optimizer``: ``ValueError`` for a key already there, a key that
  is not a string, an optimizer that is not a Keras-dialect optimizer, a
  ``LossScaleOptimizer`` or a ``MultiOptimizer`` ("optimizer cannot be ...").
* ``MultiOptimizer(optimizer_map, loss_scale_factor=None, name=None)`` checks every entry
  (a dict given to ``OptimizerMap`` skips ``__setitem__``'s checks, in Keras too, which
  then fails when the optimizer is built): the ``__setitem__`` rules, and a key that is not
  a valid regular expression (``SpecValueError`` naming the key; Keras raises ``re.error``
  at the first lookup).

``loss_scale_factor`` (a number > 0) divides the gradients before every inner optimizer
(:class:`~optbridge.transforms.LossScale`, ``form="keras"``, static), as Keras sets it on
each of them.

Not modelled (each refused with an error naming the inner optimizer): a callable
``optimizer_map`` (a config runs no code); an inner optimizer with gradient clipping (``clipnorm``, ``clipvalue``,
``global_clipnorm``: Keras clips each inner optimizer's own gradients) or with
:meth:`~optbridge.dialects.base.DialectOptimizer.with_transforms` transforms, with
optbridge's ``params`` or ``unassigned`` extensions (the map decides which variables it
updates). Keras's ``MultiOptimizer`` overrides the inner optimizers' ``loss_scale_factor``
with its own; optbridge reads only the ``MultiOptimizer``'s.

One Keras optimizer object used under several keys is one optimizer in Keras (one
``learning_rate`` variable); here each key is its own group, with the same numbers.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, ClassVar

from ....errors import ConfigError, SpecTypeError, SpecValueError
from ....patterns import compile_name_pattern
from ....spec import GroupSpec, OptimizerSpec
from ....transforms import LossScale
from ...base import CONFIG_FORMAT_VERSION, DialectOptimizer, register_dialect
from ._base import KerasOptimizer, check_number

__all__ = ["MultiOptimizer", "OptimizerMap"]

_MULTI = "keras.optimizers.MultiOptimizer"
_LOSS_SCALE = "keras.optimizers.LossScaleOptimizer"


def _check_inner(optimizer: Any, what: str = "optimizer") -> None:
    """``OptimizerMap.__setitem__``'s optimizer checks, in Keras's words."""
    qualname = getattr(optimizer, "qualname", None)
    if qualname == _LOSS_SCALE:
        raise SpecValueError(f"{what} cannot be LossScaleOptimizer.")
    if qualname == _MULTI:
        raise SpecValueError(f"{what} cannot be MultiOptimizer.")
    if not isinstance(optimizer, KerasOptimizer):
        raise SpecValueError(f"{what} must be a Keras Optimizer instance. Received: {optimizer!r:.200}")


class OptimizerMap(MutableMapping):
    """Variable paths (exact, or regular expressions matched in full) to Keras-dialect
    optimizers, with a default, as ``keras.optimizers.OptimizerMap``.

    Args:
        default_optimizer: the optimizer of every variable no key maps.
        optimizer_map: ``{key: optimizer}`` (taken as given, as in Keras; checked by
            :class:`MultiOptimizer`).

    Raises:
        TypeError: ``default_optimizer`` is not a Keras-dialect optimizer, or
            ``optimizer_map`` is not ``None`` or a dict.
    """

    def __init__(self, default_optimizer: Any, optimizer_map: Any = None):
        if not isinstance(default_optimizer, KerasOptimizer) or getattr(default_optimizer, "qualname", "") in (
                _MULTI, _LOSS_SCALE):
            raise SpecTypeError(f"default_optimizer must be a Keras Optimizer instance. "
                                f"Received: {default_optimizer!r:.200}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise SpecTypeError(f"optimizer_map must be a dictionary. Received: {optimizer_map!r:.200}")
        self._default_optimizer = default_optimizer
        self._optimizer_map: dict[Any, Any] = optimizer_map or {}

    @property
    def default_optimizer(self) -> KerasOptimizer:
        """The optimizer of the variables no key maps."""
        return self._default_optimizer

    def __getitem__(self, key: str) -> Any:
        """The optimizer of the variable path ``key``: the key equal to it, else the one key
        matching it in full, else the default.

        Raises:
            ValueError: ``key`` matches several keys ("Multiple optimizers assigned to
                variable ...").
        """
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [k for k in self._optimizer_map if compile_name_pattern(k).fullmatch(key)]
        if len(matching) > 1:
            raise SpecValueError(f"Multiple optimizers assigned to variable {key}.")
        if matching:
            return self._optimizer_map[matching[0]]
        return self._default_optimizer

    def __setitem__(self, key: str, optimizer: Any) -> None:
        if key in self._optimizer_map:
            raise SpecValueError(f"'{key}' already exists in the OptimizerMap with value "
                                 f"{self._optimizer_map[key]!r:.200}. Please make sure to not use duplicated keys.")
        if not isinstance(key, str):
            raise SpecValueError(f"key must be a string. Received: {key!r}")
        _check_inner(optimizer)
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key: str) -> None:
        del self._optimizer_map[key]

    def __len__(self) -> int:
        return len(self._optimizer_map)

    def __iter__(self) -> Iterator[str]:
        return iter(self._optimizer_map)

    def __call__(self, variable: Any) -> Any:
        """The optimizer of ``variable`` (anything with a ``path``, or a path)."""
        return self[variable if isinstance(variable, str) else variable.path]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OptimizerMap):
            return NotImplemented
        return (self._default_optimizer == other._default_optimizer
                and list(self._optimizer_map.items()) == list(other._optimizer_map.items()))

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"OptimizerMap({self._default_optimizer!r}, {self._optimizer_map!r})"

    def get_config(self) -> dict[str, Any]:
        """``{"default_optimizer": config, "optimizer_map": {key: config}}`` (optbridge configs)."""
        from ....config import to_dict

        return {"default_optimizer": to_dict(self._default_optimizer),
                "optimizer_map": {k: to_dict(v) for k, v in self._optimizer_map.items()}}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OptimizerMap:
        """Inverse of :meth:`get_config`.

        Raises:
            ConfigError: a malformed config, naming the path to the bad key.
        """
        from ....config import nested_optimizer

        if not isinstance(config, Mapping) or set(config) - {"default_optimizer", "optimizer_map"} \
                or "default_optimizer" not in config:
            got = sorted(map(str, config)) if isinstance(config, Mapping) else type(config).__name__
            raise ConfigError(f"optimizer_map: must be a mapping with the keys 'default_optimizer' and "
                              f"'optimizer_map'. Received: {got}")

        entries = config.get("optimizer_map") or {}
        if not isinstance(entries, Mapping):
            raise ConfigError(f"optimizer_map.optimizer_map: must be a mapping of keys to optimizer configs. "
                              f"Received: {type(entries).__name__}")
        default = nested_optimizer(config["default_optimizer"], "optimizer_map.default_optimizer")
        return cls(default, {k: nested_optimizer(v, f"optimizer_map.optimizer_map[{k!r}]") for k, v in entries.items()})


@register_dialect
class MultiOptimizer(DialectOptimizer):
    """A different Keras optimizer per variable group, as ``keras.optimizers.MultiOptimizer``
    (see the module docstring): one canonical spec, one step counter, one state dict.

    Args:
        optimizer_map: an :class:`OptimizerMap`.
        loss_scale_factor: ``None``, or a number > 0 dividing every gradient.
        name: the optimizer's name (kept for configs).

    Raises:
        TypeError: ``optimizer_map`` is not an :class:`OptimizerMap` (a callable is refused:
            configs run no code); ``name`` is not a string.
        ValueError: an entry breaks ``OptimizerMap.__setitem__``'s rules, a key is not a
            valid regular expression, an inner optimizer uses what is not modelled here,
            ``loss_scale_factor`` is not a number > 0.
    """

    qualname = _MULTI
    cls_name = "MultiOptimizer"

    def __init__(self, optimizer_map: Any, loss_scale_factor: Any = None, name: Any = None):
        if isinstance(optimizer_map, Mapping) and not isinstance(optimizer_map, OptimizerMap):
            optimizer_map = OptimizerMap.from_config(optimizer_map)
        if not isinstance(optimizer_map, OptimizerMap):
            what = "a callable" if callable(optimizer_map) else type(optimizer_map).__name__
            raise SpecTypeError(
                f"keras.optimizers.MultiOptimizer: `optimizer_map` must be an OptimizerMap; {what} is not supported "
                f"by optbridge (configs are plain data and run no code). Received: {optimizer_map!r:.200}")
        if loss_scale_factor is not None:
            check_number("loss_scale_factor", loss_scale_factor)
            if not loss_scale_factor > 0:
                raise SpecValueError("`loss_scale_factor` must be a number > 0 or None. "
                                     f"Received: loss_scale_factor={loss_scale_factor}")
        if name is not None and not isinstance(name, str):
            raise SpecTypeError(f"`name` must be a string or None. Received: name={name!r}")
        self._record({"optimizer_map": optimizer_map, "loss_scale_factor": loss_scale_factor, "name": name})
        self._entries()

    # -- Keras's attributes ------------------------------------------------------------------
    @property
    def optimizer_map(self) -> OptimizerMap:
        """The :class:`OptimizerMap`."""
        return self._arguments["optimizer_map"]

    @property
    def optimizers(self) -> list[KerasOptimizer]:
        """The inner optimizers, in Keras's order: the map's (each object once), then the default."""
        out: list[KerasOptimizer] = []
        for optimizer in [*self.optimizer_map.values(), self.optimizer_map.default_optimizer]:
            if not any(optimizer is o for o in out):
                out.append(optimizer)
        return out

    @property
    def learning_rate(self) -> Any:
        raise AttributeError("Learning rate cannot be accessed on a MultiOptimizer. Access the learning rate on the "
                             "individual sub-optimizers instead.")

    # -- lowering ------------------------------------------------------------------------------
    def _entries(self) -> list[tuple[str | None, KerasOptimizer, OptimizerSpec]]:
        """``(key, optimizer, its canonical spec)`` per map entry, then ``(None, default, spec)``;
        every check of the module docstring."""
        out: list[tuple[str | None, KerasOptimizer, OptimizerSpec]] = []
        mapping = self.optimizer_map
        for key, optimizer in mapping._optimizer_map.items():
            where = f"optimizer_map[{key!r}]"
            if not isinstance(key, str):
                raise SpecValueError(f"key must be a string. Received: {key!r}")
            _check_inner(optimizer, f"{where}: optimizer")
            try:
                compile_name_pattern(key)
            except re.error as exc:
                raise SpecValueError(f"{where}: the key is not a valid regular expression: {exc}") from None
            except ValueError as exc:
                raise SpecValueError(f"{where}: {exc}") from None
            out.append((key, optimizer, self._inner_spec(optimizer, where)))
        default = mapping.default_optimizer
        out.append((None, default, self._inner_spec(default, "default_optimizer")))
        return out

    @staticmethod
    def _inner_spec(optimizer: KerasOptimizer, where: str) -> OptimizerSpec:
        arguments = optimizer.arguments
        for key, default in (("params", None), ("unassigned", "error")):
            if arguments.get(key, default) != default:
                raise SpecValueError(
                    f"{where}: {optimizer.qualname}({key}={arguments[key]!r:.80}): inside a MultiOptimizer the "
                    f"OptimizerMap decides which variables an optimizer updates; leave `{key}` at {default!r}")
        spec = optimizer.to_canonical()
        if spec.transforms:
            raise SpecValueError(
                f"{where}: {optimizer.qualname} clips or transforms its gradients "
                f"({', '.join(type(t).__name__ for t in spec.transforms)}); inside a MultiOptimizer Keras does that "
                f"per inner optimizer, which optbridge does not model: set clipnorm, clipvalue and global_clipnorm "
                f"to None")
        if spec.groups is not None:
            raise SpecValueError(f"{where}: {optimizer.qualname} lowers to groups of its own; inside a "
                                 f"MultiOptimizer an optimizer takes the variables its key maps")
        return spec

    def to_canonical(self) -> OptimizerSpec:
        """One spec: a group per map entry (its own algorithm), then ``"*"`` for the default."""
        entries = self._entries()
        keys = [k for k, _, _ in entries if k is not None]
        base = entries[-1][2]
        groups = []
        for index, (key, _, spec) in enumerate(entries):
            selector: Any
            if key is None:
                selector = "*"
            else:
                pattern = compile_name_pattern(key)
                regex = key if pattern.fullmatch(key) else f"{key}|{re.escape(key)}"
                others = [k for k in keys if k != key and pattern.fullmatch(k)]
                selector = {"regex": regex, **({"exclude_names": others} if others else {})}
            for field_name in ("precision", "preprocess", "decay_filter", "loss_scale", "static_lr_offset"):
                if getattr(spec, field_name) != getattr(base, field_name):
                    raise SpecValueError(f"groups[{index}]: the inner optimizers disagree on {field_name!r}")
            groups.append(GroupSpec(params=selector, lr=spec.lr, weight_decay=spec.weight_decay,
                                    source_index=index, algorithm=spec.algorithm,
                                    decay_exclude=spec.decay_exclude, optional=True))
        return OptimizerSpec(
            algorithm=base.algorithm,
            lr=base.lr,
            weight_decay=base.weight_decay,
            groups=tuple(groups),
            decay_filter=base.decay_filter,
            unassigned="error",
            precision=base.precision,
            preprocess=base.preprocess,
            origin=self.qualname,
            decay_exclude=base.decay_exclude,
            transforms=() if self._arguments["loss_scale_factor"] is None else (
                LossScale(form="keras", initial_scale=self._arguments["loss_scale_factor"], dynamic=False,
                          skip_nonfinite=False),),
        )

    # -- configs -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"format_version", "optimizer", "optimizer_map": {"default_optimizer": config,
        "optimizer_map": {key: config}}, "loss_scale_factor", "name"}``."""
        data: dict[str, Any] = {"format_version": CONFIG_FORMAT_VERSION, "optimizer": self.qualname,
                                "optimizer_map": self.optimizer_map.get_config(),
                                "loss_scale_factor": self._arguments["loss_scale_factor"],
                                "name": self._arguments["name"]}
        if self._transforms:
            data["transforms"] = [t.to_dict() for t in self._transforms]
        return data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MultiOptimizer):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    #: not a group-dict class: the map makes the groups
    group_keys: ClassVar[tuple[str, ...]] = ()
