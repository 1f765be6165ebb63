"""Conformance catalog of the MindSpore dialect (:mod:`optbridge.dialects.mindspore.nn`).

The message fragments of the ``construct`` records are MindSpore 2.10's own words, as
recorded in ``tests/goldens/mindspore_errors.json``.
"""
from __future__ import annotations

from ...errors import (
    DuplicateParameterError,
    GroupError,
    SelectorTypeError,
    SpecKeyError,
    SpecTypeError,
    SpecValueError,
)
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
            # DynamicLossScaleManager(2**4, 2, 3).to_transform()
            ("dynamic_loss_scale", {"momentum": 0.9, "transforms": [
                {"transform": "loss_scale", "form": "mindspore", "initial_scale": 16.0, "growth_interval": 3}]}),
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
    # deprecated since MindSpore 2.0, shipped in 2.10: nn.Adam(use_offload=True) as a class
    "mindspore.nn.AdamOffload": DialectCases(
        lr=0.01, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("nesterov", {"use_nesterov": True}),
            ("betas_locking", {"beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "use_locking": True}),
            ("loss_scale", {"loss_scale": 3.0}),
        ),
    ),
    "mindspore.nn.AdamWeightDecay": DialectCases(
        lr=0.01, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("betas_eps", {"beta1": 0.8, "beta2": 0.95, "eps": 1e-8}),
        ),
    ),
    # -- sgd-adam (H2a) --
    "mindspore.nn.LazyAdam": DialectCases(
        lr=0.01, weight_decay=1e-2, wd_forms=("off", "const"),
        hyperparameters=(
            ("default", {}),
            ("nesterov", {"use_nesterov": True}),
            ("betas_locking", {"beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "use_locking": True}),
            ("loss_scale", {"loss_scale": 3.0}),
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
    construct_error("momentum-lr_str", _MOM, dict(learning_rate="0.1", momentum=0.9), SpecValueError,
               "could not convert string to float: '.'", "a str learning rate (MindSpore raises ValueError)"),
    construct_error("momentum-group_params_duplicate", _MOM,
               dict(params=[{"params": _W + _W[:1]}, {"params": _REST}], learning_rate=0.1, momentum=0.9),
               DuplicateParameterError, "the conv1.weight parameter already exists",
               "a parameter listed twice in one group (MindSpore raises RuntimeError)"),
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
    # nn.AdamOffload
    construct_error("adamoffload-beta1_int", "mindspore.nn.AdamOffload", dict(beta1=1), SpecTypeError,
               "For 'AdamOffload', the type of 'beta1' should be 'float'", "beta1 given as int"),
    construct_error("adamoffload-beta2_zero", "mindspore.nn.AdamOffload", dict(beta2=0.0), SpecValueError,
               "the 'beta2' must be in range of (0.0, 1.0)", "beta2 outside (0, 1)"),
    construct_error("adamoffload-eps_zero", "mindspore.nn.AdamOffload", dict(eps=0.0), SpecValueError,
               "the 'eps' must be float and must > 0", "zero eps"),
    construct_error("adamoffload-use_nesterov_int", "mindspore.nn.AdamOffload", dict(use_nesterov=1), SpecTypeError,
               "the type of 'use_nesterov' should be 'bool'", "use_nesterov given as int"),
    construct_error("adamoffload-use_amsgrad", "mindspore.nn.AdamOffload", dict(use_amsgrad=True), TypeError,
               "unexpected keyword argument 'use_amsgrad'", "nn.AdamOffload has no use_amsgrad argument"),
    construct_error("adamoffload-lr_str", "mindspore.nn.AdamOffload", dict(learning_rate="0.01"), SpecValueError,
               "MindSpore reads a str as a per-step table of its characters: could not convert string to float",
               "a str learning rate (MindSpore raises ValueError)"),
    construct_error("adamoffload-params_duplicate", "mindspore.nn.AdamOffload",
               dict(params=list(CONSTRUCT_PARAMS) + list(CONSTRUCT_PARAMS)[:1]), GroupError,
               "the argument parameters list", "a parameter listed twice (MindSpore raises ValueError)"),
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
    # -- sgd-adam (H2a): nn.LazyAdam --
    construct_error("lazyadam-weight_decay_int", "mindspore.nn.LazyAdam", dict(weight_decay=0), SpecTypeError,
                    "the type of 'weight_dacay' should be 'float', but got type 'int'",
                    "an int weight decay (every other nn optimizer accepts it)"),
    construct_error("lazyadam-weight_decay_schedule", "mindspore.nn.LazyAdam",
                    dict(weight_decay={"schedule": "mindspore.nn.WarmUpLR", "learning_rate": 0.01,
                                       "warmup_steps": 2}),
                    SpecTypeError, "the type of 'weight_dacay' should be 'float', but got type 'WarmUpLR'",
                    "a schedule as weight decay"),
    construct_error("lazyadam-beta1_int", "mindspore.nn.LazyAdam", dict(beta1=1), SpecTypeError,
                    "the type of 'beta1' should be 'float'", "beta1 given as int"),
    construct_error("lazyadam-beta2_one", "mindspore.nn.LazyAdam", dict(beta2=1.0), SpecValueError,
                    "the 'beta2' must be in range of (0.0, 1.0)", "beta2 outside (0, 1)"),
    construct_error("lazyadam-eps_zero", "mindspore.nn.LazyAdam", dict(eps=0.0), SpecValueError,
                    "the 'eps' must be float and must > 0", "zero eps"),
    construct_error("lazyadam-use_nesterov_int", "mindspore.nn.LazyAdam", dict(use_nesterov=1), SpecTypeError,
                    "the type of 'use_nesterov' should be 'bool'", "use_nesterov given as int"),
    construct_error("lazyadam-use_amsgrad", "mindspore.nn.LazyAdam", dict(use_amsgrad=True), TypeError,
                    "unexpected keyword argument 'use_amsgrad'", "nn.LazyAdam has no use_amsgrad argument"),
)


# -- adaptive (H2b): RMSProp, Adagrad, Adadelta, AdaMax, Rprop, AdaFactor ------------------------
_RMSPROP = "mindspore.nn.RMSProp"
_ADAGRAD = "mindspore.nn.Adagrad"
_ADADELTA = "mindspore.nn.Adadelta"
_ADAMAX = "mindspore.nn.AdaMax"
_RPROP = "mindspore.nn.Rprop"
_ADAFACTOR = "mindspore.nn.AdaFactor"


def _adafactor(params, arguments, hyperparameters):
    """nn.AdaFactor refuses a learning rate with ``relative_step`` (its default): drop it there."""
    from ...dialects.mindspore.nn import AdaFactor

    if hyperparameters.get("relative_step", True):
        arguments = {k: v for k, v in arguments.items() if k != "learning_rate"}
    return AdaFactor(params, **arguments, **hyperparameters)


_ADAPTIVE_CASES: dict[str, DialectCases] = {
    _RMSPROP: DialectCases(
        lr=0.01, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("momentum", {"momentum": 0.9, "epsilon": 1e-6}),
            ("centered", {"centered": True, "momentum": 0.5, "use_locking": True}),
            ("centered_plain", {"centered": True, "decay": 0.8}),
            ("loss_scale", {"momentum": 0.9, "loss_scale": 4.0}),
        ),
    ),
    _ADAGRAD: DialectCases(
        lr=0.05, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("accum", {"accum": 0.5, "loss_scale": 2.0}),
            ("no_update_slots", {"update_slots": False}),
        ),
    ),
    _ADADELTA: DialectCases(
        lr=1.0, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("rho_eps", {"rho": 0.8, "epsilon": 1e-4, "loss_scale": 2.0}),
        ),
    ),
    _ADAMAX: DialectCases(
        lr=0.01, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("small_beta2", {"beta1": 0.8, "beta2": 0.5, "eps": 1e-3}),
            ("loss_scale", {"loss_scale": 8.0}),
        ),
    ),
    _RPROP: DialectCases(
        lr=0.01, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("etas_steps", {"etas": (0.3, 1.5), "step_sizes": (1e-3, 0.02)}),
        ),
    ),
    # one group only (a group lr fails in MindSpore) and no dynamic weight decay; the lr axis
    # only where relative_step=False (with it, the learning rate is computed, not given)
    _ADAFACTOR: DialectCases(
        lr=0.01, weight_decay=1e-2, group_forms=("none",), wd_forms=("off", "const"),
        hyperparameters=(
            ("default", {}),
            ("warmup_no_first_moment", {"warmup_init": True, "beta1": 0.0, "compression": True}),
            ("manual_lr", {"relative_step": False, "scale_parameter": False, "clip_threshold": 0.5,
                           "decay_rate": 0.5}),
            ("manual_lr_scaled", {"relative_step": False, "beta1": 0.5, "loss_scale": 4.0}),
        ),
        construct=_adafactor,
        valid=lambda label, groups, lr, wd: lr == "const" or label.startswith("manual"),
    ),
}

_ADAPTIVE_ERRORS: tuple[ErrorInput, ...] = (
    construct_error("rmsprop-decay_int", _RMSPROP, dict(decay=1), SpecTypeError,
                    "the type of 'decay' should be 'float', but got type 'int'", "decay given as int"),
    construct_error("rmsprop-decay_negative", _RMSPROP, dict(decay=-0.9), SpecValueError,
                    "the 'decay' must be float and must >= 0", "negative decay"),
    construct_error("rmsprop-momentum_negative", _RMSPROP, dict(momentum=-0.1), SpecValueError,
                    "the 'momentum' must be float and must >= 0", "negative momentum"),
    construct_error("rmsprop-epsilon_zero", _RMSPROP, dict(epsilon=0.0), SpecValueError,
                    "the 'epsilon' must be float and must > 0", "zero epsilon"),
    construct_error("rmsprop-centered_int", _RMSPROP, dict(centered=1), SpecTypeError,
                    "the type of 'centered' should be 'bool', but got type 'int'", "centered given as int"),
    construct_error("rmsprop-use_locking_int", _RMSPROP, dict(use_locking=1), SpecTypeError,
                    "the type of 'use_locking' should be 'bool'", "use_locking given as int"),
    construct_error("adagrad-accum_int", _ADAGRAD, dict(accum=1), SpecTypeError,
                    "the type of 'accum' should be 'float', but got type 'int'", "accum given as int"),
    construct_error("adagrad-accum_negative", _ADAGRAD, dict(accum=-0.1), SpecValueError,
                    "the 'accum' must be float and must >= 0", "negative initial accumulator"),
    construct_error("adagrad-update_slots_int", _ADAGRAD, dict(update_slots=1), SpecTypeError,
                    "the type of 'update_slots' should be 'bool'", "update_slots given as int"),
    construct_error("adadelta-rho_range", _ADADELTA, dict(rho=1.5), SpecValueError,
                    "the 'rho' must be in range of [0.0, 1.0], but got 1.5", "rho outside [0, 1]"),
    construct_error("adadelta-epsilon_negative", _ADADELTA, dict(epsilon=-1e-6), SpecValueError,
                    "the 'epsilon' must be float and must >= 0", "negative epsilon"),
    construct_error("adadelta-rho_int", _ADADELTA, dict(rho=1), SpecTypeError,
                    "the type of 'rho' should be 'float'", "rho given as int"),
    construct_error("adamax-beta1_one", _ADAMAX, dict(beta1=1.0), SpecValueError,
                    "the 'beta1' must be in range of (0.0, 1.0)", "beta1 outside (0, 1)"),
    construct_error("adamax-eps_zero", _ADAMAX, dict(eps=0.0), SpecValueError,
                    "the 'eps' must be float and must > 0", "zero eps"),
    construct_error("adamax-beta2_int", _ADAMAX, dict(beta2=1), SpecTypeError,
                    "the type of 'beta2' should be 'float'", "beta2 given as int"),
    construct_error("rprop-etas_float", _RPROP, dict(etas=0.5), SpecTypeError,
                    "For Rprop, etas must be a tuple, but got <class 'float'>.", "etas not a tuple"),
    construct_error("rprop-etas_list", _RPROP, dict(etas=[0.5, 1.2]), SpecTypeError,
                    "For Rprop, etas must be a tuple, but got <class 'list'>.", "etas as a list (a tuple is required)"),
    construct_error("rprop-step_sizes_list", _RPROP, dict(step_sizes=[1e-6, 50.0]), SpecTypeError,
                    "For Rprop, step_sizes must be a tuple", "step_sizes as a list (a tuple is required)"),
    construct_error("rprop-etas_length", _RPROP, dict(etas=(0.5, 1.2, 2.0)), SpecValueError,
                    "etas must be a tuple with the size of 2, but got 3", "three etas"),
    construct_error("rprop-step_sizes_order", _RPROP, dict(step_sizes=(50.0, 1e-6)), SpecValueError,
                    "maximal step size should not be less than minimal step size", "step sizes in the wrong order"),
    construct_error("rprop-etaminus_range", _RPROP, dict(etas=(1.5, 2.0)), SpecValueError,
                    "the 'etaminus' must be in range of (0.0, 1.0), but got 1.5", "etaminus outside (0, 1)"),
    construct_error("rprop-etaplus_small", _RPROP, dict(etas=(0.5, 0.9)), SpecValueError,
                    "etaplus must be greater than 1.0, but got etaplus 0.9", "etaplus <= 1"),
    construct_error("rprop-min_step_int", _RPROP, dict(step_sizes=(0, 50.0)), SpecTypeError,
                    "the type of 'min_step_sizes' should be 'float'", "minimal step size given as int"),
    construct_error("adafactor-lr_with_relative_step", _ADAFACTOR, dict(learning_rate=0.01), SpecValueError,
                    "Cannot combine manual lr and relative_step options", "a learning rate with relative_step"),
    construct_error("adafactor-warmup_without_relative_step", _ADAFACTOR,
                    dict(learning_rate=0.01, relative_step=False, warmup_init=True), SpecValueError,
                    "warmup_init requires relative_step=True", "warmup_init without relative_step"),
    construct_error("adafactor-eps_length", _ADAFACTOR, dict(eps=(1e-30, 1e-3, 1.0)), SpecValueError,
                    "eps must have 2 value: (eps1, eps2).", "three eps"),
    construct_error("adafactor-decay_rate_range", _ADAFACTOR, dict(decay_rate=1.0), SpecValueError,
                    "the 'decay_rate' must be in range of (0, 1), but got 1.0", "decay_rate outside (0, 1)"),
    construct_error("adafactor-weight_decay_range", _ADAFACTOR, dict(weight_decay=1.0), SpecValueError,
                    "the 'weight_decay' must be in range of [0, 1), but got 1.0", "weight_decay outside [0, 1)"),
    construct_error("adafactor-beta1_str", _ADAFACTOR, dict(beta1="0.9"), SpecTypeError,
                    "the type of 'beta1' should be one of '['int', 'float']'", "beta1 as a string"),
    ErrorInput("adafactor-group_lr", "a group learning rate (MindSpore fails at the first step)", _ADAFACTOR,
               "construct", dict(params=[{"params": _W, "lr": 0.05}, {"params": _REST}], learning_rate=0.01,
                                 relative_step=False), SpecValueError, "a group 'lr' is not supported"),
    construct_error("rprop-loss_scale", _RPROP, dict(loss_scale=2.0), TypeError,
                    "unexpected keyword argument 'loss_scale'", "nn.Rprop has no loss_scale argument"),
)

DIALECT_CASES.update(_ADAPTIVE_CASES)
CONSTRUCT_ERRORS = CONSTRUCT_ERRORS + _ADAPTIVE_ERRORS


# -- ms-only (H3): FTRL, ProximalAdagrad, Lamb, LARS -----------------------------------------------
_FTRL = "mindspore.nn.FTRL"
_PROXIMAL_ADAGRAD = "mindspore.nn.ProximalAdagrad"
_LAMB = "mindspore.nn.Lamb"
_LARS = "mindspore.nn.LARS"


def _lars(params, arguments, hyperparameters):
    """``nn.LARS`` around the wrapped optimizer named by ``base`` (default ``nn.Momentum``)."""
    from ...dialects.base import dialect_registry

    lars_arguments = dict(hyperparameters)
    base_name, base_arguments = lars_arguments.pop("base", ("Momentum", {"momentum": 0.9}))
    wrapped = dialect_registry[f"mindspore.nn.{base_name}"](params, **arguments, **base_arguments)
    return dialect_registry[_LARS](wrapped, **lars_arguments)


def _lars_valid(label: str, groups: str, lr: str, wd: str) -> bool:
    """``use_clip`` refuses a wrapped optimizer with group and dynamic learning rates."""
    return not (label == "clip" and groups == "two" and lr != "const")


def _momentum(kind: str = "plain"):
    """An ``nn.Momentum`` for ``nn.LARS`` to wrap: plain, with a group lr and a dynamic default
    lr (``"group_dynamic_lr"``), or with a ``grad_centralization`` group (``"centralized"``)."""
    from ...dialects.mindspore import nn

    if kind == "group_dynamic_lr":
        return nn.Momentum([{"params": _W, "lr": 0.2}, {"params": _REST}], [0.1, 0.2], 0.9)
    if kind == "centralized":
        return nn.Momentum([{"params": _W, "grad_centralization": True}, {"params": _REST}], 0.1, 0.9)
    return nn.Momentum(_W, 0.1, 0.9)


_MS_ONLY_CASES: dict[str, DialectCases] = {
    _FTRL: DialectCases(
        lr=0.1, weight_decay=1e-2, group_forms=("none", "nolr"), lr_forms=("const",),
        hyperparameters=(
            ("default", {}),
            ("l1_l2", {"l1": 0.01, "l2": 0.05, "use_locking": True}),
            ("lr_power", {"lr_power": -0.3, "initial_accum": 0.5, "l1": 0.001}),
            ("fixed_lr", {"lr_power": 0.0, "l2": 0.01}),
            ("loss_scale", {"loss_scale": 4.0}),
        ),
    ),
    _PROXIMAL_ADAGRAD: DialectCases(
        lr=0.1, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("l1_l2", {"l1": 0.01, "l2": 0.05, "use_locking": True}),
            ("l2_only", {"l2": 0.1}),
            ("accum_loss_scale", {"accum": 0.5, "loss_scale": 2.0}),
        ),
    ),
    _LAMB: DialectCases(
        lr=0.01, weight_decay=1e-2,
        hyperparameters=(
            ("default", {}),
            ("betas_eps", {"beta1": 0.8, "beta2": 0.95, "eps": 1e-8}),
        ),
    ),
    _LARS: DialectCases(
        lr=0.1, weight_decay=1e-2, group_forms=("none", "two", "nolr"), construct=_lars, valid=_lars_valid,
        hyperparameters=(
            ("default", {}),
            ("clip", {"use_clip": True, "coefficient": 0.02}),
            ("filter", {"lars_filter": {"min_ndim": 2}, "coefficient": 0.02, "epsilon": 1e-8}),
            ("adam", {"base": ("Adam", {}), "coefficient": 0.05}),
            ("proximal", {"base": ("ProximalAdagrad", {"l1": 0.001}), "coefficient": 0.05}),
            ("loss_scale", {"base": ("Momentum", {"momentum": 0.9, "loss_scale": 4.0}), "coefficient": 0.02}),
        ),
    ),
}

_MS_ONLY_ERRORS: tuple[ErrorInput, ...] = (
    construct_error("ftrl-initial_accum_int", _FTRL, dict(initial_accum=1), SpecTypeError,
                    "the type of 'initial_accum' should be 'float', but got type 'int'", "initial_accum given as int"),
    construct_error("ftrl-initial_accum_negative", _FTRL, dict(initial_accum=-0.1), SpecValueError,
                    "the argument 'initial_accum' must >= 0.0, but got -0.1", "negative initial accumulator"),
    construct_error("ftrl-lr_int", _FTRL, dict(learning_rate=1), SpecTypeError,
                    "the type of 'learning_rate' should be 'float', but got type 'int'", "learning rate given as int"),
    construct_error("ftrl-lr_zero", _FTRL, dict(learning_rate=0.0), SpecValueError,
                    "the 'learning_rate' must be float and must > 0", "zero learning rate (the docs allow it)"),
    construct_error("ftrl-lr_dynamic", _FTRL, dict(learning_rate=[0.1, 0.2]), SpecValueError,
                    "dynamic learning rate and group learning rate are currently not supported in FTRL",
                    "a per-step learning-rate list"),
    ErrorInput("ftrl-group_lr", "a group with its own learning rate", _FTRL, "construct",
               dict(params=[{"params": _W, "lr": 0.1}, {"params": _REST}]), SpecValueError,
               "but got dynamic learning rate False and group learning rate True"),
    construct_error("ftrl-lr_power_positive", _FTRL, dict(lr_power=0.5), SpecValueError,
                    "the argument 'lr_power' must <= 0.0, but got 0.5", "positive lr_power"),
    construct_error("ftrl-l1_negative", _FTRL, dict(l1=-1.0), SpecValueError,
                    "the argument 'l1' must >= 0.0, but got -1.0", "negative l1"),
    construct_error("ftrl-l2_int", _FTRL, dict(l2=1), SpecTypeError,
                    "the type of 'l2' should be 'float', but got type 'int'", "l2 given as int"),
    construct_error("ftrl-use_locking_int", _FTRL, dict(use_locking=1), SpecTypeError,
                    "the type of 'use_locking' should be 'bool'", "use_locking given as int"),
    construct_error("ftrl-loss_scale_zero", _FTRL, dict(loss_scale=0.0), SpecValueError,
                    "the 'loss_scale' must be float and must > 0", "zero loss scale"),
    construct_error("proximaladagrad-accum_int", _PROXIMAL_ADAGRAD, dict(accum=1), SpecTypeError,
                    "the type of 'accum' should be 'float', but got type 'int'", "accum given as int"),
    construct_error("proximaladagrad-accum_negative", _PROXIMAL_ADAGRAD, dict(accum=-0.1), SpecValueError,
                    "the 'accum' must be float and must >= 0", "negative initial accumulator"),
    construct_error("proximaladagrad-l1_nan", _PROXIMAL_ADAGRAD, dict(l1=float("nan")), SpecValueError,
                    "the 'l1' must be a legal value", "NaN l1"),
    construct_error("proximaladagrad-l2_negative", _PROXIMAL_ADAGRAD, dict(l2=-1.0), SpecValueError,
                    "the 'l2' must be float and must >= 0", "negative l2"),
    construct_error("proximaladagrad-use_locking_int", _PROXIMAL_ADAGRAD, dict(use_locking=1), SpecTypeError,
                    "the type of 'use_locking' should be 'bool'", "use_locking given as int"),
    construct_error("lamb-beta1_int", _LAMB, dict(learning_rate=0.1, beta1=1), SpecTypeError,
                    "the type of 'beta1' should be 'float', but got type 'int'", "beta1 given as int"),
    construct_error("lamb-beta1_one", _LAMB, dict(learning_rate=0.1, beta1=1.0), SpecValueError,
                    "the 'beta1' must be in range of (0.0, 1.0)", "beta1 outside (0, 1)"),
    construct_error("lamb-eps_zero", _LAMB, dict(learning_rate=0.1, eps=0.0), SpecValueError,
                    "the 'eps' must be float and must > 0", "zero eps"),
    construct_error("lamb-weight_decay_negative", _LAMB, dict(learning_rate=0.1, weight_decay=-1.0), SpecValueError,
                    "the 'weight_decay' must be float and must >= 0", "negative weight decay"),
    construct_error("lamb-loss_scale", _LAMB, dict(learning_rate=0.1, loss_scale=2.0), TypeError,
                    "unexpected keyword argument 'loss_scale'", "nn.Lamb has no loss_scale argument"),
    construct_error("lamb-no_learning_rate", _LAMB, dict(), TypeError,
                    "missing 1 required positional argument: 'learning_rate'", "nn.Lamb has no default learning rate"),
    ErrorInput("lars-epsilon_int", "epsilon given as int", _LARS, "construct",
               dict(optimizer=_momentum(), epsilon=1), SpecTypeError,
               "the type of 'epsilon' should be 'float', but got type 'int'"),
    ErrorInput("lars-coefficient_int", "coefficient given as int", _LARS, "construct",
               dict(optimizer=_momentum(), coefficient=1), SpecTypeError,
               "the type of 'coefficient' should be 'float', but got type 'int'"),
    ErrorInput("lars-use_clip_int", "use_clip given as int", _LARS, "construct",
               dict(optimizer=_momentum(), use_clip=1), SpecTypeError,
               "the type of 'use_clip' should be 'bool', but got type 'int'"),
    ErrorInput("lars-optimizer_none", "no optimizer to wrap", _LARS, "construct", dict(optimizer=None),
               SpecTypeError, "the type of 'optimizer' should be 'Optimizer', but got type 'NoneType'"),
    ErrorInput("lars-clip_group_dynamic_lr", "use_clip around group and dynamic learning rates", _LARS,
               "construct",
               dict(optimizer=_momentum("group_dynamic_lr"), use_clip=True), SpecValueError,
               "if the argument 'use_clip' is set to True, then the dynamic learning rate and group learning rate "
               "cannot both be true"),
    ErrorInput("lars-filter_callable", "a function as lars_filter (optbridge takes selectors)", _LARS,
               "construct", dict(optimizer=_momentum(), lars_filter=len), SpecTypeError,
               "optbridge takes 'lars_filter' as a parameter selector"),
    ErrorInput("lars-grad_centralization", "a wrapped optimizer with grad_centralization groups", _LARS,
               "construct", dict(optimizer=_momentum("centralized")), SpecValueError,
               "optbridge does not support a wrapped optimizer with 'grad_centralization'"),
)

DIALECT_CASES.update(_MS_ONLY_CASES)
CONSTRUCT_ERRORS = CONSTRUCT_ERRORS + _MS_ONLY_ERRORS
