"""Conformance catalog of the Keras dialect (:mod:`optbridge.dialects.keras.optimizers`).

The message fragments of the ``construct`` records are Keras 3.15's own words where
Keras raises the same error (``tests/test_keras_optimizers_live_part1.py`` checks them
against Keras itself); records about optbridge's extensions and refusals (unmodelled
arguments, callables, selectors, group dicts) carry optbridge's messages.

Axes: Keras has no ``order_params``/``grad_centralization`` (group forms ``none`` and
``two``; group dicts use the key ``learning_rate``) and no dynamic weight decay (``wd``
forms ``off``, which is Keras's ``weight_decay=None``, and ``const``). The ``schedule``
lr form uses Keras's own schedules (:mod:`optbridge.dialects.keras.optimizers.schedules`):
the database's MindSpore schedule of a case is replaced by the Keras schedule of the
same shape (:func:`keras_schedule_for`); a per-step list is an optbridge extension.

Engineers adding Keras classes append their entries in their own block below.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import ConfigError, DuplicateParameterError, GroupError, SpecKeyError, SpecTypeError, SpecValueError
from ...schedules.base import Schedule
from .base import CONSTRUCT_PARAMS, DialectCases, ErrorInput, construct_error

__all__ = ["DIALECT_CASES", "CONSTRUCT_ERRORS", "KERAS_GROUP_FORMS", "KERAS_WD_FORMS", "keras_cases",
           "keras_schedule_for"]

#: The ``groups`` axis values Keras classes take.
KERAS_GROUP_FORMS = ("none", "two")
#: The ``wd`` axis values Keras classes take (Keras's weight decay is ``None`` or a number).
KERAS_WD_FORMS = ("off", "const")
_W = list(CONSTRUCT_PARAMS)
_STEPS = 8


def keras_schedule_for(schedule: Schedule, lr: float) -> Schedule:
    """The Keras schedule standing in for the database's MindSpore ``schedule`` (base ``lr``).

    One Keras class per MindSpore class, so the rotation of the database's schedules
    rotates through Keras's: exponential, inverse time (staircase and not), cosine with
    and without warm-up, polynomial with ``cycle``; piecewise constant and cosine restarts
    appear in the classes' own hyperparameter sets.
    """
    from ...dialects.keras.optimizers import schedules as ks

    kind = type(schedule).__name__
    if kind == "ExponentialDecayLR":
        return ks.ExponentialDecay(lr, decay_steps=2, decay_rate=0.8)
    if kind == "NaturalExpDecayLR":
        return ks.InverseTimeDecay(lr, decay_steps=2, decay_rate=0.3, staircase=True)
    if kind == "InverseDecayLR":
        return ks.InverseTimeDecay(lr, decay_steps=2, decay_rate=0.5)
    if kind == "CosineDecayLR":
        return ks.CosineDecay(lr, decay_steps=_STEPS, alpha=0.1)
    if kind == "PolynomialDecayLR":
        return ks.PolynomialDecay(lr, decay_steps=_STEPS - 2, end_learning_rate=lr * 0.1, power=2.0, cycle=True)
    return ks.CosineDecay(lr * 0.1, decay_steps=_STEPS - 3, warmup_target=lr, warmup_steps=3)


def _keras_construct(qualname: str, base_lr: float) -> Callable[[Any, Mapping[str, Any], Mapping[str, Any]], Any]:
    """How the database builds a Keras class: Keras schedules, ``learning_rate`` group keys,
    ``weight_decay=None`` for the ``off`` form (``AdamW`` requires a number and keeps 0.0)."""

    def construct(params: Any, arguments: Mapping[str, Any], hyperparameters: Mapping[str, Any]) -> Any:
        from ...dialects.base import dialect_registry

        cls = dialect_registry[qualname]
        lr = arguments["learning_rate"]
        if isinstance(lr, Schedule):
            lr = keras_schedule_for(lr, base_lr)
        elif isinstance(lr, list):
            lr = [float(v) for v in lr]
        wd = arguments["weight_decay"]
        if wd == 0.0 and qualname != "keras.optimizers.AdamW":
            wd = None
        if isinstance(params, list):
            params = [{("learning_rate" if k == "lr" else k): v for k, v in g.items()} if isinstance(g, dict) else g
                      for g in params]
        return cls(learning_rate=lr, weight_decay=wd, **hyperparameters, params=params)

    return construct


#: Keras's gradient pipeline, every stage at once (``BaseOptimizer.apply``: unscale,
#: accumulate, update, EMA with overwrites), run with each class's first hyperparameters
PIPELINE = {"loss_scale_factor": 0.5, "gradient_accumulation_steps": 2, "use_ema": True, "ema_momentum": 0.9,
            "ema_overwrite_frequency": 3}


def keras_cases(qualname: str, lr: float, weight_decay: float, *hyperparameters) -> DialectCases:
    """A Keras class's :class:`DialectCases`: Keras's axis forms and construction, and a
    ``pipeline`` set (:data:`PIPELINE` over the first set's values)."""
    first = dict(hyperparameters[0][1]) if hyperparameters else {}
    hyperparameters = (*hyperparameters, ("pipeline", {**first, **PIPELINE}))
    return DialectCases(lr=lr, weight_decay=weight_decay, hyperparameters=tuple(hyperparameters),
                        lr_keyword="learning_rate", group_forms=KERAS_GROUP_FORMS, wd_forms=KERAS_WD_FORMS,
                        construct=_keras_construct(qualname, lr))


# -- keras-1: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta ---------------------------------------
_SGD = "keras.optimizers.SGD"
_ADAM = "keras.optimizers.Adam"
_ADAMW = "keras.optimizers.AdamW"
_RMSPROP = "keras.optimizers.RMSprop"
_ADAGRAD = "keras.optimizers.Adagrad"
_ADADELTA = "keras.optimizers.Adadelta"

_PART1_CASES: dict[str, DialectCases] = {
    _SGD: keras_cases(
        _SGD, 0.05, 1e-2,
        ("default", {}),
        ("momentum", {"momentum": 0.9}),
        ("nesterov", {"momentum": 0.8, "nesterov": True}),
        ("nesterov_no_momentum", {"nesterov": True, "exclude_from_weight_decay": ["bias", "beta"]}),
        ("global_clipnorm", {"momentum": 0.9, "global_clipnorm": 0.5}),
        ("clipvalue", {"clipvalue": 0.5}),
    ),
    _ADAM: keras_cases(
        _ADAM, 0.01, 1e-2,
        ("default", {}),
        ("amsgrad", {"amsgrad": True}),
        ("betas_eps", {"beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-5, "exclude_from_weight_decay": ["gamma"]}),
        ("clipnorm", {"clipnorm": 0.5}),
    ),
    _ADAMW: keras_cases(
        _ADAMW, 0.01, 5e-2,
        ("default", {}),
        ("amsgrad", {"amsgrad": True, "beta_1": 0.5}),
    ),
    _RMSPROP: keras_cases(
        _RMSPROP, 0.005, 1e-2,
        ("default", {}),
        ("momentum", {"momentum": 0.9, "epsilon": 1e-5}),
        ("centered", {"centered": True, "momentum": 0.5, "rho": 0.8}),
        ("centered_plain", {"centered": True, "exclude_from_weight_decay": ["fc"]}),
    ),
    _ADAGRAD: keras_cases(
        _ADAGRAD, 0.05, 1e-2,
        ("default", {}),
        ("accumulator_eps", {"initial_accumulator_value": 0.5, "epsilon": 1e-4}),
    ),
    _ADADELTA: keras_cases(
        _ADADELTA, 1.0, 1e-2,
        ("default", {}),
        ("rho_eps", {"rho": 0.8, "epsilon": 1e-5}),
    ),
}

_PART1_ERRORS: tuple[ErrorInput, ...] = (
    # keras.optimizers.Optimizer (shared by every class; recorded on SGD)
    construct_error("keras.sgd-lr_int", _SGD, dict(learning_rate=1), SpecValueError,
                    "Argument `learning_rate` should be float, or an instance of LearningRateSchedule",
                    "an int learning rate (Keras requires a float)"),
    construct_error("keras.sgd-lr_callable", _SGD, dict(learning_rate=lambda: 0.1), SpecTypeError,
                    "a callable `learning_rate` is not supported by optbridge", "a callable learning rate"),
    construct_error("keras.sgd-kwargs_unknown", _SGD, dict(lr=0.1), SpecValueError,
                    "Argument(s) not recognized: {'lr': 0.1}", "an unknown keyword argument"),
    construct_error("keras.sgd-clip_two", _SGD, dict(clipnorm=1.0, clipvalue=0.5), SpecValueError,
                    "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set.",
                    "two clipping arguments"),
    construct_error("keras.sgd-accumulation_one", _SGD, dict(gradient_accumulation_steps=1), SpecValueError,
                    "`gradient_accumulation_steps` must be an integer >= 2.", "gradient accumulation over 1 step"),
    construct_error("keras.sgd-ema_momentum_range", _SGD, dict(use_ema=True, ema_momentum=1.5), SpecValueError,
                    "`ema_momentum` must be in the range [0, 1].", "EMA momentum above 1"),
    construct_error("keras.sgd-ema_frequency", _SGD, dict(use_ema=True, ema_overwrite_frequency=0.5),
                    SpecValueError, "`ema_overwrite_frequency` must be an integer >= 1 or None.",
                    "a fractional EMA overwrite frequency"),
    construct_error("keras.sgd-clipnorm_str", _SGD, dict(clipnorm="1.0"), SpecTypeError,
                    "`clipnorm` must be a number", "clipnorm as a string"),
    construct_error("keras.sgd-global_clipnorm_list", _SGD, dict(global_clipnorm=[1.0]), SpecTypeError,
                    "`global_clipnorm` must be a number", "global_clipnorm as a list"),
    construct_error("keras.sgd-loss_scale_factor_zero", _SGD, dict(loss_scale_factor=0.0), SpecValueError,
                    "`loss_scale_factor` must be a number > 0 or None.", "a zero loss scale factor"),
    construct_error("keras.sgd-weight_decay_str", _SGD, dict(weight_decay="0.01"), SpecTypeError,
                    "`weight_decay` must be a number", "weight decay as a string"),
    construct_error("keras.sgd-weight_decay_schedule", _SGD,
                    dict(weight_decay={"schedule": "keras.optimizers.schedules.ExponentialDecay",
                                       "initial_learning_rate": 0.01, "decay_steps": 2, "decay_rate": 0.5}),
                    SpecTypeError, "Keras has no dynamic weight decay", "a schedule config as weight decay"),
    construct_error("keras.sgd-exclude_bad_regex", _SGD, dict(exclude_from_weight_decay=["bias("]), SpecValueError,
                    "`var_names[0]` is not a valid regular expression", "an invalid exclusion pattern"),
    construct_error("keras.sgd-momentum_int", _SGD, dict(momentum=0), SpecValueError,
                    "`momentum` must be a float between [0, 1].", "an int momentum (Keras requires a float)"),
    construct_error("keras.sgd-momentum_range", _SGD, dict(momentum=1.5), SpecValueError,
                    "`momentum` must be a float between [0, 1].", "momentum above 1"),
    construct_error("keras.sgd-nesterov_str", _SGD, dict(nesterov="yes"), SpecTypeError,
                    "`nesterov` must be a bool", "nesterov as a string"),
    ErrorInput("keras.sgd-params_empty", "an empty parameter list", _SGD, "construct", dict(params=[]),
               SpecValueError, "`params` must not be an empty list"),
    ErrorInput("keras.sgd-group_no_params", "a group dict without 'params'", _SGD, "construct",
               dict(params=[{"learning_rate": 0.1}]), SpecKeyError, "groups[0]: the group dict has no 'params' key"),
    ErrorInput("keras.sgd-group_bad_key", "a torch-style 'lr' group key", _SGD, "construct",
               dict(params=[{"params": _W, "lr": 0.1}]), SpecKeyError, "unknown key(s) ['lr']"),
    ErrorInput("keras.sgd-group_momentum_range", "a group with momentum above 1", _SGD, "construct",
               dict(params=[{"params": _W}, {"params": "*", "momentum": 2.0}]), SpecValueError,
               "groups[1] ('*'): `momentum` must be a float between [0, 1]."),
    ErrorInput("keras.sgd-group_lr_int", "a group with an int learning rate", _SGD, "construct",
               dict(params=[{"params": _W, "learning_rate": 1}]), SpecValueError,
               "Argument `learning_rate` should be float"),
    ErrorInput("keras.sgd-params_bad_selector", "a selector dict with an unknown key", _SGD, "construct",
               dict(params={"name": "fc"}), GroupError, "a selector dict takes the keys"),
    # keras.optimizers.Adam / AdamW
    construct_error("keras.adam-lr_int", _ADAM, dict(learning_rate=0), SpecValueError,
                    "Argument `learning_rate` should be float", "an int learning rate"),
    construct_error("keras.adam-beta_1_str", _ADAM, dict(beta_1="0.9"), SpecTypeError,
                    "`beta_1` must be a number", "beta_1 as a string"),
    construct_error("keras.adam-amsgrad_int", _ADAM, dict(amsgrad=1), SpecTypeError,
                    "`amsgrad` must be a bool", "amsgrad as an int"),
    ErrorInput("keras.adam-group_epsilon_str", "a group with a string epsilon", _ADAM, "construct",
               dict(params=[{"params": _W, "epsilon": "1e-7"}, {"params": "*"}]), SpecTypeError,
               "groups[0] (['conv1.weight', 'fc.weight']): `epsilon` must be a number"),
    construct_error("keras.adamw-weight_decay_none", _ADAMW, dict(weight_decay=None), SpecValueError,
                    "Argument `weight_decay` must be a float. Received: weight_decay=None", "no weight decay"),
    construct_error("keras.adamw-lr_int", _ADAMW, dict(learning_rate=1), SpecValueError,
                    "Argument `learning_rate` should be float", "an int learning rate"),
    # keras.optimizers.RMSprop
    construct_error("keras.rmsprop-lr_int", _RMSPROP, dict(learning_rate=0), SpecValueError,
                    "Argument `learning_rate` should be float", "an int learning rate"),
    construct_error("keras.rmsprop-rho_none", _RMSPROP, dict(rho=None), SpecTypeError,
                    "`rho` must be a number", "rho as None"),
    construct_error("keras.rmsprop-centered_str", _RMSPROP, dict(centered="no"), SpecTypeError,
                    "`centered` must be a bool", "centered as a string"),
    # keras.optimizers.Adagrad
    construct_error("keras.adagrad-lr_int", _ADAGRAD, dict(learning_rate=1), SpecValueError,
                    "Argument `learning_rate` should be float", "an int learning rate"),
    construct_error("keras.adagrad-accumulator_str", _ADAGRAD, dict(initial_accumulator_value="0.1"),
                    SpecTypeError, "`initial_accumulator_value` must be a number", "accumulator as a string"),
    # keras.optimizers.Adadelta
    construct_error("keras.adadelta-lr_int", _ADADELTA, dict(learning_rate=1), SpecValueError,
                    "Argument `learning_rate` should be float", "an int learning rate"),
    construct_error("keras.adadelta-epsilon_list", _ADADELTA, dict(epsilon=[1e-7]), SpecTypeError,
                    "`epsilon` must be a number", "epsilon as a list"),
    construct_error("keras.adadelta-kwargs_unknown", _ADADELTA, dict(rho_=0.9), SpecValueError,
                    "Argument(s) not recognized: {'rho_': 0.9}", "a misspelt argument"),
)

# -- keras-2: Adamax, Nadam, Ftrl, Lion, Lamb -------------------------------------------------------
_ADAMAX = "keras.optimizers.Adamax"
_NADAM = "keras.optimizers.Nadam"
_FTRL = "keras.optimizers.Ftrl"
_LION = "keras.optimizers.Lion"
_LAMB = "keras.optimizers.Lamb"

_PART2_CASES: dict[str, DialectCases] = {
    _ADAMAX: keras_cases(
        _ADAMAX, 0.01, 1e-2,
        ("default", {}),
        ("small_beta2", {"beta_1": 0.8, "beta_2": 0.5, "epsilon": 1e-3}),
        ("exclude", {"beta_2": 0.9, "exclude_from_weight_decay": ["bias", "beta", "gamma"]}),
    ),
    _NADAM: keras_cases(
        _NADAM, 0.01, 1e-2,
        ("default", {}),
        ("betas_eps", {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5}),
        ("exclude", {"beta_1": 0.95, "exclude_from_weight_decay": ["bias"]}),
    ),
    _FTRL: keras_cases(
        _FTRL, 0.1, 1e-2,
        ("default", {}),
        ("l1_l2", {"l1_regularization_strength": 0.01, "l2_regularization_strength": 0.05}),
        ("power_shrinkage", {"learning_rate_power": -0.3, "initial_accumulator_value": 0.5,
                             "l2_shrinkage_regularization_strength": 0.03}),
        ("beta_fixed_rate", {"learning_rate_power": 0.0, "beta": 0.5, "l2_regularization_strength": 0.01}),
        ("zero_accumulator", {"initial_accumulator_value": 0.0, "l1_regularization_strength": 0.001,
                              "exclude_from_weight_decay": ["beta", "gamma"]}),
    ),
    _LION: keras_cases(
        _LION, 0.002, 5e-2,
        ("default", {}),
        ("betas", {"beta_1": 0.95, "beta_2": 0.98}),
        ("beta1_one", {"beta_1": 1.0, "beta_2": 0.9, "exclude_from_weight_decay": ["bias"]}),
    ),
    _LAMB: keras_cases(
        _LAMB, 0.01, 1e-2,
        ("default", {}),
        ("betas_eps", {"beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-6}),
        ("exclude", {"exclude_from_weight_decay": ["bias", "beta", "gamma"]}),
    ),
}

_PART2_ERRORS: tuple[ErrorInput, ...] = (
    # keras.optimizers.Adamax (Keras validates none of its own arguments)
    construct_error("keras.adamax-beta_1_str", _ADAMAX, dict(beta_1="0.9"), SpecTypeError,
                    "`beta_1` must be a number", "beta_1 as a string (Keras fails in the first update)"),
    construct_error("keras.adamax-lr_int", _ADAMAX, dict(learning_rate=1), SpecValueError,
                    "Argument `learning_rate` should be float", "an int learning rate"),
    # keras.optimizers.Nadam
    construct_error("keras.nadam-epsilon_none", _NADAM, dict(epsilon=None), SpecTypeError,
                    "`epsilon` must be a number", "epsilon None (Keras fails in the first update)"),
    construct_error("keras.nadam-beta_2_callable", _NADAM, dict(beta_2=lambda: 0.99), SpecTypeError,
                    "`beta_2` must be a number", "a callable beta_2 (configs run no code)"),
    ErrorInput("keras.nadam-group_beta_1_str", "a group with beta_1 as a string", _NADAM, "construct",
               dict(params=[{"params": _W, "beta_1": "0.9"}]), SpecTypeError,
               "groups[0] (['conv1.weight', 'fc.weight']): `beta_1` must be a number"),
    # keras.optimizers.Ftrl (Keras's own checks, in its order)
    construct_error("keras.ftrl-initial_accumulator_negative", _FTRL, dict(initial_accumulator_value=-0.1),
                    SpecValueError, "`initial_accumulator_value` needs to be positive or zero. "
                    "Received: initial_accumulator_value=-0.1.", "negative initial accumulator"),
    construct_error("keras.ftrl-learning_rate_power_positive", _FTRL, dict(learning_rate_power=0.5), SpecValueError,
                    "`learning_rate_power` needs to be negative or zero. Received: learning_rate_power=0.5.",
                    "positive learning_rate_power"),
    construct_error("keras.ftrl-l1_negative", _FTRL, dict(l1_regularization_strength=-0.01), SpecValueError,
                    "`l1_regularization_strength` needs to be positive or zero. "
                    "Received: l1_regularization_strength=-0.01.", "negative l1 strength"),
    construct_error("keras.ftrl-l2_negative", _FTRL, dict(l2_regularization_strength=-0.01), SpecValueError,
                    "`l2_regularization_strength` needs to be positive or zero. "
                    "Received: l2_regularization_strength=-0.01.", "negative l2 strength"),
    construct_error("keras.ftrl-l2_shrinkage_negative", _FTRL, dict(l2_shrinkage_regularization_strength=-0.5),
                    SpecValueError, "`l2_shrinkage_regularization_strength` needs to be positive or zero. "
                    "Received: l2_shrinkage_regularization_strength=-0.5.", "negative l2 shrinkage strength"),
    construct_error("keras.ftrl-check_order", _FTRL,
                    dict(learning_rate_power=0.5, l1_regularization_strength=-1.0, initial_accumulator_value=-1.0),
                    SpecValueError, "`initial_accumulator_value` needs to be positive or zero.",
                    "several bad values: Keras reports the initial accumulator first"),
    construct_error("keras.ftrl-lr_before_own_checks", _FTRL, dict(learning_rate=1, learning_rate_power=0.5),
                    SpecValueError, "Argument `learning_rate` should be float",
                    "an int learning rate and a bad power: the base optimizer's check comes first"),
    construct_error("keras.ftrl-beta_str", _FTRL, dict(beta="0.5"), SpecTypeError, "`beta` must be a number",
                    "beta as a string (Keras fails in the first update)"),
    ErrorInput("keras.ftrl-group_l1_negative", "a group with a negative l1 strength", _FTRL, "construct",
               dict(params=[{"params": _W}, {"params": "*", "l1_regularization_strength": -0.1}]), SpecValueError,
               "groups[1] ('*'): `l1_regularization_strength` needs to be positive or zero."),
    # keras.optimizers.Lion
    construct_error("keras.lion-beta_1_zero", _LION, dict(beta_1=0.0), SpecValueError,
                    "Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates to "
                    "SignSGD. Received: beta_1=0.0.", "beta_1 = 0 (Keras refuses 0 despite its message)"),
    construct_error("keras.lion-beta_1_above_one", _LION, dict(beta_1=1.5), SpecValueError,
                    "Argument `beta_1` must be in the [0, 1] range.", "beta_1 above 1"),
    construct_error("keras.lion-clip_before_beta_1", _LION, dict(beta_1=-1.0, clipnorm=1.0, clipvalue=1.0),
                    SpecValueError, "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set.",
                    "two clipping arguments and a bad beta_1: the base optimizer's check comes first"),
    construct_error("keras.lion-beta_2_str", _LION, dict(beta_2="0.99"), SpecTypeError, "`beta_2` must be a number",
                    "beta_2 as a string (Keras fails in the first update)"),
    ErrorInput("keras.lion-group_beta_1_negative", "a group with a negative beta_1", _LION, "construct",
               dict(params=[{"params": _W, "beta_1": -0.5}]), SpecValueError,
               "groups[0] (['conv1.weight', 'fc.weight']): Argument `beta_1` must be in the [0, 1] range."),
    # keras.optimizers.Lamb
    construct_error("keras.lamb-epsilon_str", _LAMB, dict(epsilon="1e-7"), SpecTypeError,
                    "`epsilon` must be a number", "epsilon as a string (Keras fails in the first update)"),
    construct_error("keras.lamb-kwargs_unknown", _LAMB, dict(eps=1e-6), SpecValueError,
                    "Argument(s) not recognized: {'eps': 1e-06}", "torch's/MindSpore's eps keyword"),
    ErrorInput("keras.lamb-group_bad_key", "a MindSpore-style 'eps' group key", _LAMB, "construct",
               dict(params=[{"params": _W, "eps": 1e-6}]), SpecKeyError, "unknown key(s) ['eps']"),
)

#: Hyperparameter sets of every Keras-dialect class.
# -- Muon (Keras's AdamW partition: the ``guide`` layout's convolutions and norms, the
# ``block`` layout's embedding; ``weight_decay=None`` with a nonzero ``adam_weight_decay``
# is refused, so ``default`` (the class defaults otherwise, as the dialect table builds it
# without weight decay) and ``plain`` set ``adam_weight_decay=None``) ---------------------------
_MUON = "keras.optimizers.Muon"

_MUON_CASES: dict[str, DialectCases] = {
    _MUON: dataclasses.replace(
        keras_cases(
            _MUON, 0.01, 1e-2,
            ("default", {"adam_weight_decay": None}),
            ("plain", {"nesterov": False, "momentum": 0.9, "ns_steps": 3, "rms_rate": None,
                       "adam_weight_decay": None, "exclude_embeddings": False}),
            ("adam", {"adam_beta_1": 0.8, "adam_beta_2": 0.99, "epsilon": 1e-5, "adam_lr_ratio": 0.5,
                      "adam_weight_decay": 0.05, "exclude_layers": ["fc", "fc2"], "muon_b": -4.7}),
        ),
        group_forms=("none", "two", "matrix"), wd_forms=("const", "off"),
        valid=lambda label, groups, lr, wd: wd != "off" or label != "adam",
    ),
}

_MUON_ERRORS: tuple[ErrorInput, ...] = (
    construct_error("keras.muon-ns_steps_float", _MUON, dict(ns_steps=2.5), SpecTypeError,
                    "`ns_steps` must be a non-negative int", "ns_steps not an int"),
    construct_error("keras.muon-exclude_layers_regex", _MUON, dict(exclude_layers=["("]), SpecValueError,
                    "is not a valid regular expression", "an exclude_layers entry that does not compile"),
    construct_error("keras.muon-nesterov_str", _MUON, dict(nesterov="yes"), SpecTypeError,
                    "`nesterov` must be a bool", "nesterov not a bool"),
    construct_error("keras.muon-adam_weight_decay_without_weight_decay", _MUON, dict(weight_decay=None),
                    NotImplementedError, "decays its AdamW variables by adam_weight_decay",
                    "weight_decay None with the default adam_weight_decay (Keras still decays the AdamW variables)"),
)

# -- Adafactor (factored statistics on the 2-D and 4-D parameters; ``relative_step`` changes
# nothing in Keras: ``relative_off`` differs from ``default`` only by its epsilon_1) ---------------
_ADAFACTOR = "keras.optimizers.Adafactor"

_ADAFACTOR_CASES: dict[str, DialectCases] = {
    _ADAFACTOR: keras_cases(
        _ADAFACTOR, 0.01, 1e-2,
        ("default", {}),
        ("decay_clip", {"beta_2_decay": -0.5, "epsilon_2": 1e-2, "clip_threshold": 0.5,
                        "exclude_from_weight_decay": ["bias"]}),
        ("relative_off", {"relative_step": False, "epsilon_1": 1e-20}),
    ),
}

_ADAFACTOR_ERRORS: tuple[ErrorInput, ...] = (
    construct_error("keras.adafactor-epsilon_1_str", _ADAFACTOR, dict(epsilon_1="1e-30"), SpecTypeError,
                    "`epsilon_1` must be a number", "epsilon_1 as a string (Keras fails in the first update)"),
    construct_error("keras.adafactor-relative_step_str", _ADAFACTOR, dict(relative_step="yes"), SpecTypeError,
                    "`relative_step` must be a bool", "relative_step not a bool"),
    construct_error("keras.adafactor-kwargs_unknown", _ADAFACTOR, dict(beta1=0.9), SpecValueError,
                    "Argument(s) not recognized: {'beta1': 0.9}", "torch's/MindSpore's beta1 keyword"),
)

# -- MultiOptimizer (a different algorithm per group in one spec; ``guide`` layout): each set is
# a recipe of inner optimizers (``_MULTI_RECIPES``); the case's learning rate and weight decay
# go to the default optimizer, the map's optimizers keep their own. ``three`` has a key no
# variable matches (its group is left out), ``exact`` a key equal to a path that another key
# also matches (the exact key wins) ---------------------------------------------------------
_MULTI = "keras.optimizers.MultiOptimizer"


def _multi_recipe(name: str, default: Any) -> Any:
    from ...dialects.keras import optimizers as ko

    entries: dict[str, Any]
    if name == "adam_sgd":
        entries = {r".*\.(bias|beta)": ko.SGD(learning_rate=0.05, momentum=0.9)}
    elif name == "three":
        entries = {r"layer\d\.0\.weight": ko.Adam(learning_rate=0.01, amsgrad=True),
                   r"fc\..*": ko.SGD(learning_rate=0.05, momentum=0.8, nesterov=True, weight_decay=0.01,
                                     exclude_from_weight_decay=["bias"]),
                   r".*\.1\..*": ko.Adagrad(learning_rate=0.05),
                   "decoder/.*": ko.Lion()}
    else:
        entries = {"fc.weight": ko.Adamax(learning_rate=0.01), ".*weight": ko.Nadam(learning_rate=0.005)}
    return ko.MultiOptimizer(ko.OptimizerMap(default, entries))


def _multi_construct(params: Any, arguments: Mapping[str, Any], hyperparameters: Mapping[str, Any]) -> Any:
    """A ``MultiOptimizer`` of the set's recipe around a default optimizer with the case's
    learning rate and weight decay (``Adam``, or the set's ``default``)."""
    hyper = dict(hyperparameters)
    recipe = hyper.pop("map")
    default_cls = {"Adam": _ADAM, "RMSprop": _RMSPROP, "SGD": _SGD}[hyper.pop("default", "Adam")]
    default = _keras_construct(default_cls, 0.01)(params, arguments, hyper)
    return _multi_recipe(recipe, default)


_MULTI_CASES: dict[str, DialectCases] = {
    _MULTI: DialectCases(
        lr=0.01, weight_decay=1e-2,
        hyperparameters=(("adam_sgd", {"map": "adam_sgd"}),
                         ("three", {"map": "three", "default": "RMSprop", "centered": True}),
                         ("exact", {"map": "exact", "default": "SGD", "momentum": 0.9})),
        lr_keyword="learning_rate", group_forms=("none",), wd_forms=KERAS_WD_FORMS, construct=_multi_construct,
    ),
}

_MULTI_ERRORS: tuple[ErrorInput, ...] = (
    ErrorInput("keras.multi-map_not_optimizer_map", "a plain dict of optimizers as optimizer_map", _MULTI,
               "construct", dict(optimizer_map={".*": {"format_version": 1, "optimizer": _SGD}}), ConfigError,
               "must be a mapping with the keys 'default_optimizer' and 'optimizer_map'"),
    ErrorInput("keras.multi-loss_scale_factor", "a loss_scale_factor that is not > 0", _MULTI, "construct",
               dict(optimizer_map={"default_optimizer": {"format_version": 1, "optimizer": _SGD}},
                    loss_scale_factor=0.0), SpecValueError, "`loss_scale_factor` must be a number > 0 or None"),
    ErrorInput("keras.multi-bad_regex", "a key that is not a regular expression", _MULTI, "construct",
               dict(optimizer_map={"default_optimizer": {"format_version": 1, "optimizer": _SGD},
                                   "optimizer_map": {"(": {"format_version": 1, "optimizer": _ADAM}}}),
               SpecValueError, "optimizer_map['(']: the key is not a valid regular expression"),
    ErrorInput("keras.multi-inner_clipnorm", "an inner optimizer that clips", _MULTI, "construct",
               dict(optimizer_map={"default_optimizer": {"format_version": 1, "optimizer": _SGD, "clipnorm": 1.0}}),
               SpecValueError, "default_optimizer: keras.optimizers.SGD clips or transforms its gradients"),
    ErrorInput("keras.multi-two_keys_match", "a variable path two keys match in full", _MULTI, "build",
               dict(optimizer_map={"default_optimizer": {"format_version": 1, "optimizer": _SGD},
                                   "optimizer_map": {".*weight": {"format_version": 1, "optimizer": _ADAM},
                                                     "fc.*": {"format_version": 1, "optimizer": _SGD}}}),
               DuplicateParameterError, "is already in groups[0] ({'regex': '.*weight'})"),
)

# -- LossScaleOptimizer (a dynamic loss scale first in the inner optimizer's pipeline; the
# streams have no non-finite gradient, so the scale grows every ``dynamic_growth_steps``) -----
_LOSS_SCALE = "keras.optimizers.LossScaleOptimizer"


def _loss_scale_construct(params: Any, arguments: Mapping[str, Any], hyperparameters: Mapping[str, Any]) -> Any:
    """A ``LossScaleOptimizer`` around the set's ``inner`` class built with the case's values."""
    from ...dialects.keras import optimizers as ko

    hyper = dict(hyperparameters)
    wrapper = {k: hyper.pop(k) for k in ("initial_scale", "dynamic_growth_steps") if k in hyper}
    inner_cls = {"Adam": _ADAM, "SGD": _SGD}[hyper.pop("inner")]
    return ko.LossScaleOptimizer(_keras_construct(inner_cls, 0.01)(params, arguments, hyper), **wrapper)


_LOSS_SCALE_CASES: dict[str, DialectCases] = {
    _LOSS_SCALE: DialectCases(
        lr=0.01, weight_decay=1e-2,
        hyperparameters=(("adam", {"inner": "Adam", "initial_scale": 16.0, "dynamic_growth_steps": 3}),
                         ("sgd_pipeline", {"inner": "SGD", "momentum": 0.9, "initial_scale": 2.0 ** 15,
                                           "dynamic_growth_steps": 2, "gradient_accumulation_steps": 2,
                                           "use_ema": True, "ema_overwrite_frequency": 3})),
        lr_keyword="learning_rate", group_forms=KERAS_GROUP_FORMS, wd_forms=KERAS_WD_FORMS,
        construct=_loss_scale_construct,
    ),
}

_LOSS_SCALE_ERRORS: tuple[ErrorInput, ...] = (
    ErrorInput("keras.loss_scale-not_dynamic", "dynamic=False", _LOSS_SCALE, "construct",
               dict(inner_optimizer={"format_version": 1, "optimizer": _SGD}, dynamic=False), SpecValueError,
               "LossScaleOptimizer no longer supports `dynamic=False`."),
    ErrorInput("keras.loss_scale-base_argument", "a base optimizer argument on the wrapper", _LOSS_SCALE,
               "construct", dict(inner_optimizer={"format_version": 1, "optimizer": _SGD}, clipnorm=1.0),
               SpecValueError, "LossScaleOptimizer does not support `clipnorm`."),
    ErrorInput("keras.loss_scale-unknown_argument", "an argument Keras does not take", _LOSS_SCALE, "construct",
               dict(inner_optimizer={"format_version": 1, "optimizer": _SGD}, momentum=0.9), SpecValueError,
               "LossScaleOptimizer does not support arguments: `momentum`."),
    ErrorInput("keras.loss_scale-growth_steps_zero", "dynamic_growth_steps of 0", _LOSS_SCALE, "construct",
               dict(inner_optimizer={"format_version": 1, "optimizer": _SGD}, dynamic_growth_steps=0),
               SpecValueError, "`dynamic_growth_steps` must be an integer >= 1"),
)

DIALECT_CASES: dict[str, DialectCases] = {
    **_PART1_CASES,
    **_PART2_CASES,
    **_MUON_CASES,
    **_ADAFACTOR_CASES,
    **_MULTI_CASES,
    **_LOSS_SCALE_CASES,
}

#: The ``construct`` records of every Keras-dialect class.
CONSTRUCT_ERRORS: tuple[ErrorInput, ...] = (
    *_PART1_ERRORS,
    *_PART2_ERRORS,
    *_MUON_ERRORS,
    *_ADAFACTOR_ERRORS,
    *_MULTI_ERRORS,
    *_LOSS_SCALE_ERRORS,
)
