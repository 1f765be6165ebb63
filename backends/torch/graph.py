"""A step traced whole: ``Optimizer(..., capturable=True)`` under ``torch.compile(fullgraph=True)``.

By default ``Optimizer.step`` is a graph break inside a compiled function: the host work
of a step (the engine's scalars, schedules) is Python. With ``capturable=True`` (the name
of torch.optim's option for the same promise) the step that ``torch.compile`` traces runs
no Python and reads no tensor on the host, so it compiles into the user's graph with
``fullgraph=True`` and can be captured in a CUDA graph (``mode="reduce-overhead"``):

* the host scalars of the next ``horizon`` steps are computed ahead by the engine, in the
  origin framework's precision, into a float64 device table
  (:meth:`optbridge.scalars.ScalarLayout.table`) that the step indexes with a step counter
  on the parameters' device, which it then increments — MindSpore's own way for per-step
  learning-rate lists, and the TensorFlow backend's under XLA;
* each bucket runs the gradient pre-processing (:func:`optbridge.preprocess.preprocess_gradients`)
  and its algorithm's shared rule on :data:`FUNCTIONAL_OPS` — the torch ops with every
  write returning a new tensor, so a flag read from the table (SGD's ``first_step``,
  ASGD's ``average``, RAdam's ``rectified``) selects between two computed branches with
  ``torch.where`` — and the results are copied into the parameters and state at the end
  (inductor fuses the copies into the update);
* the engine catches up with the counter whenever the optimizer is used from the host
  (``param_groups``, ``get_lr``, ``state_dict``, ``global_step``, a torch scheduler, an
  eager ``step()``; :attr:`Optimizer.engine` does it), and the table is recomputed after
  every change of a future value (``set_lr``, a scheduler's write, ``load_state_dict``:
  ``Engine.watch``) and whenever less than half of it is left.

A compiled step past the table cannot call Python: its scalars are NaN, so every updated
parameter turns NaN. Give ``horizon`` at least the number of steps run between two uses
of the optimizer from the host (a training loop that reads ``param_groups`` or steps a
scheduler each iteration never comes near it).

Numbers: the rule compiled by inductor, as on the ``"compiled"`` path: on CPU the same
bits as the NumPy reference wherever that path has them.
"""
from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from optbridge.engine import Engine
from optbridge.errors import BackendError, SpecValueError
from optbridge.ops import PRIMITIVES, WRITES
from optbridge.preprocess import preprocess_gradients
from optbridge.scalars import HEADER, ScalarLayout

from . import ops as torch_ops

__all__ = ["DEFAULT_HORIZON", "FUNCTIONAL_OPS", "GraphStep"]

#: steps whose host scalars a traced step finds on the device
DEFAULT_HORIZON = 4096


def _like(x: torch.Tensor, value: Any) -> torch.Tensor:
    """``value`` as a new tensor of ``x``'s shape and dtype (what ``x.copy_(value)`` would hold)."""
    if not isinstance(value, torch.Tensor):
        return torch.full_like(x, value)
    if value.dtype != x.dtype:
        value = value.to(x.dtype)
    return value if value.shape == x.shape else value.expand_as(x)


#: each write primitive of the protocol (``optbridge.ops.WRITES``) as a new tensor
_FUNCTIONAL_WRITES: dict[str, Any] = {
    "assign_": lambda x, value: _like(x, value),
    "add_": lambda x, y: _like(x, x + y),
    "sub_": lambda x, y: _like(x, x - y),
    "mul_": lambda x, y: _like(x, x * y),
    "sub_scaled_": lambda x, delta, alpha: _like(x, x - delta * alpha),
    "add_scaled_": lambda x, delta, alpha: _like(x, x + delta * alpha),
}


def _functional_ops() -> types.SimpleNamespace:
    """The torch ops namespace's primitives with every write returning a new tensor (the rules
    rebind each written array, as on JAX), the arithmetic of each the in-place op's."""
    if set(_FUNCTIONAL_WRITES) != set(WRITES):
        raise BackendError(f"the functional torch ops cover the writes {sorted(_FUNCTIONAL_WRITES)}, the protocol "
                           f"has {sorted(WRITES)}")
    return types.SimpleNamespace(**{**{n: getattr(torch_ops, n) for n in PRIMITIVES}, **_FUNCTIONAL_WRITES})


#: the torch ops with functional writes (see :func:`_functional_ops`)
FUNCTIONAL_OPS = _functional_ops()


def _write(target: torch.Tensor, value: torch.Tensor) -> None:
    """``target ← value`` in place; a 0-d target through a 1-element view (torch 2.13's
    ``torch.compile`` drops in-place updates of a 0-d CPU input that does not require grad)."""
    if value is target:
        return
    if target.dim() == 0:
        target.view(1).copy_(value.reshape(1))
    else:
        target.copy_(value)


class GraphStep:
    """The device table, step counter and traced step of one capturable optimizer.

    Args:
        engine: the optimizer's engine (its groups may grow: :meth:`relayout`).
        params: ``{name: tensor}`` of the optimizer.
        state: the optimizer's ``state`` (``{tensor: {slot: tensor}}``).
        state_dtype: the optimizer's ``state_dtype`` (``None``: the parameter dtype).
        horizon: rows of the device table.
    """

    def __init__(self, engine: Engine, params: Mapping[str, torch.Tensor], state: Any,
                 state_dtype: torch.dtype | None, horizon: int):
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise SpecValueError(f"horizon must be an int >= 1. Received: {horizon!r}")
        devices = {t.device for t in params.values()}
        if len(devices) != 1:
            raise SpecValueError(f"capturable=True needs every parameter on one device; they are on "
                                 f"{sorted(map(str, devices))}")
        self.engine = engine
        self.state = state
        self.state_dtype = state_dtype
        self.horizon = horizon
        self.device = devices.pop()
        # 1-element tensors (a 0-d counter's in-place increment would be dropped, see _write)
        self.clock = torch.zeros(1, dtype=torch.int64, device=self.device)
        self.start = torch.zeros(1, dtype=torch.int64, device=self.device)
        self.rows = torch.zeros(1, dtype=torch.int64, device=self.device)
        self.layout = ScalarLayout(engine)
        self.table = torch.empty(0, dtype=torch.float64, device=self.device)
        self.layout_key: tuple[int, ...] = ()
        self.table_end = 0
        self.fill()
        self.bind(params)
        engine.watch(self.fill)

    # -- the host side ------------------------------------------------------------------------
    def check_rules(self) -> None:
        """Every group's algorithm has a shared rule (the traced step runs rules only)."""
        for g in self.engine.groups:
            if not g.algorithm.has_rule():
                raise BackendError(f"groups[{g.index}] ({g.label}): algorithm {g.algorithm.name!r} has no shared "
                                   f"rule; capturable=True runs the shared rules only")

    def catch_up(self) -> None:
        """Commit, on the host, the steps the counter has run; refill the table when less
        than half of it is left."""
        done = int(self.clock[0])
        if done > self.engine.global_step:
            self.engine.catch_up(done)
        if self.table_end - self.engine.global_step < self.horizon // 2:
            self.fill()

    def stepped_on_host(self) -> None:
        """An eager step was committed on the host: the counter follows the engine."""
        self.clock.fill_(self.engine.global_step)
        if self.table_end - self.engine.global_step < self.horizon // 2:
            self.fill()

    def fill(self) -> None:
        """The next ``horizon`` steps' scalars into the table (in place: a compiled step and a
        captured CUDA graph keep reading the same memory), from the engine's step. Where the
        engine's groups changed (``add_param_group``, or its undoing), first a new layout and
        a table of its width."""
        key = tuple(map(id, self.engine.groups))
        if key != self.layout_key:
            self.check_rules()
            self.layout = ScalarLayout(self.engine)
            self.table = torch.full((self.horizon, self.layout.width), np.nan, dtype=torch.float64,
                                    device=self.device)
            self.layout_key = key
        padded, count = self.layout.padded_table(self.engine, self.horizon)
        step = self.engine.global_step
        self.table.copy_(torch.from_numpy(padded))
        self.start.fill_(step)
        self.rows.fill_(count)
        self.clock.fill_(step)
        self.table_end = step + count

    def bind(self, params: Mapping[str, torch.Tensor]) -> None:
        """Take the optimizer's parameters (and their allocated state) for the current layout:
        at construction, and after ``add_param_group`` or its undoing."""
        self.params = params
        self.tensors = [self._bucket_tensors(bucket) for bucket in self.layout.buckets]

    def _bucket_tensors(self, bucket: Any) -> tuple[list[torch.Tensor], dict[str, list[torch.Tensor | None]]]:
        """A bucket's parameters and their slots (``None`` where a parameter lacks one), as
        lists: the traced step reads them by position, never through a dict keyed by tensor
        (dynamo would guard on the identity of each ``.grad``, recompiling every step)."""
        params = [self.params[n] for n in bucket.names]
        return params, {s.name: [self.state[p].get(s.name) for p in params] for s in bucket.algorithm.slots()}

    # -- the traced step ---------------------------------------------------------------------
    def run(self) -> None:
        """One step of every bucket from the table (traced: no Python at run time)."""
        k = self.clock - self.start
        inside = (k >= 0) & (k < self.rows)
        row = torch.where(inside, self.table[k.clamp(0, self.horizon - 1)][0], torch.nan)
        head = len(HEADER)
        for bucket, (all_params, all_slots) in zip(self.layout.buckets, self.tensors):
            present = [i for i, p in enumerate(all_params) if p.grad is not None]
            if not present:
                continue
            piece = row[bucket.offset:bucket.offset + bucket.width]
            by_dtype: dict[torch.dtype, list[int]] = {}
            for i in present:
                by_dtype.setdefault(self.state_dtype or all_params[i].dtype, []).append(i)
            for dtype, where in by_dtype.items():
                params = [all_params[i] for i in where]
                slots = {k: [v[i] for i in where] for k, v in all_slots.items()}
                self._bucket(bucket, params, slots, piece.to(dtype), piece, head, dtype)
        self.clock.add_(1)

    def _bucket(self, bucket: Any, params: list[torch.Tensor], slots: dict[str, list[torch.Tensor | None]],
                values: torch.Tensor, wide: torch.Tensor, head: int, dtype: torch.dtype) -> None:
        numbers = [wide[head + j] if f.wide else values[head + j] for j, f in enumerate(bucket.fields)]
        scalars = bucket.nest(numbers, flag=lambda v: v != 0)
        work = [p if p.dtype == dtype else p.to(dtype) for p in params]
        grads = [p.grad if p.grad.dtype == dtype else p.grad.to(dtype) for p in params]  # type: ignore[union-attr]
        grads = preprocess_gradients(FUNCTIONAL_OPS, work, grads, negate=bucket.negate,
                                     weight_decay=values[0] if bucket.decay else None,
                                     centralize=bucket.centralize, grad_scale=values[1] if bucket.scale else None)
        new_params, new_slots = list(work), {k: list(v) for k, v in slots.items()}
        bucket.algorithm.update(FUNCTIONAL_OPS, new_params, grads, new_slots, scalars)
        for p, value in zip(params, new_params):
            _write(p, value)
        for name, old in slots.items():
            for target, new in zip(old, new_slots[name]):
                if target is not None and new is not None:
                    _write(target, new)

