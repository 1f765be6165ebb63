"""Bad inputs as records (STYLE.md practice 4), checked on every backend.

Each :class:`ErrorInput` says how to trigger the error:

* ``construct`` — calling the dialect class with bad arguments (MindSpore's documented
  ``Raises:``; the message fragments are MindSpore 2.10's own words, as recorded in
  ``tests/goldens/mindspore_errors.json``);
* ``build`` — a config that constructs but whose groups do not resolve against the
  layout's parameters (empty group, a parameter in two groups, bad ``order_params``,
  parameters no group takes, an unknown name);
* ``step`` — a valid optimizer stepped with bad gradients (wrong shape, wrong dtype, a
  missing name) or past the end of a per-step learning-rate list, after
  ``steps_before`` good steps.

:func:`check_error_input` triggers the error on a backend, checks the exception type and
message fragment, and checks that nothing changed: for ``build`` the parameters, for
``step`` the parameters and the whole ``state_dict()`` (slots, step counter, host state).
A backend that cannot honour a record lists it in the record's ``xfails`` (strict).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .. import plugin
from ..dialects.base import dialect_registry
from ..errors import (
    DuplicateParameterError,
    GroupError,
    ScheduleExhaustedError,
    SelectorTypeError,
    SpecKeyError,
    SpecTypeError,
    SpecValueError,
    StepInputError,
)
from ..plugin import Backend
from . import streams
from .layouts import LAYOUTS

__all__ = ["ErrorInput", "ErrorCheck", "ERROR_INPUTS", "TRIGGERS", "check_error_input", "ErrorInputMismatch"]

TRIGGERS = ("construct", "build", "step")


@dataclass(frozen=True)
class ErrorInput:
    """One bad input.

    Attributes:
        id: readable, ``pytest -k`` friendly name.
        description: what is wrong, in words.
        optimizer: the dialect class (``mindspore.nn.Momentum``).
        trigger: ``"construct"``, ``"build"`` or ``"step"``.
        kwargs: constructor arguments (bad ones for ``construct``, valid otherwise).
        error_type: the exception class expected (``isinstance`` check).
        message: a fragment the exception's message must contain.
        layout: built-in layout the optimizer is built on (``build``/``step``).
        dtype: parameter dtype (``build``/``step``).
        steps_before: good steps before the failing one (``step``).
        fault: for ``step``: ``"shape"``, ``"dtype"``, ``"missing"`` or ``"none"`` (good
            gradients: the failure comes from the optimizer's values).
        fault_param: the parameter whose gradient is bad.
        xfails: ``{backend name: reason}`` of strict expected failures.
    """

    id: str
    description: str
    optimizer: str
    trigger: str
    kwargs: Mapping[str, Any] = field(hash=False)
    error_type: type[BaseException] = Exception
    message: str = ""
    layout: str = "tiny"
    dtype: str = "float32"
    steps_before: int = 0
    fault: str = "none"
    fault_param: str = "fc.weight"
    xfails: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ErrorCheck:
    """Outcome of :func:`check_error_input` that did not raise."""

    record: ErrorInput
    backend: str
    status: str
    reason: str = ""
    exception: BaseException | None = None


class ErrorInputMismatch(AssertionError):
    """The backend did not raise as the record says, or changed something while raising."""


_W = ["conv1.weight", "fc.weight"]
_TINY = [name for name, _ in LAYOUTS["tiny"]]
_REST = [n for n in _TINY if n not in _W]
_MOM = "mindspore.nn.Momentum"
_SGD = "mindspore.nn.SGD"
_ASGD = "mindspore.nn.ASGD"
_ADAM = "mindspore.nn.Adam"
_ADAMW = "mindspore.nn.AdamWeightDecay"


def _construct(id: str, optimizer: str, kwargs: dict, error_type: type, message: str, description: str) -> ErrorInput:
    return ErrorInput(id, description, optimizer, "construct", {"params": _W, **kwargs}, error_type, message)


_CONSTRUCT = (
    # nn.Momentum and the nn.Optimizer base class
    _construct("momentum-lr_negative", _MOM, dict(learning_rate=-0.1, momentum=0.9), SpecValueError,
               "the 'learning rate' must be float and must >= 0", "negative learning rate"),
    _construct("momentum-lr_nan", _MOM, dict(learning_rate=float("nan"), momentum=0.9), SpecValueError,
               "the 'learning rate' must be a legal value", "NaN learning rate"),
    _construct("momentum-lr_none", _MOM, dict(learning_rate=None, momentum=0.9), SpecTypeError,
               "the argument 'learning_rate' must be int, float, Tensor, Iterable or LearningRateSchedule",
               "learning rate of an unsupported type"),
    _construct("momentum-momentum_int", _MOM, dict(learning_rate=0.1, momentum=1), SpecTypeError,
               "the type of 'momentum' should be 'float', but got type 'int'", "momentum given as int"),
    _construct("momentum-momentum_negative", _MOM, dict(learning_rate=0.1, momentum=-0.5), SpecValueError,
               "the argument 'momentum' must be at least 0.0", "negative momentum"),
    _construct("momentum-weight_decay_negative", _MOM, dict(learning_rate=0.1, momentum=0.9, weight_decay=-1e-3),
               SpecValueError, "the 'weight_decay' must be float and must >= 0", "negative weight decay"),
    _construct("momentum-weight_decay_str", _MOM, dict(learning_rate=0.1, momentum=0.9, weight_decay="x"),
               SpecTypeError, "the argument 'Weight_decay' must be int, float or Cell", "weight decay as a string"),
    _construct("momentum-loss_scale_zero", _MOM, dict(learning_rate=0.1, momentum=0.9, loss_scale=0.0),
               SpecValueError, "the 'loss_scale' must be float and must > 0", "zero loss scale"),
    _construct("momentum-loss_scale_str", _MOM, dict(learning_rate=0.1, momentum=0.9, loss_scale="x"),
               SpecTypeError, "the type of 'loss_scale' should be 'float'", "loss scale as a string"),
    _construct("momentum-use_nesterov_int", _MOM, dict(learning_rate=0.1, momentum=0.9, use_nesterov=1),
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
    _construct("sgd-momentum_str", _SGD, dict(momentum="x"), SpecTypeError,
               "the argument 'momentum' must be float type", "momentum as a string"),
    _construct("sgd-momentum_negative", _SGD, dict(momentum=-1.0), SpecValueError,
               "the argument 'momentum' must be at least 0.0", "negative momentum"),
    _construct("sgd-dampening_negative", _SGD, dict(momentum=0.9, dampening=-1.0), SpecValueError,
               "the argument 'dampening' must be at least 0.0", "negative dampening"),
    _construct("sgd-dampening_str", _SGD, dict(momentum=0.9, dampening="x"), SpecTypeError,
               "the argument 'dampening' must be float type", "dampening as a string"),
    _construct("sgd-nesterov_no_momentum", _SGD, dict(momentum=0.0, nesterov=True), SpecValueError,
               "if 'nesterov' is true, 'momentum' must be > 0.0 and 'dampening' must equal to 0.0",
               "Nesterov without momentum"),
    _construct("sgd-nesterov_dampening", _SGD, dict(momentum=0.9, dampening=0.1, nesterov=True), SpecValueError,
               "if 'nesterov' is true, 'momentum' must be > 0.0 and 'dampening' must equal to 0.0",
               "Nesterov with dampening"),
    _construct("sgd-nesterov_int", _SGD, dict(momentum=0.9, nesterov=1), SpecTypeError,
               "the type of 'nesterov' should be 'bool'", "nesterov given as int"),
    _construct("sgd-loss_scale_negative", _SGD, dict(loss_scale=-2.0), SpecValueError,
               "the 'loss_scale' must be float and must > 0", "negative loss scale"),
    _construct("sgd-dynamic_weight_decay", _SGD,
               dict(weight_decay={"schedule": "mindspore.nn.WarmUpLR", "learning_rate": 0.01, "warmup_steps": 2}),
               SpecTypeError, "dynamic weight decay is currently not supported", "a schedule as weight decay"),
    # nn.ASGD
    _construct("asgd-lambd_int", _ASGD, dict(lambd=1), SpecTypeError,
               "the type of 'lambd' should be 'float'", "lambd given as int"),
    _construct("asgd-alpha_int", _ASGD, dict(alpha=1), SpecTypeError,
               "the type of 'alpha' should be 'float'", "alpha given as int"),
    _construct("asgd-t0_int", _ASGD, dict(t0=1), SpecTypeError,
               "the type of 't0' should be 'float'", "t0 given as int"),
    _construct("asgd-weight_decay_negative", _ASGD, dict(weight_decay=-1.0), SpecValueError,
               "the 'weight_decay' must be float and must >= 0", "negative weight decay"),
    _construct("asgd-lr_negative", _ASGD, dict(learning_rate=-1.0), SpecValueError,
               "the 'learning rate' must be float and must >= 0", "negative learning rate"),
    _construct("asgd-loss_scale", _ASGD, dict(loss_scale=2.0), TypeError,
               "unexpected keyword argument 'loss_scale'", "nn.ASGD has no loss_scale argument"),
    # nn.Adam
    _construct("adam-beta1_int", _ADAM, dict(beta1=1), SpecTypeError,
               "the type of 'beta1' should be 'float'", "beta1 given as int"),
    _construct("adam-beta1_one", _ADAM, dict(beta1=1.0), SpecValueError,
               "the 'beta1' must be in range of (0.0, 1.0)", "beta1 outside (0, 1)"),
    _construct("adam-beta2_zero", _ADAM, dict(beta2=0.0), SpecValueError,
               "the 'beta2' must be in range of (0.0, 1.0)", "beta2 outside (0, 1)"),
    _construct("adam-eps_zero", _ADAM, dict(eps=0.0), SpecValueError,
               "the 'eps' must be float and must > 0", "zero eps"),
    _construct("adam-eps_int", _ADAM, dict(eps=1), SpecTypeError,
               "the type of 'eps' should be 'float'", "eps given as int"),
    _construct("adam-use_locking_int", _ADAM, dict(use_locking=1), SpecTypeError,
               "the type of 'use_locking' should be 'bool'", "use_locking given as int"),
    _construct("adam-use_nesterov_int", _ADAM, dict(use_nesterov=1), SpecTypeError,
               "the type of 'use_nesterov' should be 'bool'", "use_nesterov given as int"),
    _construct("adam-use_amsgrad_int", _ADAM, dict(use_amsgrad=1), SpecTypeError,
               "the type of 'use_amsgrad' should be 'bool'", "use_amsgrad given as int"),
    _construct("adam-unknown_kwarg", _ADAM, dict(foo=1), SpecKeyError,
               "invalid keys are passed as kwargs, supported keys are 'use_lazy' and'use_offload'",
               "an unknown keyword argument"),
    _construct("adam-lazy_and_offload", _ADAM, dict(use_lazy=True, use_offload=True), SpecValueError,
               "'use_lazy' and 'use_offload' can not both be True", "use_lazy with use_offload"),
    _construct("adam-amsgrad_lazy", _ADAM, dict(use_amsgrad=True, use_lazy=True), SpecValueError,
               "there is no parameter named 'use_amsgrad'", "use_amsgrad with use_lazy"),
    _construct("adam-weight_decay_negative", _ADAM, dict(weight_decay=-0.5), SpecValueError,
               "the 'weight_decay' must be float and must >= 0", "negative weight decay"),
    # nn.AdamWeightDecay
    _construct("adamweightdecay-beta1_range", _ADAMW, dict(beta1=1.5), SpecValueError,
               "the 'beta1' must be in range of (0.0, 1.0)", "beta1 outside (0, 1)"),
    _construct("adamweightdecay-beta2_str", _ADAMW, dict(beta2="0.9"), SpecTypeError,
               "the type of 'beta2' should be 'float'", "beta2 as a string"),
    _construct("adamweightdecay-eps_negative", _ADAMW, dict(eps=-1.0), SpecValueError,
               "the 'eps' must be float and must > 0", "negative eps"),
    _construct("adamweightdecay-weight_decay_negative", _ADAMW, dict(weight_decay=-1.0), SpecValueError,
               "the 'weight_decay' must be float and must >= 0", "negative weight decay"),
    _construct("adamweightdecay-loss_scale", _ADAMW, dict(loss_scale=2.0), TypeError,
               "unexpected keyword argument 'loss_scale'", "nn.AdamWeightDecay has no loss_scale argument"),
)


def _build(id: str, optimizer: str, params: Any, error_type: type, message: str, description: str,
           **kwargs: Any) -> ErrorInput:
    return ErrorInput(id, description, optimizer, "build", {"params": params, **kwargs}, error_type, message)


_BUILD = (
    _build("momentum-build_empty_group", _MOM, [{"params": "decoder.*"}, {"params": "*"}], GroupError,
           "the selector matches no parameter; a group must not be empty", "a group whose selector matches nothing",
           learning_rate=0.1, momentum=0.9),
    _build("sgd-build_duplicate_parameter", _SGD, [{"params": ["fc.weight"]}, {"params": "fc.*"}, {"params": "*"}],
           DuplicateParameterError, "parameter 'fc.weight' is already in groups[0]",
           "a parameter in two groups (MindSpore raises RuntimeError)", momentum=0.9),
    _build("asgd-build_star_first", _ASGD, [{"params": "*"}, {"params": ["fc.bias"]}], DuplicateParameterError,
           "put it last", "'*' before a group that names a parameter it already took"),
    _build("adam-build_order_params_missing", _ADAM,
           [{"params": "conv*"}, {"params": "*"}, {"order_params": ["conv1.weight", "conv2.weight"]}], GroupError,
           "order_params must hold exactly the grouped parameters", "order_params without some grouped parameters"),
    _build("momentum-build_order_params_unknown", _MOM,
           [{"params": "*"}, {"order_params": _TINY[:-1] + ["fc.bais"]}], GroupError,
           "there is no parameter named 'fc.bais'", "order_params naming a parameter the model lacks",
           learning_rate=0.1, momentum=0.9),
    _build("adamweightdecay-build_unassigned", _ADAMW, [{"params": ["conv1.weight", "fc.weight"]}], GroupError,
           "belong to no group", "parameters that no group takes"),
    _build("sgd-build_unknown_name", _SGD, [{"params": ["fc.weigth"]}, {"params": "*"}], GroupError,
           "groups[0] (['fc.weigth']): there is no parameter named 'fc.weigth'. Did you mean 'fc.weight'",
           "a misspelt parameter name"),
)


def _step(id: str, optimizer: str, kwargs: dict, error_type: type, message: str, description: str,
          **fields: Any) -> ErrorInput:
    return ErrorInput(id, description, optimizer, "step", {"params": None, **kwargs}, error_type, message, **fields)


_STEP = (
    _step("momentum-step_grad_shape", _MOM, dict(learning_rate=0.1, momentum=0.9), StepInputError, "'fc.weight'",
          "a gradient of the wrong shape", steps_before=2, fault="shape"),
    _step("adam-step_grad_dtype", _ADAM, dict(), StepInputError, "'fc.bias'",
          "a float64 gradient for a float32 parameter", steps_before=1, fault="dtype", fault_param="fc.bias"),
    _step("asgd-step_grad_dtype_float64", _ASGD, dict(t0=2.0), StepInputError, "'conv2.weight'",
          "a float32 gradient for a float64 parameter", dtype="float64", steps_before=3, fault="dtype",
          fault_param="conv2.weight"),
    _step("sgd-step_grad_missing", _SGD, dict(momentum=0.9), StepInputError, "'bn1.gamma'",
          "no gradient for one parameter", steps_before=1, fault="missing", fault_param="bn1.gamma"),
    _step("momentum-step_lr_list_exhausted", _MOM, dict(learning_rate=[0.1, 0.05, 0.02], momentum=0.9),
          ScheduleExhaustedError, "per-step value list has 3 entries, but step 3 asks for entry 3",
          "stepping past the end of a per-step learning-rate list", steps_before=3),
    _step("adamweightdecay-step_group_lr_list_exhausted", _ADAMW,
          dict(params=[{"params": "conv*", "lr": [0.01, 0.005]}, {"params": "*"}], weight_decay=0.01),
          ScheduleExhaustedError, "per-step value list has 2 entries, but step 2 asks for entry 2",
          "stepping past the end of a group's per-step learning-rate list", steps_before=2),
)

#: Every record; :func:`check_error_input` runs each on a backend.
ERROR_INPUTS: tuple[ErrorInput, ...] = _CONSTRUCT + _BUILD + _STEP


def _arguments(record: ErrorInput) -> dict[str, Any]:
    """Constructor arguments with schedule dicts turned into schedule objects."""
    from ..schedules.base import schedule_from_config

    def convert(value: Any) -> Any:
        if isinstance(value, Mapping) and "schedule" in value:
            return schedule_from_config(value)
        return value

    return {k: convert(v) for k, v in record.kwargs.items()}


def _raised(record: ErrorInput, backend: str, action: Callable[[], Any]) -> BaseException:
    """Run ``action``; return its exception if it is the record's, else raise a mismatch."""
    try:
        action()
    except Exception as exc:
        if not isinstance(exc, record.error_type):
            raise ErrorInputMismatch(
                f"{record.id} on {backend}: expected {record.error_type.__name__}, got "
                f"{type(exc).__name__}: {exc}") from exc
        if record.message not in str(exc):
            raise ErrorInputMismatch(
                f"{record.id} on {backend}: the message lacks {record.message!r}; got: {exc}") from exc
        return exc
    raise ErrorInputMismatch(f"{record.id} on {backend}: expected {record.error_type.__name__} "
                             f"({record.description}), nothing was raised")


def _same_arrays(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Names whose arrays differ in bits, dtype or shape (or are missing on one side)."""
    changed = sorted(set(before) ^ set(after))
    for name in set(before) & set(after):
        a, b = np.asarray(before[name]), np.asarray(after[name])
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            changed.append(name)
    return changed


def _state_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    changes = []
    for key in ("global_step", "param_names", "groups"):
        if before.get(key) != after.get(key):
            changes.append(f"{key}: {before.get(key)!r} -> {after.get(key)!r}")
    slots_before, slots_after = before.get("state", {}), after.get("state", {})
    for name in sorted(set(slots_before) | set(slots_after)):
        for slot in _same_arrays(slots_before.get(name, {}), slots_after.get(name, {})):
            changes.append(f"state[{name!r}][{slot!r}]")
    return changes


def _faulty_grads(record: ErrorInput, backend: Backend, layout: Any, params: Any, step: int) -> Any:
    """The step's gradients with the record's fault, converted by the backend's hook."""
    grads = streams.as_dtype(streams.gradients(layout, step), record.dtype)
    name = record.fault_param
    if record.fault == "shape":
        grads[name] = np.ascontiguousarray(grads[name].T if grads[name].ndim > 1 else grads[name][:-1])
    elif record.fault == "missing":
        del grads[name]
    elif record.fault == "dtype":
        other = "float64" if record.dtype == "float32" else "float32"
        wrong = backend.make_params({name: streams.initial_params(layout)[name]}, other)
        converted = backend.grads_from_numpy({k: v for k, v in grads.items() if k != name}, params)
        converted.update(backend.grads_from_numpy({name: grads[name].astype(other)}, wrong))
        return converted
    return backend.grads_from_numpy(grads, params)


def check_error_input(record: ErrorInput, backend: str | Backend) -> ErrorCheck:
    """Trigger one bad input on a backend and check the exception and that nothing changed.

    Returns:
        An :class:`ErrorCheck` with status ``"passed"``, ``"xfailed"`` (listed in
        ``record.xfails`` and mismatching) or ``"skipped"`` (the backend declares the
        algorithm unsupported or lacks the dtype).

    Raises:
        ErrorInputMismatch: the wrong exception, a message without the fragment, no
            exception, or a change to parameters or state; also a strict XPASS.
        BackendError: ``backend`` names no installed backend.
    """
    chosen = backend if isinstance(backend, Backend) else plugin.get_backend(backend)
    expected = record.xfails.get(chosen.name)
    try:
        exc = _trigger(record, chosen)
    except ErrorInputMismatch as mismatch:
        if expected is not None:
            return ErrorCheck(record, chosen.name, "xfailed", f"expected failure: {expected} ({mismatch})")
        raise
    if isinstance(exc, ErrorCheck):
        return exc
    if expected is not None:
        raise ErrorInputMismatch(f"XPASS(strict): {record.id} is listed as an expected failure on "
                                 f"{chosen.name!r} ({expected}) but passed; remove the entry")
    return ErrorCheck(record, chosen.name, "passed", exception=exc)


def _trigger(record: ErrorInput, backend: Backend) -> BaseException | ErrorCheck:
    cls = dialect_registry[record.optimizer]
    if record.trigger == "construct":
        return _raised(record, backend.name, lambda: cls(**_arguments(record)))
    spec = cls(**_arguments(record)).to_canonical()
    algorithm = spec.algorithm.name
    if algorithm not in backend.kernels and algorithm in backend.unsupported:
        reason = f"{algorithm!r} unsupported: {backend.unsupported[algorithm]}"
        return ErrorCheck(record, backend.name, "skipped", reason)
    if record.dtype not in backend.dtypes:
        return ErrorCheck(record, backend.name, "skipped", f"backend lacks {record.dtype}")
    layout = LAYOUTS[record.layout]
    params = backend.make_params(streams.initial_params(layout), record.dtype)
    if record.trigger == "build":
        before = backend.to_numpy(params)
        exc = _raised(record, backend.name, lambda: backend.build(spec, params, backend.kernels))
        changed = _same_arrays(before, backend.to_numpy(params))
        if changed:
            raise ErrorInputMismatch(f"{record.id} on {backend.name}: the failed build changed {changed}")
        return exc
    optimizer = backend.build(spec, params, backend.kernels)
    for step in range(record.steps_before):
        grads = streams.as_dtype(streams.gradients(layout, step), record.dtype)
        optimizer.step(backend.grads_from_numpy(grads, params))
    before_params, before_state = backend.to_numpy(params), optimizer.state_dict()
    exc = _raised(record, backend.name,
                  lambda: optimizer.step(_faulty_grads(record, backend, layout, params, record.steps_before)))
    changes = _same_arrays(before_params, backend.to_numpy(params))
    changes += _state_changes(before_state, optimizer.state_dict())
    if changes:
        raise ErrorInputMismatch(f"{record.id} on {backend.name}: the failed step changed {changes}")
    return exc
