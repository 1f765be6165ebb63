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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import plugin
from ..dialects.base import dialect_registry
from ..errors import (
    DuplicateParameterError,
    GroupError,
    ScheduleExhaustedError,
    StepInputError,
)
from ..plugin import Backend
from . import streams
from .catalog import CONSTRUCT_ERRORS
from .catalog.base import ErrorInput
from .hooks import hooks
from .layouts import LAYOUTS

__all__ = ["ErrorInput", "ErrorCheck", "ERROR_INPUTS", "TRIGGERS", "check_error_input", "ErrorInputMismatch"]

TRIGGERS = ("construct", "build", "step")


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
_MOM = "mindspore.nn.Momentum"
_SGD = "mindspore.nn.SGD"
_ASGD = "mindspore.nn.ASGD"
_ADAM = "mindspore.nn.Adam"
_ADAMW = "mindspore.nn.AdamWeightDecay"


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
ERROR_INPUTS: tuple[ErrorInput, ...] = CONSTRUCT_ERRORS + _BUILD + _STEP


def _arguments(record: ErrorInput) -> dict[str, Any]:
    """Constructor arguments with schedule dicts turned into schedule objects."""
    from ..schedules.base import schedule_from_config

    def convert(value: Any) -> Any:
        if isinstance(value, Mapping) and "schedule" in value:
            return schedule_from_config(value)
        return value

    return {k: convert(v) for k, v in record.kwargs.items()}


class _FaultNotInjectable(Exception):
    """The backend's hooks cannot express the record's fault (the reason is the argument)."""


def _raised(record: ErrorInput, backend: str, action: Callable[[], Any]) -> BaseException:
    """Run ``action``; return its exception if it is the record's, else raise a mismatch."""
    try:
        action()
    except _FaultNotInjectable:
        raise
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
    """The step's gradients with the record's fault, converted by the backend's hook.

    Raises:
        _FaultNotInjectable: a ``dtype`` fault on a backend that lacks the other dtype
            (JAX without ``jax_enable_x64``), or whose ``grads_from_numpy`` attaches
            gradients to the parameters in place and returns ``None`` (torch's ``.grad``):
            the hook converts to each parameter's own dtype, so a gradient of another
            dtype cannot be handed over through it.
    """
    conversions = hooks(backend)
    grads = streams.as_dtype(streams.gradients(layout, step), record.dtype)
    name = record.fault_param
    if record.fault == "shape":
        grads[name] = np.ascontiguousarray(grads[name].T if grads[name].ndim > 1 else grads[name][:-1])
    elif record.fault == "missing":
        del grads[name]
    elif record.fault == "dtype":
        other = "float64" if record.dtype == "float32" else "float32"
        if other not in backend.dtypes:
            raise _FaultNotInjectable(f"backend lacks {other}, the wrong gradient's dtype")
        wrong = conversions.make_params({name: streams.initial_params(layout)[name]}, other)
        faulty = conversions.grads_from_numpy({name: grads[name].astype(other)}, wrong)
        if faulty is None:
            raise _FaultNotInjectable(
                f"{backend.name!r} attaches gradients in place (grads_from_numpy returned None), in each "
                f"parameter's own dtype: a {other} gradient for a {record.dtype} parameter cannot be handed "
                f"over through the suite's hooks; the backend's own tests cover it")
        converted = conversions.grads_from_numpy({k: v for k, v in grads.items() if k != name}, params)
        return {**converted, **faulty}
    return conversions.grads_from_numpy(grads, params)


def check_error_input(record: ErrorInput, backend: str | Backend) -> ErrorCheck:
    """Trigger one bad input on a backend and check the exception and that nothing changed.

    Returns:
        An :class:`ErrorCheck` with status ``"passed"``, ``"xfailed"`` (listed in
        ``record.xfails`` or the backend's ``expected_failures`` and mismatching) or ``"skipped"``
        (the backend declares the algorithm unsupported or lacks the dtype).

    Raises:
        ErrorInputMismatch: the wrong exception, a message without the fragment, no
            exception, or a change to parameters or state; also a strict XPASS.
        BackendError: ``backend`` names no installed backend.
    """
    chosen = backend if isinstance(backend, Backend) else plugin.get_backend(backend)
    expected = record.xfails.get(chosen.name, chosen.expected_failures.get(record.id))
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
    for algorithm in (alg.name for alg in spec.group_algorithms()):
        if algorithm in backend.unsupported:
            reason = f"{algorithm!r} unsupported: {backend.unsupported[algorithm]}"
            return ErrorCheck(record, backend.name, "skipped", reason)
    if record.dtype not in backend.dtypes:
        return ErrorCheck(record, backend.name, "skipped", f"backend lacks {record.dtype}")
    layout = LAYOUTS[record.layout]
    conversions = hooks(backend)
    params = conversions.make_params(streams.initial_params(layout), record.dtype)
    if record.trigger == "build":
        before = conversions.to_numpy(params)
        exc = _raised(record, backend.name, lambda: backend.build(spec, params, backend.kernels))
        changed = _same_arrays(before, conversions.to_numpy(params))
        if changed:
            raise ErrorInputMismatch(f"{record.id} on {backend.name}: the failed build changed {changed}")
        return exc
    optimizer = backend.build(spec, params, backend.kernels)
    for step in range(record.steps_before):
        grads = streams.as_dtype(streams.gradients(layout, step), record.dtype)
        optimizer.step(conversions.grads_from_numpy(grads, params))
    before_params, before_state = conversions.to_numpy(params), optimizer.state_dict()
    try:
        exc = _raised(record, backend.name,
                      lambda: optimizer.step(_faulty_grads(record, backend, layout, params, record.steps_before)))
    except _FaultNotInjectable as not_injectable:
        return ErrorCheck(record, backend.name, "skipped", str(not_injectable))
    changes = _same_arrays(before_params, conversions.to_numpy(params))
    changes += _state_changes(before_state, optimizer.state_dict())
    if changes:
        raise ErrorInputMismatch(f"{record.id} on {backend.name}: the failed step changed {changes}")
    return exc
