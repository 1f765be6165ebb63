"""Conformance catalog of the torch dialect (:mod:`optbridge.dialects.torch.optim`).

The message fragments of the ``construct`` records are torch 2.13's own words where torch
raises the same error (``tests/test_torch_optim_live_sgd_adam.py`` checks them against
torch itself); records about optbridge's extensions (selectors, per-step lr lists, group
keys and group values that torch does not validate) carry optbridge's messages.

Axes: torch has no ``order_params``/``grad_centralization`` (group forms ``none`` and
``two``); a per-step list and a schedule as ``lr``, and a schedule as ``weight_decay``
(``wd`` form ``schedule``), are optbridge extensions of the torch dialect and run as
axis forms like the MindSpore dialect's (``Rprop`` has no weight decay: ``off`` only).

Engineers adding torch classes append their entries in their own block below.
"""
from __future__ import annotations

from ...errors import GroupError, SelectorTypeError, SpecKeyError, SpecTypeError, SpecValueError
from .base import CONSTRUCT_PARAMS, DialectCases, ErrorInput, construct_error

__all__ = ["DIALECT_CASES", "CONSTRUCT_ERRORS", "TORCH_GROUP_FORMS", "TORCH_WD_FORMS"]

#: The ``groups`` axis values torch classes take.
TORCH_GROUP_FORMS = ("none", "two")
#: The ``wd`` axis values torch classes take (a schedule as weight decay is an optbridge extension).
TORCH_WD_FORMS = ("off", "const", "schedule")
_W = list(CONSTRUCT_PARAMS)


def torch_cases(lr: float, weight_decay: float, *hyperparameters) -> DialectCases:
    """A torch class's :class:`DialectCases`: ``lr`` keyword and torch's axis forms."""
    return DialectCases(lr=lr, weight_decay=weight_decay, hyperparameters=tuple(hyperparameters), lr_keyword="lr",
                        group_forms=TORCH_GROUP_FORMS, wd_forms=TORCH_WD_FORMS)


# -- sgd-adam (H2a): SGD, Adam, AdamW, ASGD, NAdam, RAdam ------------------------------------
_SGD = "torch.optim.SGD"
_ADAM = "torch.optim.Adam"
_ADAMW = "torch.optim.AdamW"
_ASGD = "torch.optim.ASGD"
_NADAM = "torch.optim.NAdam"
_RADAM = "torch.optim.RAdam"

_SGD_ADAM_CASES: dict[str, DialectCases] = {
    _SGD: torch_cases(
        0.05, 1e-2,
        ("default", {}),
        ("momentum", {"momentum": 0.9}),
        ("dampening", {"momentum": 0.9, "dampening": 0.3}),
        ("nesterov", {"momentum": 0.9, "nesterov": True}),
        ("maximize", {"momentum": 0.8, "maximize": True}),
        ("differentiable", {"momentum": 0.9, "differentiable": True, "foreach": True}),
        ("fused", {"momentum": 0.9, "fused": True}),
        ("clip_grad_norm", {"momentum": 0.9, "transforms": [{"transform": "clip_by_global_norm", "max_norm": 0.5}]}),
        ("clip_grad_value", {"momentum": 0.9, "transforms": [{"transform": "clip_by_value", "clip_value": 0.5}]}),
        # GradScaler (loss_scale), clip_grad_norm_ and AveragedModel(get_ema_multi_avg_fn) as data
        ("grad_scaler_ema", {"momentum": 0.9, "transforms": [
            {"transform": "loss_scale", "form": "torch", "initial_scale": 16.0, "growth_interval": 3},
            {"transform": "clip_by_global_norm", "max_norm": 0.5},
            {"transform": "ema", "momentum": 0.9, "form": "torch"}]}),
    ),
    _ADAM: torch_cases(
        0.01, 1e-2,
        ("default", {}),
        ("amsgrad", {"amsgrad": True}),
        ("decoupled", {"decoupled_weight_decay": True, "betas": (0.8, 0.95)}),
        ("maximize", {"maximize": True, "eps": 1e-6}),
        ("small_beta1", {"betas": (0.3, 0.9)}),
        ("capturable_differentiable", {"capturable": True, "differentiable": True}),
        ("fused", {"fused": True, "amsgrad": True}),
    ),
    _ADAMW: torch_cases(
        0.01, 5e-2,
        ("default", {}),
        ("amsgrad", {"amsgrad": True, "betas": (0.85, 0.99)}),
        ("maximize", {"maximize": True}),
        ("capturable_differentiable", {"capturable": True, "differentiable": True, "foreach": True}),
        ("clip_grad_norm_inf", {"transforms": [{"transform": "clip_by_global_norm", "max_norm": 0.5,
                                                "norm_type": "inf"}]}),
    ),
    _ASGD: torch_cases(
        0.05, 1e-2,
        ("default", {}),
        ("averaging", {"t0": 3.0}),
        ("strong_decay", {"lambd": 0.05, "alpha": 0.5, "t0": 2.0}),
        ("maximize", {"maximize": True, "t0": 0.0}),
        ("capturable_differentiable", {"capturable": True, "differentiable": True}),
    ),
    _NADAM: torch_cases(
        0.01, 1e-2,
        ("default", {}),
        ("momentum_decay", {"momentum_decay": 0.05, "betas": (0.8, 0.99)}),
        ("decoupled", {"decoupled_weight_decay": True}),
        ("maximize", {"maximize": True}),
        ("capturable_differentiable", {"capturable": True, "differentiable": True}),
    ),
    _RADAM: torch_cases(
        0.01, 1e-2,
        ("default", {}),
        ("early_rectification", {"betas": (0.9, 0.9)}),
        ("decoupled", {"decoupled_weight_decay": True, "betas": (0.5, 0.8)}),
        ("maximize", {"maximize": True}),
        ("capturable_differentiable", {"capturable": True, "differentiable": True}),
    ),
}

_SGD_ADAM_ERRORS: tuple[ErrorInput, ...] = (
    # torch.optim.Optimizer (shared by every class; recorded on SGD)
    construct_error("torch.sgd-lr_negative", _SGD, dict(lr=-0.1), SpecValueError,
                    "Invalid learning rate: -0.1", "negative learning rate"),
    construct_error("torch.sgd-lr_str", _SGD, dict(lr="0.1"), SpecTypeError,
                    "'lr' must be a number, a per-step list of numbers or a Schedule",
                    "learning rate as a string (torch: a comparison TypeError)"),
    construct_error("torch.sgd-lr_list_negative", _SGD, dict(lr=[0.1, -0.1]), SpecValueError,
                    "Invalid learning rate: -0.1 (lr[1])", "a per-step lr list with a negative entry"),
    construct_error("torch.sgd-momentum_negative", _SGD, dict(momentum=-0.5), SpecValueError,
                    "Invalid momentum value: -0.5", "negative momentum"),
    construct_error("torch.sgd-weight_decay_negative", _SGD, dict(weight_decay=-1e-3), SpecValueError,
                    "Invalid weight_decay value: -0.001", "negative weight decay"),
    construct_error("torch.sgd-weight_decay_list_negative", _SGD, dict(weight_decay=[1e-2, -1e-2]), SpecValueError,
                    "Invalid weight_decay value: -0.01 (weight_decay[1])",
                    "a per-step weight-decay list with a negative entry"),
    construct_error("torch.sgd-weight_decay_str", _SGD, dict(weight_decay="1e-2"), SpecTypeError,
                    "'weight_decay' must be a number, a per-step list of numbers or a Schedule",
                    "weight decay as a string (torch: a comparison TypeError)"),
    construct_error("torch.sgd-nesterov_no_momentum", _SGD, dict(nesterov=True), SpecValueError,
                    "Nesterov momentum requires a momentum and zero dampening", "Nesterov without momentum"),
    construct_error("torch.sgd-nesterov_dampening", _SGD, dict(momentum=0.9, dampening=0.1, nesterov=True),
                    SpecValueError, "Nesterov momentum requires a momentum and zero dampening",
                    "Nesterov with dampening"),
    construct_error("torch.sgd-fused_foreach", _SGD, dict(fused=True, foreach=True), RuntimeError,
                    "`fused` and `foreach` cannot be `True` together.", "fused with foreach"),
    construct_error("torch.sgd-fused_differentiable", _SGD, dict(fused=True, differentiable=True), RuntimeError,
                    "`fused` does not support `differentiable`", "fused with differentiable"),
    ErrorInput("torch.sgd-params_empty", "empty parameter list", _SGD, "construct", dict(params=[]),
               SpecValueError, "optimizer got an empty parameter list"),
    ErrorInput("torch.sgd-group_not_dict", "a group list whose second entry is not a dict", _SGD, "construct",
               dict(params=[{"params": _W}, "fc.bias"]), SpecTypeError, "param_group must be a dict"),
    ErrorInput("torch.sgd-group_no_params", "a group dict without 'params'", _SGD, "construct",
               dict(params=[{"lr": 0.1}]), SpecKeyError, "groups[0]: the group dict has no 'params' key"),
    ErrorInput("torch.sgd-group_bad_key", "a group key that is not an SGD hyperparameter", _SGD, "construct",
               dict(params=[{"params": _W, "betas": (0.9, 0.99)}]), SpecKeyError, "unknown key(s) ['betas']"),
    ErrorInput("torch.sgd-group_momentum_negative", "a group with negative momentum", _SGD, "construct",
               dict(params=[{"params": _W}, {"params": "*", "momentum": -1.0}]), SpecValueError,
               "groups[1] ('*'): Invalid momentum value: -1.0"),
    ErrorInput("torch.sgd-group_params_bad_type", "a group whose parameter list holds a non-name", _SGD,
               "construct", dict(params=[{"params": ["fc.weight", 3]}]), SelectorTypeError,
               "entries of a parameter list must be names or globs"),
    ErrorInput("torch.sgd-group_params_set", "a group whose parameters are a set", _SGD, "construct",
               dict(params=[{"params": {"fc.weight"}}]), SpecTypeError,
               "optimizer parameters need to be organized in ordered collections"),
    ErrorInput("torch.sgd-params_bad_selector", "a selector dict with an unknown key", _SGD, "construct",
               dict(params={"name": "fc"}), GroupError, "a selector dict takes the keys"),
    # torch.optim.Adam / AdamW
    construct_error("torch.adam-lr_nan", _ADAM, dict(lr=float("nan")), SpecValueError,
                    "Invalid learning rate: nan", "NaN learning rate (Adam compares 'not 0.0 <= lr')"),
    construct_error("torch.adam-eps_negative", _ADAM, dict(eps=-1e-8), SpecValueError,
                    "Invalid epsilon value: -1e-08", "negative eps"),
    construct_error("torch.adam-beta1_one", _ADAM, dict(betas=(1.0, 0.999)), SpecValueError,
                    "Invalid beta parameter at index 0: 1.0", "beta1 outside [0, 1)"),
    construct_error("torch.adam-beta2_negative", _ADAM, dict(betas=(0.9, -0.1)), SpecValueError,
                    "Invalid beta parameter at index 1: -0.1", "beta2 outside [0, 1)"),
    construct_error("torch.adam-betas_int", _ADAM, dict(betas=(0, 0.999)), SpecValueError,
                    "betas must be either both floats or both Tensors", "an int beta"),
    construct_error("torch.adam-weight_decay_negative", _ADAM, dict(weight_decay=-0.1), SpecValueError,
                    "Invalid weight_decay value: -0.1", "negative weight decay"),
    construct_error("torch.adam-fused_differentiable", _ADAM, dict(fused=True, differentiable=True), RuntimeError,
                    "`fused` does not support `differentiable`", "fused with differentiable"),
    construct_error("torch.adam-betas_scalar", _ADAM, dict(betas=0.9), SpecTypeError,
                    "'betas' must be a pair (beta1, beta2)", "betas not a pair (torch: a TypeError on indexing)"),
    construct_error("torch.adamw-lr_negative", _ADAMW, dict(lr=-1.0), SpecValueError,
                    "Invalid learning rate: -1.0", "negative learning rate"),
    construct_error("torch.adamw-beta1_negative", _ADAMW, dict(betas=(-0.5, 0.999)), SpecValueError,
                    "Invalid beta parameter at index 0: -0.5", "beta1 outside [0, 1)"),
    construct_error("torch.adamw-fused_foreach", _ADAMW, dict(fused=True, foreach=True), RuntimeError,
                    "`fused` and `foreach` cannot be `True` together.", "fused with foreach"),
    construct_error("torch.adamw-decoupled_argument", _ADAMW, dict(decoupled_weight_decay=False), TypeError,
                    "unexpected keyword argument 'decoupled_weight_decay'",
                    "AdamW takes no decoupled_weight_decay argument"),
    # torch.optim.ASGD
    construct_error("torch.asgd-lr_negative", _ASGD, dict(lr=-0.01), SpecValueError,
                    "Invalid learning rate: -0.01", "negative learning rate"),
    construct_error("torch.asgd-weight_decay_negative", _ASGD, dict(weight_decay=-1), SpecValueError,
                    "Invalid weight_decay value: -1", "negative weight decay"),
    construct_error("torch.asgd-t0_str", _ASGD, dict(t0="1e6"), SpecTypeError,
                    "'t0' must be a number", "t0 as a string (torch fails only when stepping)"),
    # torch.optim.NAdam
    construct_error("torch.nadam-momentum_decay_negative", _NADAM, dict(momentum_decay=-0.004), SpecValueError,
                    "Invalid momentum_decay value: -0.004", "negative momentum_decay"),
    construct_error("torch.nadam-eps_negative", _NADAM, dict(eps=-1.0), SpecValueError,
                    "Invalid epsilon value: -1.0", "negative eps"),
    construct_error("torch.nadam-beta2_one", _NADAM, dict(betas=(0.9, 1.0)), SpecValueError,
                    "Invalid beta parameter at index 1: 1.0", "beta2 outside [0, 1)"),
    construct_error("torch.nadam-weight_decay_negative", _NADAM, dict(weight_decay=-0.5), SpecValueError,
                    "Invalid weight_decay value: -0.5", "negative weight decay"),
    # torch.optim.RAdam
    construct_error("torch.radam-lr_negative", _RADAM, dict(lr=-0.001), SpecValueError,
                    "Invalid learning rate: -0.001", "negative learning rate"),
    construct_error("torch.radam-beta1_one", _RADAM, dict(betas=(1.0, 0.999)), SpecValueError,
                    "Invalid beta parameter at index 0: 1.0", "beta1 outside [0, 1)"),
    construct_error("torch.radam-eps_negative", _RADAM, dict(eps=-1e-8), SpecValueError,
                    "Invalid epsilon value: -1e-08", "negative eps"),
)

# -- adaptive (H2b): RMSprop, Adagrad, Adadelta, Adamax, Rprop, Adafactor ----------------------
_RMSPROP = "torch.optim.RMSprop"
_ADAGRAD = "torch.optim.Adagrad"
_ADADELTA = "torch.optim.Adadelta"
_ADAMAX = "torch.optim.Adamax"
_RPROP = "torch.optim.Rprop"
_ADAFACTOR = "torch.optim.Adafactor"

_ADAPTIVE_CASES: dict[str, DialectCases] = {
    _RMSPROP: torch_cases(
        0.01, 1e-2,
        ("default", {}),
        ("momentum", {"momentum": 0.9, "eps": 1e-6, "foreach": True}),
        ("centered", {"centered": True, "momentum": 0.5, "alpha": 0.9}),
        ("centered_plain", {"centered": True, "maximize": True, "capturable": True}),
        ("differentiable", {"momentum": 0.8, "differentiable": True, "foreach": False}),
    ),
    _ADAGRAD: torch_cases(
        0.05, 1e-2,
        ("default", {}),
        ("lr_decay", {"lr_decay": 0.1, "initial_accumulator_value": 0.1, "eps": 1e-6}),
        ("maximize", {"maximize": True, "differentiable": True}),
        ("fused", {"fused": True}),
    ),
    _ADADELTA: torch_cases(
        1.0, 1e-2,
        ("default", {}),
        ("rho_eps", {"rho": 0.8, "eps": 1e-4, "capturable": True}),
        ("maximize", {"maximize": True, "differentiable": True}),
    ),
    _ADAMAX: torch_cases(
        0.01, 1e-2,
        ("default", {}),
        ("small_beta2", {"betas": (0.8, 0.5), "eps": 1e-3, "capturable": True}),
        ("maximize", {"maximize": True, "differentiable": True}),
    ),
    _RPROP: DialectCases(
        lr=0.01, weight_decay=0.0, lr_keyword="lr", group_forms=TORCH_GROUP_FORMS, wd_forms=("off",),
        hyperparameters=(
            ("default", {}),
            ("etas_steps", {"etas": (0.3, 1.5), "step_sizes": (1e-3, 0.02), "capturable": True}),
            ("maximize", {"maximize": True, "differentiable": True}),
        ),
        construct=lambda params, arguments, hyperparameters: _rprop(params, arguments, hyperparameters),
    ),
    _ADAFACTOR: torch_cases(
        0.01, 1e-2,
        ("default", {}),
        ("eps_d", {"eps": (1e-20, 1e-2), "d": 2.0, "beta2_decay": -0.5, "foreach": True}),
        ("maximize", {"maximize": True, "foreach": False}),
    ),
}


def _rprop(params, arguments, hyperparameters):
    """torch.optim.Rprop has no ``weight_decay``: the database's zero weight decay is dropped
    (from the arguments and from group dicts); any other weight decay is refused."""
    from ...dialects.torch.optim import Rprop

    decays = [arguments.get("weight_decay", 0.0)]
    if isinstance(params, list):
        decays += [g.get("weight_decay", 0.0) for g in params if isinstance(g, dict)]
        params = [{k: v for k, v in g.items() if k != "weight_decay"} if isinstance(g, dict) else g for g in params]
    if any(d != 0.0 for d in decays):
        raise TypeError("torch.optim.Rprop takes no weight_decay: neither weight decay nor dynamic weight decay "
                        "is supported")
    return Rprop(params, lr=arguments["lr"], **hyperparameters)

_ADAPTIVE_ERRORS: tuple[ErrorInput, ...] = (
    construct_error("torch.rmsprop-alpha_negative", _RMSPROP, dict(alpha=-0.9), SpecValueError,
                    "Invalid alpha value: -0.9", "negative alpha"),
    construct_error("torch.rmsprop-eps_negative", _RMSPROP, dict(eps=-1e-8), SpecValueError,
                    "Invalid epsilon value: -1e-08", "negative eps"),
    construct_error("torch.rmsprop-momentum_negative", _RMSPROP, dict(momentum=-0.1), SpecValueError,
                    "Invalid momentum value: -0.1", "negative momentum"),
    construct_error("torch.adagrad-lr_decay_negative", _ADAGRAD, dict(lr_decay=-0.1), SpecValueError,
                    "Invalid lr_decay value: -0.1", "negative lr_decay"),
    construct_error("torch.adagrad-initial_accumulator_negative", _ADAGRAD, dict(initial_accumulator_value=-1.0),
                    SpecValueError, "Invalid initial_accumulator_value value: -1.0", "negative initial accumulator"),
    construct_error("torch.adagrad-fused_foreach", _ADAGRAD, dict(fused=True, foreach=True), RuntimeError,
                    "`fused` and `foreach` cannot be `True` together.", "fused with foreach"),
    construct_error("torch.adadelta-rho_range", _ADADELTA, dict(rho=1.5), SpecValueError,
                    "Invalid rho value: 1.5", "rho outside [0, 1]"),
    construct_error("torch.adadelta-weight_decay_negative", _ADADELTA, dict(weight_decay=-0.1), SpecValueError,
                    "Invalid weight_decay value: -0.1", "negative weight decay"),
    construct_error("torch.adamax-beta1_one", _ADAMAX, dict(betas=(1.0, 0.999)), SpecValueError,
                    "Invalid beta parameter at index 0: 1.0", "beta1 outside [0, 1)"),
    construct_error("torch.adamax-eps_negative", _ADAMAX, dict(eps=-1e-8), SpecValueError,
                    "Invalid epsilon value: -1e-08", "negative eps"),
    construct_error("torch.rprop-etas_order", _RPROP, dict(etas=(1.2, 0.5)), SpecValueError,
                    "Invalid eta values: 1.2, 0.5", "etaminus above etaplus"),
    construct_error("torch.rprop-lr_negative", _RPROP, dict(lr=-0.01), SpecValueError,
                    "Invalid learning rate: -0.01", "negative learning rate"),
    construct_error("torch.adafactor-beta2_decay_positive", _ADAFACTOR, dict(beta2_decay=0.8), SpecValueError,
                    "beta2_decay should be <= 0 but is: 0.8", "positive beta2_decay"),
    construct_error("torch.adafactor-d_small", _ADAFACTOR, dict(d=0.5), SpecValueError,
                    "Clipping threshold d should be >= 1 but is: 0.5", "d below 1"),
    construct_error("torch.adafactor-eps1_negative", _ADAFACTOR, dict(eps=(-1.0, 1e-3)), SpecValueError,
                    "epsilon1 should be >= 0 but is: -1.0", "negative eps1"),
    construct_error("torch.adafactor-lr_negative", _ADAFACTOR, dict(lr=-0.01), SpecValueError,
                    "Learning rate should be >= 0 but is: -0.01", "negative learning rate"),
    construct_error("torch.rprop-etas_scalar", _RPROP, dict(etas=0.5), SpecTypeError,
                    "'etas' must be a pair", "etas not a pair (torch: a TypeError from indexing)"),
)

# -- orthogonalised updates: Muon (2-D parameters only: the ``block`` layout) --------------------
_MUON = "torch.optim.Muon"

_MUON_CASES: dict[str, DialectCases] = {
    _MUON: DialectCases(
        lr=0.02, weight_decay=0.1, lr_keyword="lr", group_forms=("matrix", "matrix_two"), wd_forms=TORCH_WD_FORMS,
        hyperparameters=(
            ("default", {}),
            ("plain", {"nesterov": False, "momentum": 0.9, "ns_steps": 3}),
            ("match_rms_adamw", {"adjust_lr_fn": "match_rms_adamw", "ns_coefficients": (3.0, -3.2, 1.2)}),
        ),
    ),
}

_MUON_ERRORS: tuple[ErrorInput, ...] = (
    construct_error("torch.muon-lr_negative", _MUON, dict(lr=-0.01), SpecValueError,
                    "Learning rate should be >= 0 but is: -0.01", "negative learning rate"),
    construct_error("torch.muon-momentum_negative", _MUON, dict(momentum=-0.1), SpecValueError,
                    "momentum should be >= 0 but is: -0.1", "negative momentum"),
    construct_error("torch.muon-weight_decay_negative", _MUON, dict(weight_decay=-0.1), SpecValueError,
                    "weight decay should be >= 0 but is: -0.1", "negative weight decay"),
    construct_error("torch.muon-adjust_lr_fn_unknown", _MUON, dict(adjust_lr_fn="sqrt"), SpecValueError,
                    "Adjust learning rate function sqrt is not supported", "unknown adjust_lr_fn"),
    construct_error("torch.muon-ns_steps_large", _MUON, dict(ns_steps=100), SpecValueError,
                    "Number of steps must be less than 100", "ns_steps of 100 (torch: at the first step)"),
    construct_error("torch.muon-ns_coefficients_two", _MUON, dict(ns_coefficients=(3.0, -4.0)), SpecValueError,
                    "Coefficients must be a tuple of exactly 3 values", "two coefficients (torch: at the first step)"),
    ErrorInput("torch.muon-bias", "a 1-D parameter (torch refuses it in the constructor)", _MUON, "build",
               {"params": None}, SpecValueError, "Muon only supports 2D parameters", layout="tiny"),
)

#: Hyperparameter sets of every torch-dialect class.
DIALECT_CASES: dict[str, DialectCases] = {
    **_SGD_ADAM_CASES,
    **_ADAPTIVE_CASES,
    **_MUON_CASES,
}

#: The ``construct`` records of every torch-dialect class.
CONSTRUCT_ERRORS: tuple[ErrorInput, ...] = (
    *_SGD_ADAM_ERRORS,
    *_ADAPTIVE_ERRORS,
    *_MUON_ERRORS,
)
