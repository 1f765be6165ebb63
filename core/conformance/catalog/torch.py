"""Conformance catalog of the torch dialect (:mod:`optbridge.dialects.torch.optim`).

The message fragments of the ``construct`` records are torch 2.13's own words where torch
raises the same error (``tests/test_torch_optim_live_sgd_adam.py`` checks them against
torch itself); records about optbridge's extensions (selectors, per-step lr lists, group
keys and group values that torch does not validate) carry optbridge's messages.

Axes: torch has no ``order_params``/``grad_centralization`` (group forms ``none`` and
``two``) and no dynamic weight decay (``wd`` forms ``off`` and ``const``); a per-step
list and a schedule as ``lr`` are optbridge extensions and run as ``lr`` forms.

Engineers adding torch classes append their entries in their own block below.
"""
from __future__ import annotations

from ...errors import GroupError, SelectorTypeError, SpecKeyError, SpecTypeError, SpecValueError
from .base import CONSTRUCT_PARAMS, DialectCases, ErrorInput, construct_error

__all__ = ["DIALECT_CASES", "CONSTRUCT_ERRORS", "TORCH_GROUP_FORMS", "TORCH_WD_FORMS"]

#: The ``groups`` axis values torch classes take.
TORCH_GROUP_FORMS = ("none", "two")
#: The ``wd`` axis values torch classes take (torch's weight decay is a number).
TORCH_WD_FORMS = ("off", "const")
_W = list(CONSTRUCT_PARAMS)


def torch_cases(lr: float, weight_decay: float, *hyperparameters) -> DialectCases:
    """A torch class's :class:`DialectCases`: ``lr`` keyword and torch's axis forms."""
    return DialectCases(lr=lr, weight_decay=weight_decay, hyperparameters=tuple(hyperparameters), lr_keyword="lr",
                        group_forms=TORCH_GROUP_FORMS, wd_forms=TORCH_WD_FORMS)


# -- sgd-adam (H2a): SGD, Adam, AdamW, ASGD, NAdam, RAdam ------------------------------------
_SGD = "torch.optim.SGD"

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
    construct_error("torch.sgd-weight_decay_schedule", _SGD,
                    dict(weight_decay={"schedule": "mindspore.nn.WarmUpLR", "learning_rate": 0.01,
                                       "warmup_steps": 2}),
                    SpecTypeError, "dynamic weight decay (a schedule) is not supported", "a schedule as weight decay"),
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
)

#: Hyperparameter sets of every torch-dialect class.
DIALECT_CASES: dict[str, DialectCases] = {
    **_SGD_ADAM_CASES,
}

#: The ``construct`` records of every torch-dialect class.
CONSTRUCT_ERRORS: tuple[ErrorInput, ...] = (
    *_SGD_ADAM_ERRORS,
)
