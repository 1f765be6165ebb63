"""Conformance catalog of the MindSpore dialect (:mod:`optbridge.dialects.mindspore.nn`).

The message fragments of the ``construct`` records are MindSpore 2.10's own words, as
recorded in ``tests/goldens/mindspore_errors.json``.
"""
from __future__ import annotations

from ...errors import SelectorTypeError, SpecKeyError, SpecTypeError, SpecValueError
from ..layouts import LAYOUTS
from .base import CONSTRUCT_PARAMS, DialectCases, ErrorInput, construct_error

__all__ = ["DIALECT_CASES", "CONSTRUCT_ERRORS"]

_MOM = "mindspore.nn.Momentum"
_SGD = "mindspore.nn.SGD"
_ASGD = "mindspore.nn.ASGD"
_ADAM = "mindspore.nn.Adam"
_ADAMW = "mindspore.nn.AdamWeightDecay"
_W = list(CONSTRUCT_PARAMS)
_REST = [name for name, _ in LAYOUTS["tiny"] if name not in _W]

#: Hyperparameter sets of every MindSpore-dialect class.
DIALECT_CASES: dict[str, DialectCases] = {
    "mindspore.nn.Momentum": DialectCases(
        lr=0.1, weight_decay=1e-2,
        hyperparameters=(
            ("default", {"momentum": 0.9}),
            ("nesterov", {"momentum": 0.9, "use_nesterov": True}),
            ("no_momentum", {"momentum": 0.0}),
            ("loss_scale", {"momentum": 0.9, "loss_scale": 3.0}),
        ),
    ),
    "mindspore.nn.SGD": DialectCases(
        lr=0.1, weight_decay=1e-2, wd_forms=("off", "const"),
        hyperparameters=(
            ("default", {}),
            ("momentum", {"momentum": 0.9}),
            ("dampening", {"momentum": 0.9, "dampening": 0.3}),
            ("nesterov", {"momentum": 0.9, "nesterov": True}),
            ("loss_scale", {"momentum": 0.8, "loss_scale": 3.0}),
        ),
    ),
    "mindspore.nn.ASGD": DialectCases(
        lr=0.1, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("averaging", {"t0": 3.0}),
            ("strong_decay", {"lambd": 0.05, "alpha": 0.5, "t0": 2.0}),
        ),
    ),
    "mindspore.nn.Adam": DialectCases(
        lr=0.01, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("nesterov", {"use_nesterov": True}),
            ("amsgrad", {"use_amsgrad": True}),
            ("amsgrad_nesterov", {"use_amsgrad": True, "use_nesterov": True}),
            ("loss_scale", {"loss_scale": 3.0}),
            ("betas_locking", {"beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "use_locking": True}),
            ("lazy", {"use_lazy": True}),
            ("offload", {"use_offload": True}),
        ),
    ),
    "mindspore.nn.AdamWeightDecay": DialectCases(
        lr=0.01, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("betas_eps", {"beta1": 0.8, "beta2": 0.95, "eps": 1e-8}),
        ),
    ),
}


#: The ``construct`` records: each class's documented ``Raises:`` in MindSpore 2.10's words.
CONSTRUCT_ERRORS: tuple[ErrorInput, ...] = (
    # nn.Momentum and the nn.Optimizer base class
    construct_error("momentum-lr_negative", _MOM, dict(learning_rate=-0.1, momentum=0.9), SpecValueError,
               "the 'learning rate' must be float and must >= 0", "negative learning rate"),
    construct_error("momentum-lr_nan", _MOM, dict(learning_rate=float("nan"), momentum=0.9), SpecValueError,
               "the 'learning rate' must be a legal value", "NaN learning rate"),
    construct_error("momentum-lr_none", _MOM, dict(learning_rate=None, momentum=0.9), SpecTypeError,
               "the argument 'learning_rate' must be int, float, Tensor, Iterable or LearningRateSchedule",
               "learning rate of an unsupported type"),
    construct_error("momentum-momentum_int", _MOM, dict(learning_rate=0.1, momentum=1), SpecTypeError,
               "the type of 'momentum' should be 'float', but got type 'int'", "momentum given as int"),
    construct_error("momentum-momentum_negative", _MOM, dict(learning_rate=0.1, momentum=-0.5), SpecValueError,
               "the argument 'momentum' must be at least 0.0", "negative momentum"),
    construct_error("momentum-weight_decay_negative", _MOM, dict(learning_rate=0.1, momentum=0.9, weight_decay=-1e-3),
               SpecValueError, "the 'weight_decay' must be float and must >= 0", "negative weight decay"),
    construct_error("momentum-weight_decay_str", _MOM, dict(learning_rate=0.1, momentum=0.9, weight_decay="x"),
               SpecTypeError, "the argument 'Weight_decay' must be int, float or Cell", "weight decay as a string"),
    construct_error("momentum-loss_scale_zero", _MOM, dict(learning_rate=0.1, momentum=0.9, loss_scale=0.0),
               SpecValueError, "the 'loss_scale' must be float and must > 0", "zero loss scale"),
    construct_error("momentum-loss_scale_str", _MOM, dict(learning_rate=0.1, momentum=0.9, loss_scale="x"),
               SpecTypeError, "the type of 'loss_scale' should be 'float'", "loss scale as a string"),
    construct_error("momentum-use_nesterov_int", _MOM, dict(learning_rate=0.1, momentum=0.9, use_nesterov=1),
               SpecTypeError, "The input value must be a bool, but got int.", "use_nesterov given as int"),
    ErrorInput("momentum-params_empty", "empty parameter list", _MOM, "construct",
               dict(params=[], learning_rate=0.1, momentum=0.9), SpecValueError,
               "the argument parameters must not be empty"),
    # group dictionaries
    ErrorInput("momentum-group_bad_key", "a group key MindSpore does not parse", _MOM, "construct",
               dict(params=[{"params": _W, "lrr": 0.1}], learning_rate=0.1, momentum=0.9), SpecKeyError,
               "the key in group params must be one of in ['params', 'lr', 'weight_decay', 'order_params', "
               "'grad_centralization'], but got ['lrr']"),
    ErrorInput("momentum-group_empty", "a group with an empty parameter list", _MOM, "construct",
               dict(params=[{"params": []}], learning_rate=0.1, momentum=0.9), SpecValueError,
               "the argument group `params` must not be empty"),
    ErrorInput("momentum-group_params_bad_type", "a group whose parameter list holds a non-name", _MOM,
               "construct", dict(params=[{"params": ["fc.weight", 3]}], learning_rate=0.1, momentum=0.9),
               SelectorTypeError, "entries of a parameter list must be names or globs"),
    ErrorInput("momentum-group_weight_decay_negative", "a group with negative weight decay", _MOM, "construct",
               dict(params=[{"params": _W, "weight_decay": -1.0}], learning_rate=0.1, momentum=0.9),
               SpecValueError, "the 'weight_decay' must be float and must >= 0"),
    ErrorInput("momentum-group_lr_negative", "a group with a negative learning rate", _MOM, "construct",
               dict(params=[{"params": _W, "lr": -1.0}], learning_rate=0.1, momentum=0.9), SpecValueError,
               "the 'learning rate' must be float and must >= 0"),
    ErrorInput("momentum-group_gc_int", "grad_centralization given as int", _MOM, "construct",
               dict(params=[{"params": _W, "grad_centralization": 1}], learning_rate=0.1, momentum=0.9),
               SpecTypeError, "the 'gradients_centralization' must be bool type"),
    ErrorInput("momentum-order_params_extra_key", "an order_params dict with another key", _MOM, "construct",
               dict(params=[{"params": _W}, {"order_params": _W, "lr": 0.1}], learning_rate=0.1, momentum=0.9),
               SpecValueError, "should only include the 'order_params' key"),
    ErrorInput("momentum-group_lr_table_length", "group and default per-step lr lists of different lengths",
               _MOM, "construct",
               dict(params=[{"params": _W, "lr": [0.1, 0.2]}, {"params": _REST}], learning_rate=[0.1, 0.2, 0.3],
                    momentum=0.9),
               SpecValueError, "dynamic learning rate in group must be the same size as the argument 'learning_rate'"),
    # nn.SGD
    construct_error("sgd-momentum_str", _SGD, dict(momentum="x"), SpecTypeError,
               "the argument 'momentum' must be float type", "momentum as a string"),
    construct_error("sgd-momentum_negative", _SGD, dict(momentum=-1.0), SpecValueError,
               "the argument 'momentum' must be at least 0.0", "negative momentum"),
    construct_error("sgd-dampening_negative", _SGD, dict(momentum=0.9, dampening=-1.0), SpecValueError,
               "the argument 'dampening' must be at least 0.0", "negative dampening"),
    construct_error("sgd-dampening_str", _SGD, dict(momentum=0.9, dampening="x"), SpecTypeError,
               "the argument 'dampening' must be float type", "dampening as a string"),
    construct_error("sgd-nesterov_no_momentum", _SGD, dict(momentum=0.0, nesterov=True), SpecValueError,
               "if 'nesterov' is true, 'momentum' must be > 0.0 and 'dampening' must equal to 0.0",
               "Nesterov without momentum"),
    construct_error("sgd-nesterov_dampening", _SGD, dict(momentum=0.9, dampening=0.1, nesterov=True), SpecValueError,
               "if 'nesterov' is true, 'momentum' must be > 0.0 and 'dampening' must equal to 0.0",
               "Nesterov with dampening"),
    construct_error("sgd-nesterov_int", _SGD, dict(momentum=0.9, nesterov=1), SpecTypeError,
               "the type of 'nesterov' should be 'bool'", "nesterov given as int"),
    construct_error("sgd-loss_scale_negative", _SGD, dict(loss_scale=-2.0), SpecValueError,
               "the 'loss_scale' must be float and must > 0", "negative loss scale"),
    construct_error("sgd-dynamic_weight_decay", _SGD,
               dict(weight_decay={"schedule": "mindspore.nn.WarmUpLR", "learning_rate": 0.01, "warmup_steps": 2}),
               SpecTypeError, "dynamic weight decay is currently not supported", "a schedule as weight decay"),
    # nn.ASGD
    construct_error("asgd-lambd_int", _ASGD, dict(lambd=1), SpecTypeError,
               "the type of 'lambd' should be 'float'", "lambd given as int"),
    construct_error("asgd-alpha_int", _ASGD, dict(alpha=1), SpecTypeError,
               "the type of 'alpha' should be 'float'", "alpha given as int"),
    construct_error("asgd-t0_int", _ASGD, dict(t0=1), SpecTypeError,
               "the type of 't0' should be 'float'", "t0 given as int"),
    construct_error("asgd-weight_decay_negative", _ASGD, dict(weight_decay=-1.0), SpecValueError,
               "the 'weight_decay' must be float and must >= 0", "negative weight decay"),
    construct_error("asgd-lr_negative", _ASGD, dict(learning_rate=-1.0), SpecValueError,
               "the 'learning rate' must be float and must >= 0", "negative learning rate"),
    construct_error("asgd-loss_scale", _ASGD, dict(loss_scale=2.0), TypeError,
               "unexpected keyword argument 'loss_scale'", "nn.ASGD has no loss_scale argument"),
    # nn.Adam
    construct_error("adam-beta1_int", _ADAM, dict(beta1=1), SpecTypeError,
               "the type of 'beta1' should be 'float'", "beta1 given as int"),
    construct_error("adam-beta1_one", _ADAM, dict(beta1=1.0), SpecValueError,
               "the 'beta1' must be in range of (0.0, 1.0)", "beta1 outside (0, 1)"),
    construct_error("adam-beta2_zero", _ADAM, dict(beta2=0.0), SpecValueError,
               "the 'beta2' must be in range of (0.0, 1.0)", "beta2 outside (0, 1)"),
    construct_error("adam-eps_zero", _ADAM, dict(eps=0.0), SpecValueError,
               "the 'eps' must be float and must > 0", "zero eps"),
    construct_error("adam-eps_int", _ADAM, dict(eps=1), SpecTypeError,
               "the type of 'eps' should be 'float'", "eps given as int"),
    construct_error("adam-use_locking_int", _ADAM, dict(use_locking=1), SpecTypeError,
               "the type of 'use_locking' should be 'bool'", "use_locking given as int"),
    construct_error("adam-use_nesterov_int", _ADAM, dict(use_nesterov=1), SpecTypeError,
               "the type of 'use_nesterov' should be 'bool'", "use_nesterov given as int"),
    construct_error("adam-use_amsgrad_int", _ADAM, dict(use_amsgrad=1), SpecTypeError,
               "the type of 'use_amsgrad' should be 'bool'", "use_amsgrad given as int"),
    construct_error("adam-unknown_kwarg", _ADAM, dict(foo=1), SpecKeyError,
               "invalid keys are passed as kwargs, supported keys are 'use_lazy' and'use_offload'",
               "an unknown keyword argument"),
    construct_error("adam-lazy_and_offload", _ADAM, dict(use_lazy=True, use_offload=True), SpecValueError,
               "'use_lazy' and 'use_offload' can not both be True", "use_lazy with use_offload"),
    construct_error("adam-amsgrad_lazy", _ADAM, dict(use_amsgrad=True, use_lazy=True), SpecValueError,
               "there is no parameter named 'use_amsgrad'", "use_amsgrad with use_lazy"),
    construct_error("adam-weight_decay_negative", _ADAM, dict(weight_decay=-0.5), SpecValueError,
               "the 'weight_decay' must be float and must >= 0", "negative weight decay"),
    # nn.AdamWeightDecay
    construct_error("adamweightdecay-beta1_range", _ADAMW, dict(beta1=1.5), SpecValueError,
               "the 'beta1' must be in range of (0.0, 1.0)", "beta1 outside (0, 1)"),
    construct_error("adamweightdecay-beta2_str", _ADAMW, dict(beta2="0.9"), SpecTypeError,
               "the type of 'beta2' should be 'float'", "beta2 as a string"),
    construct_error("adamweightdecay-eps_negative", _ADAMW, dict(eps=-1.0), SpecValueError,
               "the 'eps' must be float and must > 0", "negative eps"),
    construct_error("adamweightdecay-weight_decay_negative", _ADAMW, dict(weight_decay=-1.0), SpecValueError,
               "the 'weight_decay' must be float and must >= 0", "negative weight decay"),
    construct_error("adamweightdecay-loss_scale", _ADAMW, dict(loss_scale=2.0), TypeError,
               "unexpected keyword argument 'loss_scale'", "nn.AdamWeightDecay has no loss_scale argument"),
)
