r"""What every Keras-dialect optimizer shares: ``keras.optimizers.Optimizer``'s rules (Keras 3.15).

Mirrors ``keras/src/optimizers/base_optimizer.py`` (``BaseOptimizer.__init__``,
``_apply_weight_decay``, ``exclude_from_weight_decay``) and, for weight decay on the
TensorFlow backend, ``keras/src/backend/tensorflow/optimizer.py``.

Arguments every class takes, in Keras's order after the class's own: ``weight_decay``,
``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``use_ema``, ``ema_momentum``,
``ema_overwrite_frequency``, ``loss_scale_factor``, ``gradient_accumulation_steps``,
``name``, ``**kwargs``. Validation, in Keras's order and words:

1. ``kwargs``: ``decay`` is dropped with Keras's warning ("Argument `decay` is no longer
   supported and will be ignored."); any other key raises ``ValueError("Argument(s) not
   recognized: {...}")``.
2. ``gradient_accumulation_steps`` (when truthy) must be ``>= 2``; with ``use_ema``,
   ``ema_momentum`` must lie in [0, 1] and ``ema_overwrite_frequency`` be ``None`` or an
   int >= 1; at most one of ``clipnorm``, ``clipvalue``, ``global_clipnorm``.
3. ``learning_rate`` must be a Python ``float`` (an ``int`` raises, as in Keras:
   "Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or
   a callable ...") or a schedule.
4. the class's own checks (``SGD``: "`momentum` must be a float between [0, 1].";
   ``AdamW``: "Argument `weight_decay` must be a float. Received: weight_decay=None").

Then optbridge's own rules (:class:`~optbridge.errors.SpecValueError` /
``SpecTypeError``, naming the argument):

* **Clipping** -- ``clipnorm``, ``clipvalue`` and ``global_clipnorm`` are numbers or
  ``None``; as in Keras (``_clip_gradients``), one that is not ``> 0`` clips nothing. They
  lower to the gradient transforms :class:`~optbridge.transforms.ClipByNorm`,
  :class:`~optbridge.transforms.ClipByValue` and :class:`~optbridge.transforms.ClipByGlobalNorm`
  (``form="keras"``), run on the gradients before the weight decay and the update.
* **The rest of Keras's pipeline** (``BaseOptimizer.apply``), lowered to transforms in
  Keras's order: ``loss_scale_factor`` (a number > 0, or ``None``) to
  :class:`~optbridge.transforms.LossScale` (``form="keras"``, static: ``g ← g / factor``,
  and ``scale_loss(loss) = loss · factor``); ``gradient_accumulation_steps`` to
  :class:`~optbridge.transforms.AccumulateGradients`; then the clipping; ``use_ema`` (with
  ``ema_momentum``, ``ema_overwrite_frequency``) to
  :class:`~optbridge.transforms.ExponentialMovingAverage` (``form="keras"``), after the
  update. ``ema_momentum``/``ema_overwrite_frequency`` are ignored without ``use_ema``,
  as in Keras.
* **Plain data** -- hyperparameters must be numbers (flags ``bool``); Keras's callables
  and tensors (``beta_1=lambda: 0.9``, a callable ``learning_rate``) are refused since a
  config must not execute code; ``weight_decay`` is ``None`` or a number (Keras has no
  dynamic weight decay; a schedule raises ``TypeError``).

Extensions (keyword-only, not in Keras):

* ``params`` -- which parameters the optimizer updates (Keras optimizers take them in
  ``apply``): ``None`` (every parameter, one group), a *selector* (a name, a glob, a list
  of names/globs or a selector dict, see :mod:`optbridge.groups`), or a list of *group
  dicts* ``{"params": selector, "learning_rate": ..., "weight_decay": ...,
  <any hyperparameter of the class>}``; keys a group leaves out take the constructor's
  values; a group value is validated with the class's checks, the message prefixed
  ``groups[i] (<selector>): ``.
* ``unassigned`` -- ``"error"`` (default) or ``"frozen"``: what happens to parameters
  no group takes.
* ``exclude_from_weight_decay`` -- the config form of Keras's method of that name: a list
  of regular expressions (see :meth:`KerasOptimizer.exclude_from_weight_decay`).
* ``learning_rate`` may also be a per-step list (entry ``i`` is used by step ``i``) or
  any optbridge :class:`~optbridge.schedules.base.Schedule`; Keras's own schedules are
  :mod:`optbridge.dialects.keras.optimizers.schedules`.

Numbers (the lowering to the canonical spec):

* Keras calls a schedule with ``iterations`` (0 for the first update) and keeps a float
  ``learning_rate`` in a float32 variable; host scalars are float32 (spec
  ``precision="float32"``). Keras casts scalars to the *variable's* dtype, so for
  float64 variables it computes its bias corrections in float64 from the float32
  learning rate, where optbridge stays in float32 (float32 variables, the Keras default,
  agree bit for bit).
* Constants Keras writes on Python floats (``1 - self.beta_1``, ``1 - rho``) are
  float64 results rounded to float32 when they meet a tensor; the canonical algorithms
  model that with their Keras flags (adam ``moment_form="keras"``, rmsprop/adadelta
  ``arithmetic="keras"``) -- ``float32(1) - float32(0.9)`` is 3 ulp away from
  ``float32(1 - 0.9)``.
* Weight decay is Keras's ``_apply_weight_decay``, run before every update on each
  variable it is not excluded for: ``p ← p − (p·wd)·lr`` with ``wd``, ``lr`` cast to the
  variable's dtype (every canonical algorithm's ``weight_decay_form="keras"``, applied by
  the kernel, skipped when ``wd`` is 0). ``weight_decay=None`` is no decay. There is no
  name-based default filter: every variable is decayed unless excluded. Gradients are
  not pre-processed (no negation, no coupled decay, no loss scale).

Writing a Keras-dialect class on this base
------------------------------------------
::

    @register_dialect
    class RMSprop(KerasOptimizer):
        qualname = "keras.optimizers.RMSprop"
        cls_name = "RMSprop"
        hyperparameters = ("rho", "momentum", "epsilon", "centered")  # group-overridable

        def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                     centered=False, weight_decay=None, clipnorm=None, ..., name=None, *,
                     params=None, unassigned="error", exclude_from_weight_decay=None, **kwargs):
            self._init_keras(locals(), kwargs)

        def _check(self, hp):           # Keras's checks after super().__init__ (usually none)
            ...

        def _algorithm(self, hp):       # merged hyperparameters -> canonical algorithm
            return CanonicalRMSProp(alpha=hp["rho"], ..., weight_decay_form="keras")

``_init_keras`` receives ``locals()`` (so the recorded arguments are exactly the
signature's) and the ``**kwargs`` dict. ``_check`` runs on the constructor's values (before
the extension checks) and on each group's merged values. ``_algorithm`` must not read
``learning_rate`` or ``weight_decay``.

Parameter names for ``exclude_from_weight_decay``: Keras searches each pattern in the
variable's ``name``. On the TensorFlow backend ``_apply_weight_decay`` first unwraps a
Keras variable to its ``tf.Variable``, whose name is the Keras *path* plus ``":0"``
(``"dense/kernel:0"``); on the JAX and torch backends it is the Keras variable's short
``name`` (``"kernel"``). optbridge searches the name the parameter was built under:
``variable.path`` for Keras variables (``"dense/kernel"``), the dict key of a
``{name: array}`` mapping, torch's ``named_parameters()`` name (``"fc.bias"``).
Unanchored patterns such as ``"bias"`` or ``"norm"`` select the same variables in all of
these; a pattern anchored at the end (``"kernel$"``) does not match Keras-on-TF's
``":0"`` suffix but does match optbridge's path, and one anchored at the start
(``"^kernel"``) matches Keras-on-JAX's short name but not a path.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from numbers import Real
from typing import Any, ClassVar

import numpy as np

from ....algorithms.base import Algorithm
from ....errors import SpecKeyError, SpecTypeError, SpecValueError
from ....groups import describe_selector, validate_selector
from ....patterns import compile_name_pattern
from ....schedules.base import Schedule
from ....schedules.values import Constant, PerStep, Scheduled, Value
from ....spec import GroupSpec, OptimizerSpec
from ....transforms import (
    AccumulateGradients,
    ClipByGlobalNorm,
    ClipByNorm,
    ClipByValue,
    ExponentialMovingAverage,
    GradientTransform,
    LossScale,
)
from ...base import DialectOptimizer, check_fits_float

__all__ = ["KerasOptimizer", "BASE_ARGUMENTS", "check_number", "check_flag"]

#: ``BaseOptimizer.__init__``'s arguments after ``learning_rate``, with Keras's defaults.
BASE_ARGUMENTS: dict[str, Any] = {
    "weight_decay": None,
    "clipnorm": None,
    "clipvalue": None,
    "global_clipnorm": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
    "name": None,
}

#: the clipping arguments, in the order Keras's ``_clip_gradients`` tries them, and the
#: gradient transform each lowers to
CLIP_ARGUMENTS: dict[str, Any] = {
    "clipnorm": ClipByNorm,
    "global_clipnorm": lambda value: ClipByGlobalNorm(value, form="keras"),
    "clipvalue": ClipByValue,
}

#: optbridge's keyword-only extensions and their defaults.
EXTENSIONS: dict[str, Any] = {"params": None, "unassigned": "error", "exclude_from_weight_decay": None}


def _is_number(value: Any) -> bool:
    return isinstance(value, (Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_number(name: str, value: Any, where: str = "") -> Any:
    """``value`` if it is a real number (not a bool); else ``SpecTypeError`` naming ``name``.

    Keras stores most hyperparameters unchecked and fails inside the first update; a
    config must hold plain numbers, so optbridge checks the type at construction.
    """
    if not _is_number(value):
        raise SpecTypeError(f"{where}`{name}` must be a number. Received: {name}={value!r} "
                            f"of type {type(value).__name__}")
    check_fits_float(name, value, where)
    return value


def check_flag(name: str, value: Any, where: str = "") -> bool:
    """``value`` if it is a ``bool``; else ``SpecTypeError`` naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise SpecTypeError(
            f"{where}`{name}` must be a bool. Received: {name}={value!r} of type {type(value).__name__}"
        )
    return bool(value)


def _where(index: int, selector: Any) -> str:
    return f"groups[{index}] ({describe_selector(selector)}): "


def _learning_rate(value: Any, where: str) -> Value:
    """Keras's ``learning_rate`` rule plus optbridge's per-step list; the canonical value."""
    if isinstance(value, Schedule):
        return Scheduled(value)
    if isinstance(value, (list, tuple, np.ndarray)) and not (isinstance(value, np.ndarray) and value.ndim == 0):
        entries = list(value.tolist() if isinstance(value, np.ndarray) else value)
        if not entries:
            raise SpecValueError(f"{where}a per-step `learning_rate` list must not be empty")
        for i, entry in enumerate(entries):
            if not _is_number(entry):
                raise SpecTypeError(f"{where}entries of a per-step `learning_rate` list must be numbers; "
                                    f"learning_rate[{i}] is {entry!r} of type {type(entry).__name__}")
        return PerStep(tuple(float(e) for e in entries))
    if callable(value):
        raise SpecTypeError(
            f"{where}a callable `learning_rate` is not supported by optbridge (configs are plain data and run "
            f"no code); use a schedule from optbridge.dialects.keras.optimizers.schedules. Received: {value!r}"
        )
    if not isinstance(value, float):
        raise SpecValueError(
            f"{where}Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or a "
            "callable (that takes in the current iteration value and returns the corresponding learning rate "
            f"value). Received instead: learning_rate={value}"
        )
    return Constant(float(value))


def _weight_decay(value: Any, where: str) -> Value:
    if value is None:
        return Constant(0.0)
    if isinstance(value, Schedule):
        raise SpecTypeError(f"{where}`weight_decay` must be None or a number: Keras has no dynamic weight decay "
                            f"(a schedule). Received: weight_decay={value!r}")
    return Constant(float(check_number("weight_decay", value, where)))


def _check_patterns(var_names: Any) -> list[str] | None:
    """Keras's ``var_names``: a list of regular expressions (``None``/empty: no pattern)."""
    if var_names is None:
        return None
    if isinstance(var_names, (str, bytes)) or not isinstance(var_names, Iterable):
        raise SpecTypeError(f"`var_names` must be a list of strings (regular expressions). Received: {var_names!r}")
    patterns = list(var_names)
    for i, pattern in enumerate(patterns):
        if not isinstance(pattern, str):
            raise SpecTypeError(f"`var_names[{i}]` must be a string (a regular expression). Received: {pattern!r}")
        try:
            compile_name_pattern(pattern)
        except re.error as exc:
            raise SpecValueError(f"`var_names[{i}]` is not a valid regular expression: {pattern!r} ({exc})") from None
        except ValueError as exc:
            raise SpecValueError(f"`var_names[{i}]`: {exc}") from None
    return patterns or None


class KerasOptimizer(DialectOptimizer):
    """Base of Keras-dialect optimizers (``keras.optimizers.Optimizer``). See the module docstring.

    Class attributes a subclass sets: ``qualname`` (``"keras.optimizers.SGD"``),
    ``cls_name`` (``"SGD"``) and ``hyperparameters`` (the class's own constructor
    arguments that a group dict may override).
    """

    cls_name: ClassVar[str] = "Optimizer"
    #: the class's own hyperparameters (a group dict may override them)
    hyperparameters: ClassVar[tuple[str, ...]] = ()

    _hp: dict[str, Any]
    _group_list: list[dict[str, Any]] | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.group_keys = ("params", "learning_rate", "weight_decay") + tuple(cls.hyperparameters)

    # -- hooks for subclasses -------------------------------------------------------------
    def _check(self, hp: dict[str, Any], where: str) -> None:
        """The class's checks on one set of merged hyperparameters (Keras's words).

        By default every hyperparameter must be a number (:func:`check_number`); classes
        with flags or range checks override this.
        """
        for name in self.hyperparameters:
            check_number(name, hp[name], where)

    def _check_after_base(self, arguments: dict[str, Any]) -> None:
        """Checks Keras runs on the base arguments after ``super().__init__`` (``AdamW``)."""

    def _algorithm(self, hp: dict[str, Any]) -> Algorithm:
        """The canonical algorithm for one group's merged hyperparameters."""
        raise NotImplementedError

    # -- BaseOptimizer.__init__ ----------------------------------------------------------
    def _init_keras(self, arguments: Mapping[str, Any], kwargs: Mapping[str, Any]) -> None:
        """Validate like Keras, then optbridge's rules; record the arguments.

        Args:
            arguments: the constructor's ``locals()`` (``self`` and ``kwargs`` are ignored).
            kwargs: the constructor's ``**kwargs``.
        """
        args = {k: v for k, v in arguments.items() if k not in ("self", "kwargs", "__class__")}
        expected = ["learning_rate", *self.hyperparameters, *BASE_ARGUMENTS, *EXTENSIONS]
        if sorted(args) != sorted(expected):
            raise TypeError(f"{type(self).__name__}: constructor arguments {sorted(args)} do not match "
                            f"'hyperparameters' and the base arguments {sorted(expected)}")
        kwargs = dict(kwargs)
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", stacklevel=3)
        if kwargs:
            raise SpecValueError(f"Argument(s) not recognized: {kwargs}")
        self._check_base(args)
        lr = _learning_rate(args["learning_rate"], "")
        hp = {k: args[k] for k in self.hyperparameters}
        self._check(dict(hp), "")
        self._check_after_base(args)
        if args["loss_scale_factor"] is not None:
            check_number("loss_scale_factor", args["loss_scale_factor"])
            if not args["loss_scale_factor"] > 0:
                raise SpecValueError("`loss_scale_factor` must be a number > 0 or None. "
                                     f"Received: loss_scale_factor={args['loss_scale_factor']}")
        if args["use_ema"]:
            check_flag("use_ema", args["use_ema"])
            check_number("ema_momentum", args["ema_momentum"])
        for name in CLIP_ARGUMENTS:
            if args[name] is not None:
                check_number(name, args[name])
        wd = _weight_decay(args["weight_decay"], "")
        self._group_list = self._parse_params(args["params"], hp)
        if args["unassigned"] not in ("error", "frozen"):
            raise SpecValueError(f"'unassigned' must be 'error' or 'frozen'. Received: {args['unassigned']!r}")
        patterns = _check_patterns(args["exclude_from_weight_decay"])
        if args["name"] is not None and not isinstance(args["name"], str):
            raise SpecTypeError(f"`name` must be a string or None. Received: name={args['name']!r}")
        self._hp = hp
        self._lr, self._wd = lr, wd
        args["exclude_from_weight_decay"] = patterns
        self._record({k: args[k] for k in self.argument_names()})

    @staticmethod
    def _check_base(args: Mapping[str, Any]) -> None:
        """``BaseOptimizer.__init__``'s checks, in its order and words."""
        steps = args["gradient_accumulation_steps"]
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
            raise SpecTypeError("`gradient_accumulation_steps` must be an integer >= 2. "
                                f"Received: gradient_accumulation_steps={steps!r:.80}")
        if steps:
            if not steps >= 2:
                raise SpecValueError("`gradient_accumulation_steps` must be an integer >= 2. "
                                     f"Received: gradient_accumulation_steps={steps}")
        if args["use_ema"]:
            momentum, frequency = args["ema_momentum"], args["ema_overwrite_frequency"]
            check_number("ema_momentum", momentum)
            if not momentum <= 1 or momentum < 0:  # NaN included
                raise SpecValueError(f"`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={momentum}")
            if frequency and (not isinstance(frequency, int) or frequency < 1):
                raise SpecValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. "
                                     f"Received: ema_overwrite_frequency={frequency}")
        clips = [args["clipnorm"], args["clipvalue"], args["global_clipnorm"]]
        if sum(a is not None for a in clips) > 1:
            raise SpecValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                f"clipnorm={clips[0]}, clipvalue={clips[1]}, global_clipnorm={clips[2]}"
            )

    def _parse_params(self, params: Any, hp: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """``None`` | a selector (one group) | a list of group dicts, validated."""
        if params is None:
            return None
        if isinstance(params, (str, Mapping)):
            validate_selector(params, "params")
            return None
        if not isinstance(params, Iterable):
            raise SpecTypeError(f"`params` must be None, a selector or a list of group dicts. "
                                f"Received: {type(params).__name__}")
        items = list(params)
        if not items:
            raise SpecValueError("`params` must not be an empty list")
        if not isinstance(items[0], Mapping):
            validate_selector(items, "params")
            return None
        groups: list[dict[str, Any]] = []
        for index, group in enumerate(items):
            if not isinstance(group, Mapping):
                raise SpecTypeError(f"groups[{index}]: a group must be a dict. Received: {type(group).__name__}")
            if "params" not in group:
                raise SpecKeyError(f"groups[{index}]: the group dict has no 'params' key")
            selector = group["params"]
            where = _where(index, selector)
            unknown = [k for k in group if k not in self.group_keys]
            if unknown:
                raise SpecKeyError(f"{where}unknown key(s) {unknown} for keras.optimizers.{self.cls_name}; "
                                   f"a group may hold {list(self.group_keys)}")
            validate_selector(list(selector) if isinstance(selector, tuple) else selector, where.rstrip(": "))
            if "learning_rate" in group:
                _learning_rate(group["learning_rate"], where)
            if "weight_decay" in group:
                _weight_decay(group["weight_decay"], where)
            self._check({**hp, **{k: group[k] for k in self.hyperparameters if k in group}}, where)
            groups.append(dict(group))
        return groups

    # -- Keras methods ------------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list: Any = None, var_names: Any = None) -> None:
        """Keras's method: parameters whose name matches one of ``var_names`` are not decayed.

        Each pattern is searched (as ``re.search``) on its own in the parameter's optbridge
        name (see the module docstring for how that relates to Keras's ``variable.name``),
        in linear time by :class:`optbridge.patterns.NamePattern`, which refuses
        backreferences, lookarounds, conditionals, atomic groups and possessive
        quantifiers. As in Keras,
        a call replaces the patterns of an earlier call, and ``None`` or an empty list
        clears them. The patterns are kept as the ``exclude_from_weight_decay`` argument,
        so ``to_dict()`` carries them.

        Raises:
            TypeError: ``var_list`` is given (framework variables cannot be part of a
                plain-data config); a pattern that is not a string.
            ValueError: a pattern that is not a valid regular expression, or one that
                :class:`~optbridge.patterns.NamePattern` refuses.
        """
        if var_list:
            raise SpecTypeError(
                "exclude_from_weight_decay: `var_list` (variable objects) is not supported by optbridge, whose "
                "configs are plain data; pass `var_names`, regular expressions searched in parameter names "
                "(e.g. var_names=['bias', 'norm'])"
            )
        self._arguments["exclude_from_weight_decay"] = _check_patterns(var_names)

    @property
    def weight_decay_exclusions(self) -> tuple[str, ...]:
        """The ``exclude_from_weight_decay`` patterns in force."""
        return tuple(self._arguments.get("exclude_from_weight_decay") or ())

    # -- lowering ----------------------------------------------------------------------------
    def to_canonical(self) -> OptimizerSpec:
        """The canonical spec: the constructor's algorithm, per-group values and overrides."""
        algorithm = self._algorithm(dict(self._hp))
        base = algorithm.hyperparameters()
        params = self._arguments["params"]
        groups: tuple[GroupSpec, ...] | None
        if params is None:
            groups = None
        elif self._group_list is None:
            groups = (GroupSpec(params=list(params) if isinstance(params, tuple) else params),)
        else:
            specs = []
            for index, group in enumerate(self._group_list):
                where = _where(index, group["params"])
                merged = {**self._hp, **{k: group[k] for k in self.hyperparameters if k in group}}
                group_alg = self._algorithm(merged)
                if group_alg.name != algorithm.name:
                    raise SpecValueError(f"{where}lowers to canonical {group_alg.name!r}, the optimizer to "
                                         f"{algorithm.name!r}")
                selector = group["params"]
                specs.append(GroupSpec(
                    params=list(selector) if isinstance(selector, tuple) else selector,
                    lr=_learning_rate(group["learning_rate"], where) if "learning_rate" in group else None,
                    weight_decay=_weight_decay(group["weight_decay"], where) if "weight_decay" in group else None,
                    overrides={k: v for k, v in group_alg.hyperparameters().items() if v != base[k]},
                    source_index=index,
                ))
            groups = tuple(specs)
        return OptimizerSpec(
            algorithm=algorithm,
            lr=self._lr,
            weight_decay=self._wd,
            groups=groups,
            decay_filter=None,
            unassigned=self._arguments["unassigned"],
            precision="float32",
            preprocess=(),
            origin=self.qualname,
            decay_exclude=self.weight_decay_exclusions,
            transforms=self._pipeline(),
        )

    def _pipeline(self) -> tuple[GradientTransform, ...]:
        """Keras's gradient pipeline (``BaseOptimizer.apply``) as transforms, in its order:
        unscale (``loss_scale_factor``), accumulate, clip, and the EMA after the update."""
        args = self._arguments
        out: list[GradientTransform] = []
        if args["loss_scale_factor"] is not None:
            out.append(LossScale(form="keras", initial_scale=args["loss_scale_factor"], dynamic=False,
                                 skip_nonfinite=False))
        if args["gradient_accumulation_steps"]:
            out.append(AccumulateGradients(args["gradient_accumulation_steps"]))
        out.extend(self._clip_transforms())
        if args["use_ema"]:
            frequency = args["ema_overwrite_frequency"]  # Keras takes True as 1 (an int)
            out.append(ExponentialMovingAverage(args["ema_momentum"], form="keras",
                                                overwrite_frequency=int(frequency) if frequency else None))
        return tuple(out)

    def _clip_transforms(self) -> tuple[GradientTransform, ...]:
        """The transform ``clipnorm`` / ``global_clipnorm`` / ``clipvalue`` lowers to: the
        first that is set and ``> 0`` (Keras's ``_clip_gradients``), or none."""
        for name, transform in CLIP_ARGUMENTS.items():
            value = self._arguments[name]
            if value is not None and value > 0:
                return (transform(value),)
        return ()
