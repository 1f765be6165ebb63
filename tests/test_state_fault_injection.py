"""Fault injection into real state dicts: ``load_state_dict`` is all or nothing.

Real state dicts of several algorithms (torch-dialect Adam with three groups and two
declared schedulers and an ``lr_override``, SGD whose lr and momentum a bound CyclicLR
drives, MindSpore Momentum with a per-step lr list, Keras Adam, ASGD, Rprop) are taken on
the NumPy, torch and TensorFlow backends. Every field is mutated in turn, walking the dict
recursively: wrong type (``"abc"``, ``None``, a list, a complex number, ``True`` for a
number, ``1`` for a bool), bad value (NaN; a negative counter or learning rate; a changed
string), wrong shape, wrong dtype kind (complex, int, bool, a nested list), a missing key
and an extra key. Each must raise :class:`StateDictError`, whose message names the field
(its key or its parent's), and leave the parameters, slots, ``global_step``, learning
rates and (torch) ``param_groups`` bit for bit as they were. After every mutation the
optimizer takes one more step beside an untouched twin, and the two stay bitwise equal.

Accepted on purpose, and checked to be harmless (nothing changes, the next step equals the
twin's):

* a float64 slot for float32 state: floating-point state of another width is rounded to
  the state dtype, as ``torch.optim`` casts loaded state (float32 widened to float64 and
  back is exact);
* torch ``param_groups``: the optimizer's own keys (``lr``, hyperparameters, ``betas``,
  ``weight_decay``) missing, or a string flag changed, since their values come from the
  spec and the neutral state; ``param_names`` or the whole ``param_groups`` missing (a
  neutral state from another backend); other keys (``initial_lr`` from torch's
  schedulers, or a user's) missing, added or holding other plain data.

Not mutated, because the result is a different valid state rather than a fault: removing
a run-time hyperparameter override or a scheduler value, adding a scheduler value, and
``None`` for a set ``lr_override``. Slot contents are data and not range-checked (a
diverged run's NaNs load, as in torch); host scalars are checked to be finite numbers.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import optbridge
from optbridge.dialects.keras import optimizers as keras_optimizers
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim
from optbridge.dialects.torch.optim import lr_scheduler as obs
from optbridge.errors import StateDictError

SHAPES = {"fc.weight": (3, 2), "fc.bias": (2,), "conv.weight": (2, 2, 2), "head.bias": (3,)}
#: Steps before the state dict is taken (the lr list covers them and one per mutation).
WARMUP = 4
LONG = 2000

#: Paths whose numbers have a lower bound: a negative value must be refused there.
_BOUNDED = ("global_step", "lr_override", "advances", "index", "lr")


# -- the optimizers ------------------------------------------------------------------------
def adam_groups():
    return optim.Adam([{"params": "fc.*", "lr": obs.StepLR.declare(0.01, step_size=2, gamma=0.5, interval="step")},
                       {"params": "conv.*", "lr": obs.ReduceLROnPlateau.declare(0.02, patience=0, factor=0.5)},
                       {"params": "*"}], lr=0.005, amsgrad=True)


def sgd_cyclic():
    return optim.SGD(None, lr=0.05, momentum=0.9)


def momentum_lr_list():
    return nn.Momentum(None, learning_rate=[0.1 * 0.999 ** k for k in range(LONG)], momentum=0.9)


def keras_adam():
    return keras_optimizers.Adam(learning_rate=0.01)


def asgd():
    return nn.ASGD(None, learning_rate=0.05, t0=2.0)


def rprop():
    return optim.Rprop(None, lr=0.01)


def warm_up(opt, stepper, backend: str, name: str) -> None:
    """A few steps, schedules advanced and edited, so every part of the state is non-trivial."""
    sched = None
    if name == "sgd_cyclic":
        if backend == "torch":
            import torch
            sched = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3)
        else:
            sched = obs.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3)
    for k in range(WARMUP):
        stepper(k)
        if sched is not None:
            sched.step()
        if name == "adam_groups":
            opt.end_epoch(metric=1.0)
    if name == "adam_groups":
        opt.set_lr(0.003, group=2)


SPECS: dict[str, Callable[[], Any]] = {
    "adam_groups": adam_groups, "sgd_cyclic": sgd_cyclic, "momentum_lr_list": momentum_lr_list,
    "keras_adam": keras_adam, "asgd": asgd, "rprop": rprop,
}
BACKENDS = ("numpy", "torch", "tensorflow")


def gradient(step: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(500 + step)
    return {n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()}


def initial() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()}


class Harness:
    """One backend's optimizer, its parameters and a step from the shared gradient stream."""

    def __init__(self, backend: str, name: str):
        self.backend = backend
        values = initial()
        if backend == "numpy":
            self.params = values
        elif backend == "torch":
            import torch
            self.params = {n: torch.nn.Parameter(torch.from_numpy(v)) for n, v in values.items()}
        else:
            import tensorflow as tf
            self.params = {n: tf.Variable(v) for n, v in values.items()}
        self.opt = optbridge.build(SPECS[name](), self.params)
        warm_up(self.opt, self.step, backend, name)

    def step(self, k: int) -> None:
        grads = gradient(k)
        if self.backend == "numpy":
            self.opt.step(grads)
        elif self.backend == "torch":
            import torch
            for n, p in self.params.items():
                p.grad = torch.from_numpy(grads[n])
            self.opt.step()
        else:
            import tensorflow as tf
            self.opt.step({n: tf.constant(g) for n, g in grads.items()})

    def param_values(self) -> dict[str, np.ndarray]:
        if self.backend == "numpy":
            return {n: v.copy() for n, v in self.params.items()}
        if self.backend == "torch":
            return {n: p.detach().numpy().copy() for n, p in self.params.items()}
        return {n: v.numpy().copy() for n, v in self.params.items()}

    def fingerprint(self, with_extras: bool = True) -> str:
        """Parameters, state dict (slots, counters, host state), lrs and torch param_groups, exactly."""
        lrs = self.opt.get_lr()  # first: it catches step-interval schedules up (lazily, see ValueTrack)
        parts = {"params": self.param_values(), "state": self.opt.state_dict(), "lrs": lrs,
                 "global_step": self.opt.global_step}
        if self.backend == "torch":
            own = set(self.opt._published[0]) | {"params", "param_names"}
            parts["param_groups"] = [{k: v for k, v in g.items() if k != "params" and (with_extras or k in own)}
                                     for g in self.opt.param_groups]
            if not with_extras:
                parts["state"] = dict(parts["state"], param_groups=[
                    {k: v for k, v in g.items() if k in own} for g in parts["state"]["param_groups"]])
        return repr(_exact(parts))


def _exact(value: Any) -> Any:
    """Arrays and tensors as (dtype, shape, bytes); floats by repr: equal means bit for bit."""
    if hasattr(value, "detach"):
        value = value.detach().numpy()
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes().hex())
    if isinstance(value, dict):  # key order is not state (a reloaded torch group key moves to the end)
        return {k: _exact(value[k]) for k in sorted(value, key=repr)}
    if isinstance(value, (list, tuple)):
        return [type(value).__name__] + [_exact(v) for v in value]
    if isinstance(value, float):
        return float.hex(value)
    return value


# -- the mutations --------------------------------------------------------------------------
Path = tuple


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "detach")


def _array_variants(value: Any) -> dict[str, Any]:
    arr = value.detach().numpy() if hasattr(value, "detach") else value
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
    if hasattr(value, "detach"):
        import torch
        out = {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v for k, v in out.items()}
    return out


def _leaf_variants(value: Any, path: Path) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"int": 1, "abc": "abc", "none": None}
    if isinstance(value, str):
        return {"changed": value + "_x", "int": 7, "none": None}
    out: dict[str, Any] = {"abc": "abc", "list": [0.1], "complex": complex(0.1, 1.0), "nan": math.nan, "bool": True}
    if value is not None:
        out["none"] = None
        out["list"] = [value]
    if path[-1] in _BOUNDED and "runtime" not in path:  # a schedule's runtime numbers carry no range
        out["negative"] = -1 if isinstance(value, int) else -0.5
    if path[-1] == "lr_override" and value is not None:
        del out["none"]  # None is a valid lr_override: no override
    return out


def _optional_entries(path: Path) -> bool:
    """Entries of these mappings are optional: removing or adding one is a valid state."""
    return len(path) >= 1 and path[-1] in ("hyperparameters", "scheduler_values")


def _node_variants(node: Any, path: Path) -> dict[str, Any]:
    """The replacements of the value at ``path`` (a mapping, a list or a leaf)."""
    if _is_array(node):
        return _array_variants(node)
    if isinstance(node, dict):
        out = {} if _optional_entries(path) else {"extra": {**node, "bogus_key": 1.0}}
        return out if not path else {**out, "none": None, "list": [1.0]}
    if isinstance(node, (list, tuple)):
        out = {"longer": type(node)(list(node) + [node[-1] if node else 1.0])}
        if node:
            out["shorter"] = type(node)(list(node)[:-1])
        return {**out, "abc": "abc", "none": None}
    return _leaf_variants(node, path)


def mutations(sd: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
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


def mutated(sd: Any, path: Path, kind: str) -> Any:
    """A deep copy of ``sd`` with the mutation ``kind`` at ``path`` (made from today's value there)."""
    sd = copy.deepcopy(sd)
    if kind == "missing":
        return put(sd, path, _MISSING)
    node = sd
    for key in path:
        node = node[key]
    return put(sd, path, _node_variants(node, path)[kind])


_MISSING = object()


def put(root: Any, path: Path, value: Any) -> Any:
    """``root`` with ``value`` at ``path``, in place (tuples rebuilt; ``_MISSING`` deletes the key)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(root, tuple):
        items = list(root)
        items[head] = put(items[head], rest, value)
        return tuple(items)
    if value is _MISSING and not rest:
        del root[head]
        return root
    root[head] = put(root[head], rest, value)
    return root


def expected_outcome(path: Path, kind: str, torch_own: set[str]) -> str:
    """``"refused"``, ``"unchanged"`` (accepted, nothing changes) or ``"extras"`` (accepted:
    only torch param_groups' scheduler/user keys change)."""
    if kind == "float64" and path and path[0] == "state":
        return "unchanged"
    if path and path[0] == "param_groups":
        if path == ("param_groups",):
            return "unchanged" if kind == "missing" else "refused"
        if len(path) == 2:
            return "extras" if kind == "extra" else "refused"
        key = path[2]
        if key == "params":
            return "refused"
        if key == "param_names":
            return "unchanged" if kind == "missing" and len(path) == 3 else "refused"
        if key in torch_own:
            if len(path) == 3 and (kind == "missing" or kind == "changed"):
                return "unchanged"
            return "refused"
        return "refused" if kind in ("nan", "complex") else "extras"
    return "refused"


def _names_the_field(message: str, path: Path) -> bool:
    """The message names the mutated key or its parent (or the added ``bogus_key``)."""
    keys = [str(k) for k in path if isinstance(k, str)][-2:]
    return not keys or "bogus_key" in message or any(k in message for k in keys)


def inject(backend: str, name: str) -> tuple[int, int, int]:
    """Every mutation of ``name``'s state dict on ``backend``; returns (tried, refused, accepted)."""
    victim, twin = Harness(backend, name), Harness(backend, name)
    torch_own = set(victim.opt._published[0]) if backend == "torch" else set()
    template = victim.opt.state_dict()
    tried = refused = accepted = 0
    for k, (path, kind) in enumerate(mutations(template), start=WARMUP):
        outcome = expected_outcome(path, kind, torch_own)
        before, before_core = victim.fingerprint(), victim.fingerprint(with_extras=False)
        original = copy.deepcopy(victim.opt.state_dict())
        sd = mutated(original, path, kind)
        tried += 1
        where = f"{backend}/{name}: {path} {kind}"
        if outcome == "refused":
            try:
                victim.opt.load_state_dict(sd)
            except StateDictError as exc:
                assert _names_the_field(str(exc), path), f"{where}: the message does not name the field: {exc}"
            else:
                pytest.fail(f"{where}: accepted")
            assert victim.fingerprint() == before, f"{where}: changed state although refused"
            refused += 1
        else:
            try:
                victim.opt.load_state_dict(sd)
            except StateDictError as exc:
                pytest.fail(f"{where}: refused although harmless: {exc}")
            if outcome == "unchanged":
                assert victim.fingerprint() == before, where
            else:
                assert victim.fingerprint(with_extras=False) == before_core, where
                victim.opt.load_state_dict(original)  # the torch scheduler keys as they were
                assert victim.fingerprint() == before, where
            accepted += 1
        victim.step(k)
        twin.step(k)
        a, b = victim.param_values(), twin.param_values()
        for n in SHAPES:
            assert a[n].tobytes() == b[n].tobytes(), f"{where}: the next step differs from the twin's ({n})"
    assert victim.fingerprint(with_extras=False) == twin.fingerprint(with_extras=False)
    return tried, refused, accepted


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_mutation_is_refused_whole_or_harmless(backend, name):
    """See the module docstring; prints the counts (``pytest -s``)."""
    if backend != "numpy":
        pytest.importorskip(backend)
    tried, refused, accepted = inject(backend, name)
    print(f"{backend}/{name}: {tried} mutations, {refused} refused, {accepted} accepted harmlessly")
