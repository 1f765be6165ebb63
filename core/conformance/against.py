"""``optbridge conform CONFIG --against torch|keras|mindspore``: the origin framework's own
optimizer on the conformance stream, beside the backends.

A torch-dialect config is built as ``torch.optim.<Class>``, a Keras-dialect config as
``keras.optimizers.<Class>`` and a MindSpore-dialect config as ``mindspore.nn.<Class>``
(PYNATIVE mode, CPU) from the config's own arguments (the dialects keep the originals'
names, so an argument passes through unchanged):

* **groups** are resolved by optbridge's rules on the layout
  (:func:`optbridge.groups.resolve_groups`); torch gets one param-group dict per group with
  the group's own keys; Keras, which has no groups, gets one optimizer per group with the
  group's values (:func:`torch_param_groups`, :func:`keras_group_optimizers`); MindSpore
  gets its own group dicts and ``order_params`` (:func:`mindspore_optimizer`, also the
  builder of the MindSpore goldens);
* **schedules**: a declared ``torch.optim.lr_scheduler`` becomes torch's scheduler on the
  optimizer, stepped after every optimizer step when its interval is ``"step"`` (the
  conformance run has no epochs, so an ``"epoch"`` scheduler is built, which sets its
  starting value, and never stepped, as on the backends); a
  ``keras.optimizers.schedules`` object becomes Keras's own; MindSpore takes its schedules
  (``nn.<LearningRateSchedule>``) and per-step lists natively. A value with no native form
  (a per-step list on torch or Keras, another framework's schedule, a schedule in a torch
  or Keras group) is reported as not comparable;
* torch runs its single-tensor path (``foreach=False`` unless the config says otherwise),
  the path whose numbers the torch dialect reproduces; Keras's
  ``exclude_from_weight_decay`` is called with the config's patterns.

Both start from the stream's initial parameters and take its gradients
(:mod:`optbridge.conformance.streams`). After every step each parameter is compared with
the NumPy reference: float64 within ``1e-12·max|ref|`` per tensor; float32 within
``1e-6 + 1e-5·|ref|`` per element (the native CPU kernels fuse multiply-adds the canonical
op order rounds twice, so a few last bits differ); bit-identical elements and the worst
ulp distance are counted.
"""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import to_dict
from ..dialects.base import DialectOptimizer, to_data
from ..dialects.torch.optim.lr_scheduler import TorchSchedule
from ..errors import OptbridgeError
from ..groups import ParamInfo, resolve_groups, select
from ..schedules.base import Schedule
from . import compare, streams

__all__ = ["FRAMEWORKS", "EXPECTED_DIFFERENCES", "NotComparableError", "FrameworkRefusal", "AgainstResult",
           "torch_param_groups", "keras_group_optimizers", "mindspore_optimizer", "native_trajectory", "run_against",
           "format_against"]

#: ``--against`` name: (dialect prefix, module to import, the framework's optimizer namespace)
FRAMEWORKS: dict[str, tuple[str, str, str]] = {
    "torch": ("torch.optim.", "torch", "torch.optim"),
    "keras": ("keras.optimizers.", "keras", "keras.optimizers"),
    "mindspore": ("mindspore.nn.", "mindspore", "mindspore.nn"),
}
#: optbridge's own arguments (no native counterpart), left out of the native call.
EXTENSIONS = ("params", "unassigned", "exclude_from_weight_decay")


#: ``{(framework, dtype): why}``: runs whose difference from the dialect is documented, reported
#: but not counted as a disagreement.
EXPECTED_DIFFERENCES: dict[tuple[str, str], str] = {
    ("keras", "float64"): "Keras casts its float32 scalars to float64 variables' dtype and computes there; the "
                          "Keras dialect keeps float32 host scalars (optbridge.dialects.keras.optimizers)",
    ("mindspore", "float64"): "MindSpore holds learning rates and hyperparameters as float32 Parameters, so float64 "
                              "parameters step with float32-rounded scalars; the MindSpore dialect's float64 runs keep "
                              "them in float64 (its goldens and formulas are float32)",
}


class NotComparableError(OptbridgeError, ValueError):
    """The config cannot be run on the named framework (other dialect, value with no native form)."""


class FrameworkRefusal(NotComparableError):
    """The framework's own optimizer refuses to run the config in one dtype (MindSpore's CPU
    kernels of several optimizers take float16/float32 only): that dtype's row says so."""


@dataclass
class AgainstResult:
    """The native run of one dtype against the NumPy reference (``refused``: why the framework
    did not run this dtype)."""

    dtype: str
    steps: int
    deviation: float = 0.0
    identical: int = 0
    total: int = 0
    worst_ulps: float = 0.0
    failure: str = ""
    notes: list[str] = field(default_factory=list)
    expected: str = ""
    refused: str = ""

    @property
    def passed(self) -> bool:
        return not self.failure or bool(self.expected)


def _import(framework: str) -> Any:
    """The framework's module; :class:`ImportError` with the install hint where it is missing."""
    module = FRAMEWORKS[framework][1]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = {"keras": " tensorflow", "mindspore": ' "numpy<2"'}.get(framework, "")
        raise ImportError(f"--against {framework}: {module} is not installed here (pip install {module}{extra}); "
                          f"the native column is left out") from exc


def _native_value(value: Any, where: str, framework: str) -> Any:
    """A number, or a Keras schedule's config as ``(class name, arguments)``; refuses the rest."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, Schedule):
        data = to_data(value)
        kind = str(data.pop("schedule"))
        if framework == "keras" and kind.startswith("keras.optimizers.schedules."):
            return (kind.rsplit(".", 1)[1], data)
        raise NotComparableError(f"{where} is a {kind} schedule, which {framework} has no native form of here")
    raise NotComparableError(f"{where} is {value!r}: a per-step list is an optbridge extension "
                             f"{framework} has no native form of")


def _group_dicts(optimizer: DialectOptimizer, layout: streams.Layout) -> list[tuple[list[str], dict[str, Any]]]:
    """``[(parameter names, group keys), ...]`` of the config's groups on the layout, resolved by
    optbridge's rules (one group of every parameter when ``params`` is ``None``)."""
    params = optimizer.arguments.get("params")
    infos = [ParamInfo(n, tuple(s)) for n, s in layout]
    groups = params if isinstance(params, list) and params and all(isinstance(g, Mapping) for g in params) else None
    selectors = None if groups is None else [g["params"] for g in groups]
    if groups is None and params is not None:
        selectors, groups = [params], [{"params": params}]
    resolution = resolve_groups(selectors, infos, unassigned=optimizer.arguments.get("unassigned", "error"))
    keys = [{}] if groups is None else [{k: v for k, v in g.items() if k != "params"} for g in groups]
    return [(list(r.names), k) for r, k in zip(resolution.groups, keys)]


def torch_param_groups(optimizer: DialectOptimizer, tensors: Mapping[str, Any],
                       layout: streams.Layout) -> list[dict[str, Any]]:
    """torch param-group dicts over ``tensors`` for a torch-dialect config's groups."""
    out = []
    for i, (names, keys) in enumerate(_group_dicts(optimizer, layout)):
        for key, value in keys.items():
            if key in ("lr", "weight_decay"):
                _native_value(value, f"groups[{i}] '{key}'", "torch")
        out.append({"params": [tensors[n] for n in names], **keys})
    return out


def keras_group_optimizers(optimizer: DialectOptimizer, layout: streams.Layout) -> list[tuple[list[str], Any]]:
    """``[(variable names, keras optimizer), ...]``: one Keras optimizer per group of a
    Keras-dialect config, each with the group's values over the config's own."""
    keras = _import("keras")
    cls = getattr(keras.optimizers, optimizer.qualname.rsplit(".", 1)[1])
    base = {k: v for k, v in optimizer.arguments.items() if k not in EXTENSIONS}
    exclude = optimizer.arguments.get("exclude_from_weight_decay")
    out = []
    for i, (names, keys) in enumerate(_group_dicts(optimizer, layout)):
        kwargs = {**base, **keys}
        for key in ("learning_rate", "weight_decay"):
            if kwargs.get(key) is None:
                continue
            where = f"groups[{i}] '{key}'" if key in keys else f"'{key}'"
            value = _native_value(kwargs[key], where, "keras")
            if isinstance(value, tuple):
                value = getattr(keras.optimizers.schedules, value[0])(**value[1])
            kwargs[key] = value
        native = cls(**kwargs)
        if exclude:
            native.exclude_from_weight_decay(var_names=list(exclude))
        out.append((names, native))
    return out


def _torch_trajectory(optimizer: DialectOptimizer, layout: streams.Layout, steps: int, seed: int,
                      dtype: str) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    torch = _import("torch")
    start = streams.as_dtype(streams.initial_params(layout, seed), dtype)
    tensors = {n: torch.tensor(v.copy(), requires_grad=True) for n, v in start.items()}
    kwargs = {k: v for k, v in optimizer.arguments.items() if k not in EXTENSIONS}
    if kwargs.get("foreach") is None:
        kwargs["foreach"] = False
    notes = []
    lr = kwargs.get("lr")
    declaration = None
    if isinstance(lr, TorchSchedule):
        declaration = lr
        kwargs["lr"] = lr.lr if lr.lr is not None else \
            inspect.signature(type(optimizer).__init__).parameters["lr"].default
    elif lr is not None:
        _native_value(lr, "'lr'", "torch")
    if "weight_decay" in kwargs:
        _native_value(kwargs["weight_decay"], "'weight_decay'", "torch")
    cls = getattr(torch.optim, optimizer.qualname.rsplit(".", 1)[1])
    native = cls(torch_param_groups(optimizer, tensors, layout), **kwargs)
    scheduler = None
    if declaration is not None:
        sched_cls = getattr(torch.optim.lr_scheduler, declaration.name)
        scheduler = sched_cls(native, **declaration.arguments)
        if declaration.interval != "step":
            notes.append(f"{declaration.name} has interval 'epoch': built, never stepped (the run has no epochs)")
    clip = _torch_clipping(optimizer, torch)
    out = []
    for step in range(steps):
        grads = streams.as_dtype(streams.gradients(layout, step, seed), dtype)
        for name, tensor in tensors.items():
            tensor.grad = torch.from_numpy(grads[name].copy())
        for function in clip:
            function(list(tensors.values()))
        native.step()
        if scheduler is not None and declaration is not None and declaration.interval == "step":
            scheduler.step()
        out.append({n: t.detach().numpy().copy() for n, t in tensors.items()})
    return out, notes


def _torch_clipping(optimizer: DialectOptimizer, torch: Any) -> list[Any]:
    """The ``torch.nn.utils`` call for each of the optimizer's gradient transforms, run on the
    parameters before ``step()`` as a torch loop does.

    Raises:
        NotComparableError: a transform torch has no function for.
    """
    from ..transforms import ClipByGlobalNorm, ClipByValue

    calls = []
    for t in optimizer.transforms:
        if isinstance(t, ClipByGlobalNorm) and t.form == "torch":
            calls.append(lambda ps, t=t: torch.nn.utils.clip_grad_norm_(ps, t.max_norm, t.norm_type))
        elif isinstance(t, ClipByValue):
            calls.append(lambda ps, t=t: torch.nn.utils.clip_grad_value_(ps, t.clip_value))
        else:
            raise NotComparableError(f"the transform {t.describe()} has no torch.nn.utils function")
    return calls


def _no_transforms(optimizer: DialectOptimizer, framework: str) -> None:
    """Refuse a config whose added transforms the framework's optimizer has no argument for."""
    if optimizer.transforms:
        listed = ", ".join(t.describe() for t in optimizer.transforms)
        raise NotComparableError(f"{framework}'s optimizer has no argument for the added transforms ({listed})")


#: Keras classes that need Keras variables: Adafactor creates a variable named after each
#: model variable (Keras refuses a ``tf.Variable``'s name, ``"dense/kernel:0"``), Muon reads
#: ``variable.path``; they step ``keras.Variable``\\ s named with ``_`` for ``/``.
KERAS_VARIABLE_CLASSES = frozenset({"Adafactor", "Muon"})


def _keras_trajectory(optimizer: DialectOptimizer, layout: streams.Layout, steps: int, seed: int,
                      dtype: str) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    groups = keras_group_optimizers(optimizer, layout)
    try:
        tf = importlib.import_module("tensorflow")
    except ImportError as exc:
        raise ImportError("--against keras: tensorflow is not installed here (the run steps tf.Variables; pip "
                          "install tensorflow); the native column is left out") from exc
    start = streams.as_dtype(streams.initial_params(layout, seed), dtype)
    if optimizer.qualname.rsplit(".", 1)[1] in KERAS_VARIABLE_CLASSES:
        keras = _import("keras")
        variables = {n: keras.Variable(v.copy(), name=n.replace("/", "_")) for n, v in start.items()}
    else:
        variables = {n: tf.Variable(v.copy(), name=n) for n, v in start.items()}
    out = []
    for step in range(steps):
        grads = streams.as_dtype(streams.gradients(layout, step, seed), dtype)
        for names, native in groups:
            native.apply_gradients([(tf.constant(grads[n]), variables[n]) for n in names])
        out.append({n: v.numpy().copy() for n, v in variables.items()})
    return out, []


#: MindSpore arguments that take a tuple where a config holds a list
_MINDSPORE_TUPLES = ("etas", "step_sizes", "eps")


def _mindspore_value(nn: Any, value: Any) -> Any:
    """A config value as MindSpore takes it: a schedule's config as the ``nn`` schedule object."""
    if isinstance(value, Mapping) and "schedule" in value:
        cls = getattr(nn, str(value["schedule"]).rsplit(".", 1)[1])
        return cls(**{k: v for k, v in value.items() if k != "schedule"})
    return value


def mindspore_optimizer(config: Mapping[str, Any], parameters: Mapping[str, Any]) -> Any:
    """The ``mindspore.nn`` optimizer a MindSpore-dialect config (its ``optbridge.to_dict`` form)
    describes, over ``parameters`` (``{name: mindspore.Parameter}``): groups resolved by
    optbridge's rules into MindSpore's group dicts (and ``order_params``), schedules as
    ``nn`` schedule objects, ``nn.LARS`` around its ``base_optimizer`` with ``lars_filter``
    as a function of the parameter's name."""
    nn = importlib.import_module("mindspore.nn")
    infos = [ParamInfo(n, tuple(p.shape)) for n, p in parameters.items()]
    if "base_optimizer" in config:
        wrapped = mindspore_optimizer(config["base_optimizer"], parameters)
        arguments = {k: config[k] for k in ("epsilon", "coefficient", "use_clip") if k in config}
        if config.get("lars_filter") is not None:
            chosen = set(select(config["lars_filter"], infos))
            arguments["lars_filter"] = lambda p: p.name in chosen
        return nn.LARS(wrapped, **arguments)
    from .. import from_dict

    canonical = from_dict(dict(config)).to_canonical()
    kwargs = {k: _mindspore_value(nn, v) for k, v in config.items()
              if k not in ("format_version", "optimizer", "params", "unassigned")}
    kwargs = {k: tuple(v) if k in _MINDSPORE_TUPLES and isinstance(v, list) else v for k, v in kwargs.items()}
    groups = config.get("params")
    if groups is None or canonical.groups is None:
        native: list[Any] = list(parameters.values())
    else:
        resolution = resolve_groups([g.params for g in canonical.groups], infos, order_params=canonical.order_params)
        native = []
        for group, resolved in zip([g for g in groups if "order_params" not in g], resolution.groups):
            entry = {k: _mindspore_value(nn, v) for k, v in group.items() if k != "params"}
            entry["params"] = [parameters[n] for n in resolved.names]
            native.append(entry)
        if canonical.order_params is not None:
            native.append({"order_params": [parameters[n] for n in resolution.order]})
    return getattr(nn, str(config["optimizer"]).rsplit(".", 1)[1])(native, **kwargs)


def _mindspore_trajectory(optimizer: DialectOptimizer, layout: streams.Layout, steps: int, seed: int,
                          dtype: str) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    ms = _import("mindspore")
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    start = streams.as_dtype(streams.initial_params(layout, seed), dtype)
    parameters = {n: ms.Parameter(ms.Tensor(v.copy()), name=n) for n, v in start.items()}
    native = mindspore_optimizer(to_dict(optimizer), parameters)
    order = [p.name for p in native.parameters]
    out = []
    for step in range(steps):
        grads = streams.as_dtype(streams.gradients(layout, step, seed), dtype)
        try:
            native(tuple(ms.Tensor(grads[n]) for n in order))
        except (TypeError, ValueError, RuntimeError) as exc:
            if step:
                raise
            lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not set(line.strip()) <= {"-"}]
            first = lines[0] if lines else type(exc).__name__
            reason = next((line for line in lines if line.startswith("For ")), first)
            raise FrameworkRefusal(f"{optimizer.qualname} does not run {dtype}: {reason[:200]}") from exc
        out.append({n: p.asnumpy().copy() for n, p in parameters.items()})
    return out, []


def native_trajectory(optimizer: DialectOptimizer, framework: str, layout: streams.Layout, steps: int,
                      seed: int = 0, dtype: str = "float32") -> tuple[list[dict[str, np.ndarray]], list[str]]:
    """The native optimizer's parameters after every step, and notes on how it was run.

    Raises:
        ImportError: the framework is not installed (the message says what to install).
        NotComparableError: the config is another framework's dialect, or holds a value
            the framework has no native form of.
    """
    prefix = FRAMEWORKS[framework][0]
    if not optimizer.qualname.startswith(prefix):
        raise NotComparableError(f"--against {framework} runs {FRAMEWORKS[framework][2]} configs; this one is "
                                 f"{optimizer.qualname}")
    if framework == "torch":
        return _torch_trajectory(optimizer, layout, steps, seed, dtype)
    _no_transforms(optimizer, framework)
    if framework == "mindspore":
        return _mindspore_trajectory(optimizer, layout, steps, seed, dtype)
    return _keras_trajectory(optimizer, layout, steps, seed, dtype)


def run_against(optimizer: DialectOptimizer, framework: str, layout: streams.Layout, steps: int, seed: int,
                dtypes: Sequence[str]) -> list[AgainstResult]:
    """Run the native optimizer in each dtype and compare it with the NumPy reference (see the
    module docstring for the rule).

    Raises:
        ImportError, NotComparableError: as :func:`native_trajectory`.
    """
    results = []
    for dtype in dtypes:
        try:
            native, notes = native_trajectory(optimizer, framework, layout, steps, seed, dtype)
        except FrameworkRefusal as exc:
            results.append(AgainstResult(dtype, steps, refused=str(exc)))
            continue
        reference = streams.reference_trajectory(optimizer, layout, steps, seed, dtype)
        result = AgainstResult(dtype, steps, notes=notes, expected=EXPECTED_DIFFERENCES.get((framework, dtype), ""))
        for step, (theirs, ours) in enumerate(zip(native, reference)):
            for name, ref in ours.items():
                x = theirs[name]
                deviation = compare.relative_deviation(x, ref)
                result.deviation = max(result.deviation, deviation)
                result.identical += compare.bitwise_equal_count(x, ref)
                result.total += ref.size
                result.worst_ulps = max(result.worst_ulps, compare.ulp_distance(x, ref))
                if dtype == "float64":
                    bad = not deviation <= 1e-12
                else:
                    r64, x64 = ref.astype(np.float64), x.astype(np.float64)
                    bad = not bool(np.all(np.abs(x64 - r64) <= 1e-6 + 1e-5 * np.abs(r64)))
                if bad and not result.failure:
                    result.failure = f"step {step}: {name}: deviation {deviation:.3g} from the NumPy reference"
        results.append(result)
    return results


def format_against(framework: str, results: Sequence[AgainstResult]) -> str:
    """The native column: one row per dtype."""
    module = importlib.import_module(FRAMEWORKS[framework][1])
    lines = [f"against {FRAMEWORKS[framework][2]} ({FRAMEWORKS[framework][1]} {module.__version__}), the origin "
             "framework's own optimizer on the same stream, vs the NumPy reference:",
             "dtype    steps  max rel dev  bit-identical  worst ulp  result"]
    notes: list[str] = []
    for r in results:
        if r.refused:
            lines.append(f"{r.dtype:8s} {'-':>5s}  {'-':>11s}  {'-':>13s}  {'-':>9s}  not run ({r.refused})")
            continue
        share = f"{r.identical / r.total:.2%}" if r.total else "-"
        result = "agrees" if not r.failure else f"DIFFERS ({r.failure})"
        if r.failure and r.expected:
            result = f"differs, as documented ({r.failure})"
            notes.append(f"{r.dtype}: {r.expected}")
        lines.append(f"{r.dtype:8s} {r.steps:5d}  {r.deviation:11.3e}  {share:>13s}  {r.worst_ulps:9.0f}  {result}")
    notes += [n for r in results for n in r.notes]
    for note in dict.fromkeys(notes):
        lines.append(f"note: {note}")
    return "\n".join(lines)
