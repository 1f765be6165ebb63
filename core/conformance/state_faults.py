"""Fault injection into real state dicts: a backend's ``load_state_dict`` is all or nothing.

Shipped with the conformance suite, so a third-party backend checks itself the way the
built-in ones are checked::

    from optbridge.conformance.state_faults import STATE_FAULT_CASES, check_state_faults

    @pytest.mark.parametrize("case", sorted(STATE_FAULT_CASES))
    def test_state_faults(case):
        report = check_state_faults("mybackend", case)
        assert report.refused > 0

For one case (:data:`STATE_FAULT_CASES`: torch-dialect Adam with three groups, two
declared schedulers and an ``lr_override``; SGD whose lr and momentum a bound
``CyclicLR`` drives; MindSpore Momentum with a per-step lr list; Keras Adam; ASGD;
Rprop; torch-dialect Adafactor, whose statistics are factored slots) two optimizers are
built on the backend and stepped alike (a *victim* and its *twin*), and the victim's
state dict is mutated field by field, walking it recursively:
wrong type (``"abc"``, ``None``, a list, a NumPy array, a complex number, ``True`` for a
number, ``1`` for a bool), bad value (NaN; a negative counter or learning rate; a changed string),
wrong shape, wrong dtype kind (complex, int, bool, a nested list), a missing key and an
extra key. Each must raise :class:`~optbridge.errors.StateDictError` whose message names
the field (its key or its parent's), and leave the parameters, the state dict (slots,
counters, host state), ``get_lr()`` and (where the optimizer has them) ``param_groups``
bit for bit as they were. After every mutation both optimizers step once more, and their
parameters must stay bitwise equal.

Accepted on purpose, and checked to change nothing:

* a float64 slot for float32 state: floating-point state of another width is rounded to
  the state dtype, as ``torch.optim`` casts loaded state (float32 widened and rounded
  back is exact);
* in a torch-layout ``param_groups``: the optimizer's own keys (``lr``, hyperparameters,
  ``betas``, ``weight_decay``) missing, or a string flag changed (their values come from
  the spec and the neutral state); ``param_names`` or the whole ``param_groups`` missing
  (a neutral state from another backend). Other keys there (``initial_lr`` from torch's
  schedulers, or a user's) are plain data: missing, added or other plain values load and
  change only those keys. Each group's ``"optbridge"`` entry (the torch backend's copy of
  the engine's state for ``torch.distributed.checkpoint``, which keeps only ``state`` and
  ``param_groups``) is read only when the neutral keys are absent: in a whole state any
  change to it loads and changes nothing.

Not mutated, because the result is a different valid state rather than a fault: removing
a run-time hyperparameter override or a scheduler value, adding a scheduler value, and
``None`` for a set ``lr_override``. Slot contents are data and are not range-checked (a
diverged run's NaNs load, as in torch); host scalars are checked to be finite numbers.
"""
from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StateDictError

__all__ = ["STATE_FAULT_CASES", "StateFaultReport", "check_state_faults", "mutations", "mutated"]

SHAPES = {"fc.weight": (3, 2), "fc.bias": (2,), "conv.weight": (2, 2, 2), "head.bias": (3,)}
#: Steps before the mutations start.
WARMUP = 4
#: Length of the per-step lr list (the warm-up plus one step per mutation fit in it).
LONG = 3000
#: Keys whose numbers have a lower bound: a negative value must be refused there.
_BOUNDED = ("global_step", "lr_override", "advances", "index", "lr")
_MISSING = object()


# -- the cases --------------------------------------------------------------------------------
def _adam_groups():
    from ..dialects.torch import optim
    from ..dialects.torch.optim import lr_scheduler as obs
    return optim.Adam([{"params": "fc.*", "lr": obs.StepLR.declare(0.01, step_size=2, gamma=0.5, interval="step")},
                       {"params": "conv.*", "lr": obs.ReduceLROnPlateau.declare(0.02, patience=0, factor=0.5)},
                       {"params": "*"}], lr=0.005, amsgrad=True)


def _sgd_cyclic():
    from ..dialects.torch import optim
    return optim.SGD(None, lr=0.05, momentum=0.9)


def _momentum_lr_list():
    from ..dialects.mindspore import nn
    return nn.Momentum(None, learning_rate=[0.1 * 0.999 ** k for k in range(LONG)], momentum=0.9)


def _keras_adam():
    from ..dialects.keras import optimizers
    return optimizers.Adam(learning_rate=0.01)


def _asgd():
    from ..dialects.mindspore import nn
    return nn.ASGD(None, learning_rate=0.05, t0=2.0)


def _rprop():
    from ..dialects.torch import optim
    return optim.Rprop(None, lr=0.01)


def _adafactor():
    from ..dialects.torch import optim
    return optim.Adafactor(None, lr=0.01, weight_decay=0.01)


#: ``{case name: spec factory}``.
STATE_FAULT_CASES: dict[str, Callable[[], Any]] = {
    "adam_groups": _adam_groups, "sgd_cyclic": _sgd_cyclic, "momentum_lr_list": _momentum_lr_list,
    "keras_adam": _keras_adam, "asgd": _asgd, "rprop": _rprop, "adafactor": _adafactor,
}


def _default_warm_up(case: str) -> Callable[[Any, Callable[[int], None]], None]:
    """A few steps with the case's schedules advanced and edited, so every part of the state is set."""
    def warm_up(opt: Any, step: Callable[[int], None]) -> None:
        sched = None
        if case == "sgd_cyclic":
            from ..dialects.torch.optim import lr_scheduler as obs
            sched = obs.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3)
        for k in range(WARMUP):
            step(k)
            if sched is not None:
                sched.step()
            if case == "adam_groups":
                opt.end_epoch(metric=1.0)
        if case == "adam_groups":
            opt.set_lr(0.003, group=2)
    return warm_up


def _gradient(step: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(500 + step)
    return {n: rng.standard_normal(s) for n, s in SHAPES.items()}


class _Run:
    """One optimizer on a backend, stepped with the shared gradient stream."""

    def __init__(self, backend: Any, spec: Any, dtype: str, warm_up: Callable[[Any, Callable[[int], None]], None]):
        self.backend = backend
        self.dtype = dtype
        rng = np.random.default_rng(7)
        self.params = backend.make_params({n: rng.standard_normal(s) for n, s in SHAPES.items()}, dtype)
        self.opt = backend.build(spec.to_canonical(), self.params, backend.kernels)
        warm_up(self.opt, self.step)

    def step(self, k: int) -> None:
        grads = {n: g.astype(self.dtype) for n, g in _gradient(k).items()}
        returned = self.opt.step(self.backend.grads_from_numpy(grads, self.params))
        if self.backend.functional:
            self.params = returned

    def values(self) -> dict[str, np.ndarray]:
        return {n: np.array(v, copy=True) for n, v in self.backend.to_numpy(self.params).items()}

    def fingerprint(self, own: set[str] | None = None) -> str:
        """Parameters, state dict, lrs, global step and ``param_groups``, exactly.

        ``own``: keep only these keys of torch-layout groups (the optimizer's own ones).
        """
        lrs = self.opt.get_lr()  # first: it catches step-interval schedules up (lazily, see ValueTrack)
        state = self.opt.state_dict()
        groups = [{k: v for k, v in g.items() if k != "params"} for g in getattr(self.opt, "param_groups", [])]
        if own is not None:
            keep = own | {"params", "param_names"}
            groups = [{k: v for k, v in g.items() if k in keep} for g in groups]
            if "param_groups" in state:
                state = dict(state, param_groups=[{k: v for k, v in g.items() if k in keep}
                                                  for g in state["param_groups"]])
        return repr(_exact({"params": self.values(), "state": state, "lrs": lrs,
                            "global_step": self.opt.global_step, "param_groups": groups}))


def _exact(value: Any) -> Any:
    """Arrays as (dtype, shape, bytes), floats as hex, mappings by sorted key: equal means bit for bit."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) or (hasattr(value, "__array__") and hasattr(value, "dtype")):
        value = np.asarray(value)
        return ("array", value.dtype.str, value.shape, value.tobytes().hex())
    if isinstance(value, dict):  # key order is no state (a reloaded torch group key moves to the end)
        return {k: _exact(value[k]) for k in sorted(value, key=repr)}
    if isinstance(value, (list, tuple)):
        return [type(value).__name__] + [_exact(v) for v in value]
    if isinstance(value, float):
        return float.hex(value)
    return value


# -- the mutations ----------------------------------------------------------------------------
def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or (hasattr(value, "__array__") and hasattr(value, "shape")
                                              and hasattr(value, "dtype"))


def _array_variants(value: Any) -> dict[str, Any]:
    tensor = hasattr(value, "detach")
    arr = value.detach().cpu().numpy() if tensor else np.asarray(value)
    out = {
        "shape": np.concatenate([arr.ravel(), arr.ravel()[:1]]),
        "complex": arr.astype(np.complex64) + 1j,
        "int": arr.astype(np.int32),
        "bool": arr > 0,
        "list": arr.tolist(),
        "none": None,
        "abc": "abc",
        "float64": arr.astype(np.float64),
    }
    if tensor:  # the same faults as tensors of the state dict's framework (already imported: core imports none)
        framework = sys.modules[type(value).__module__.partition(".")[0]]
        out = {k: framework.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
               for k, v in out.items()}
    return out


def _leaf_variants(value: Any, path: tuple) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"int": 1, "abc": "abc", "none": None}
    if isinstance(value, str):
        return {"changed": value + "_x", "int": 7, "none": None, "array": np.array([value, value])}
    out: dict[str, Any] = {"abc": "abc", "list": [0.1], "complex": complex(0.1, 1.0), "nan": math.nan, "bool": True,
                           "array": np.array([1, 2])}
    if value is not None:
        out["none"] = None
        out["list"] = [value]
    if path and path[-1] in _BOUNDED and "runtime" not in path:  # a schedule's runtime numbers carry no range
        out["negative"] = -1 if isinstance(value, int) else -0.5
    if path and path[-1] == "lr_override" and value is not None:
        del out["none"]  # None is a valid lr_override: no override
    return out


def _optional_entries(path: tuple) -> bool:
    """Entries of these mappings are optional: removing or adding one is a valid state."""
    return bool(path) and path[-1] in ("hyperparameters", "scheduler_values")


def _node_variants(node: Any, path: tuple) -> dict[str, Any]:
    """The replacements of the value at ``path`` (an array, a mapping, a list or a leaf)."""
    if _is_array(node):
        return _array_variants(node)
    if isinstance(node, dict):
        out: dict[str, Any] = {} if _optional_entries(path) else {"extra": {**node, "bogus_key": 1.0}}
        return out if not path else {**out, "none": None, "list": [1.0]}
    if isinstance(node, (list, tuple)):
        out = {"longer": type(node)(list(node) + [node[-1] if node else 1.0])}
        if node:
            out["shorter"] = type(node)(list(node)[:-1])
        return {**out, "abc": "abc", "none": None}
    return _leaf_variants(node, path)


def mutations(sd: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """``(path, kind)`` for every field of ``sd``: its variants, and ``"missing"`` for each key."""
    for kind in _node_variants(sd, path):
        yield path, kind
    if isinstance(sd, dict):
        if not _optional_entries(path):
            for key in sd:
                yield path + (key,), "missing"
        for key, value in sd.items():
            yield from mutations(value, path + (key,))
    elif isinstance(sd, (list, tuple)):
        for i, value in enumerate(sd):
            yield from mutations(value, path + (i,))


def _put(root: Any, path: tuple, value: Any) -> Any:
    """``root`` with ``value`` at ``path``, in place (tuples rebuilt; ``_MISSING`` deletes the key)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(root, tuple):
        items = list(root)
        items[head] = _put(items[head], rest, value)
        return tuple(items)
    if value is _MISSING and not rest:
        del root[head]
        return root
    root[head] = _put(root[head], rest, value)
    return root


def mutated(sd: Any, path: tuple, kind: str) -> Any:
    """A deep copy of ``sd`` with the mutation ``kind`` at ``path`` (made from the value there)."""
    sd = copy.deepcopy(sd)
    if kind == "missing":
        return _put(sd, path, _MISSING)
    node = sd
    for key in path:
        node = node[key]
    return _put(sd, path, _node_variants(node, path)[kind])


#: the key of a torch-layout group holding the engine's state of that group, read only when a
#: state dict has no neutral keys (``optbridge.backends.torch.state_io.HOST_KEY``)
TORCH_LAYOUT_COPY = "optbridge"


def expected_outcome(path: tuple, kind: str, own: set[str]) -> str:
    """``"refused"``, ``"unchanged"`` (accepted, nothing changes) or ``"extras"`` (accepted:
    only the non-own keys of torch-layout ``param_groups`` change). ``own``: the
    optimizer's own group keys."""
    if kind == "float64" and path and path[0] == "state":
        return "unchanged"
    if not path or path[0] != "param_groups":
        return "refused"
    if path == ("param_groups",):
        return "unchanged" if kind == "missing" else "refused"
    if len(path) == 2:
        return "extras" if kind == "extra" else "refused"
    key = path[2]
    if key == TORCH_LAYOUT_COPY:
        return "unchanged"
    if key == "params":
        return "refused"
    if key == "param_names":
        return "unchanged" if kind == "missing" and len(path) == 3 else "refused"
    if key in own:
        return "unchanged" if len(path) == 3 and kind in ("missing", "changed") else "refused"
    return "refused" if kind in ("nan", "complex", "array") else "extras"


def _names_the_field(message: str, path: tuple) -> bool:
    """The message names the mutated key or its parent (or the added ``bogus_key``)."""
    keys = [str(k) for k in path if isinstance(k, str)][-2:]
    return not keys or "bogus_key" in message or any(k in message for k in keys)


# -- the check --------------------------------------------------------------------------------
@dataclass(frozen=True)
class StateFaultReport:
    """What :func:`check_state_faults` tried: mutations, refusals and harmless acceptances."""

    backend: str
    case: str
    tried: int
    refused: int
    accepted: int

    def __str__(self) -> str:
        return (f"{self.backend}/{self.case}: {self.tried} mutations, {self.refused} refused, "
                f"{self.accepted} accepted harmlessly")


def check_state_faults(backend: str, case: str, *, dtype: str = "float32",
                       warm_up: Callable[[Any, Callable[[int], None]], None] | None = None) -> StateFaultReport:
    """Mutate every field of ``case``'s state dict on ``backend`` (see the module docstring).

    Args:
        backend: a registered backend with ``make_params``/``to_numpy``/``grads_from_numpy``.
        case: a key of :data:`STATE_FAULT_CASES`.
        dtype: the parameters' dtype.
        warm_up: ``warm_up(optimizer, step)`` run on both optimizers before the mutations
            (``step(k)`` takes step ``k`` of the gradient stream; use ``k < WARMUP``);
            default: the case's own (a few steps, its schedules advanced and edited).

    Raises:
        AssertionError: naming the path and mutation that was accepted although harmful,
            refused although harmless, refused without naming the field, changed something
            although refused, or made the next step differ from the twin's.
    """
    from .. import plugin

    record = plugin.get_backend(backend)
    spec = STATE_FAULT_CASES[case]()
    warm_up = warm_up or _default_warm_up(case)
    victim, twin = _Run(record, spec, dtype, warm_up), _Run(record, spec, dtype, warm_up)
    hyper = spec.to_canonical().algorithm.hyperparameters()
    own = set(hyper) | {"lr", "weight_decay"} | ({"betas"} if {"beta1", "beta2"} <= set(hyper) else set())
    tried = refused = accepted = 0
    for k, (path, kind) in enumerate(mutations(victim.opt.state_dict()), start=WARMUP):
        outcome = expected_outcome(path, kind, own)
        before, before_own = victim.fingerprint(), victim.fingerprint(own)
        original = copy.deepcopy(victim.opt.state_dict())
        sd = mutated(original, path, kind)
        tried += 1
        where = f"{backend}/{case}: {path} {kind}"
        if outcome == "refused":
            try:
                victim.opt.load_state_dict(sd)
            except StateDictError as exc:
                if not _names_the_field(str(exc), path):
                    raise AssertionError(f"{where}: the message does not name the field: {exc}") from None
            else:
                raise AssertionError(f"{where}: accepted")
            if victim.fingerprint() != before:
                raise AssertionError(f"{where}: the state changed although the load was refused")
            refused += 1
        else:
            try:
                victim.opt.load_state_dict(sd)
            except StateDictError as exc:
                raise AssertionError(f"{where}: refused although harmless: {exc}") from None
            if outcome == "unchanged" and victim.fingerprint() != before:
                raise AssertionError(f"{where}: accepted, and the state changed")
            if outcome == "extras":
                if victim.fingerprint(own) != before_own:
                    raise AssertionError(f"{where}: accepted, and more than the scheduler/user keys changed")
                victim.opt.load_state_dict(original)  # those keys as they were
                if victim.fingerprint() != before:
                    raise AssertionError(f"{where}: reloading the original state did not restore it")
            accepted += 1
        victim.step(k)
        twin.step(k)
        a, b = victim.values(), twin.values()
        for n in SHAPES:
            if a[n].tobytes() != b[n].tobytes():
                raise AssertionError(f"{where}: the next step differs from the untouched twin's ({n})")
    if victim.fingerprint(own) != twin.fingerprint(own):
        raise AssertionError(f"{backend}/{case}: the state differs from the twin's after {tried} mutations")
    return StateFaultReport(backend, case, tried, refused, accepted)
