"""An Optax-style ``init``/``update`` pair whose whole step traces under ``jax.jit``.

::

    tx = optbridge_jax.transform(spec)            # spec: a dialect optimizer or OptimizerSpec
    state = tx.init(params)

    @jax.jit                                      # a JAX train step is always jitted
    def train_step(params, state, batch):
        grads = jax.grad(loss)(params, batch)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

The state is an :class:`OptState`: the step counter (``count``, an int32 array) and the
slots (a pytree of arrays) — nothing else, so ``update`` is a pure function of arrays and
the entire step runs inside one XLA computation: the gradient pre-processing, the
algorithm's shared rule and the per-step host scalars.

**Host scalars without Python in the step.** The engine computes every host scalar (the
learning rate of each group from its list or schedule, bias corrections, ...) on the host
in the origin framework's precision, as for the eager optimizer. Without a metric-driven
schedule they are a function of the step count alone, so :func:`transform` computes them
ahead, packed by the shared scheme of :class:`optbridge.scalars.ScalarLayout`, into a
table of ``horizon`` rows the step indexes with ``count`` (MindSpore's own way for per-step
learning-rate lists). A step past the table runs ``jax.pure_callback`` to compute its row
on the host (exact; it costs a host round trip): give ``horizon`` at least the run's
length to keep every step on the device.

The spec's gradient transforms run in the step too: clipping, and the stateful ones (loss
scaling, accumulation, an EMA), whose host numbers are ``OptState.transforms`` and whose
decisions select values (:mod:`optbridge_jax.pipeline`); ``count`` counts updates.

The numbers are the eager optimizer's (``optbridge.build(spec, params, backend="jax")``)
bit for bit on CPU, where XLA keeps every multiply and add a separate operation: the step
is compiled with :data:`~optbridge_jax.step.EXACT_OPTIONS`, and a caller's own ``jax.jit``
around ``update`` should pass ``compiler_options=optbridge_jax.EXACT_OPTIONS`` for the same
guarantee (without it XLA may fuse ``a·b + c`` into one rounding: results within the
conformance tolerance, not bitwise).

``updates`` are ``new_params − params``. Adding them back gives the new parameters bit
for bit wherever an element changes by less than a factor of two in a step (the
subtraction is then exact, Sterbenz's lemma), which holds for every realistic step;
otherwise ``params + updates`` may differ from the optimizer's result in the last bit.

Epoch-interval schedules (``ReduceLROnPlateau``, a torch scheduler declared with
``interval="epoch"``) advance at ``end_epoch``, which an Optax-style pair has no call
for: such a spec is refused (declare the schedule with ``interval="step"``).

Neutral state: :meth:`GradientTransformation.state_dict` and
:meth:`~GradientTransformation.load_state_dict` convert to and from the backend-neutral
state dict (train on torch, resume with the transformation). A state whose host part is
not the spec's own after its ``global_step`` steps (a learning rate set by hand, an
epoch-interval schedule advanced, a hyperparameter edited) cannot be continued from the
count alone and is refused; continue it with the eager optimizer.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from optbridge.dialects.base import DialectOptimizer
from optbridge.engine import Engine
from optbridge.errors import BackendError, ScheduleExhaustedError, SpecValueError, StateDictError, StepInputError
from optbridge.groups import ParamInfo
from optbridge.preprocess import preprocess_gradients
from optbridge.scalars import HEADER, ScalarLayout
from optbridge.spec import OptimizerSpec
from optbridge.transforms import transform_gradients
from optbridge.transforms.pipeline import stateful, transform_slots

from . import ops as jax_ops
from .optimizer import JaxOptimizer, check_dtype
from .pipeline import TracedCall, run_traced, state_dtype
from .pytree import named_leaves
from .step import EXACT_OPTIONS

__all__ = ["OptState", "GradientTransformation", "transform", "DEFAULT_HORIZON"]

#: rows of host scalars computed ahead by default (steps past them take a host callback)
DEFAULT_HORIZON = 1024


class OptState(NamedTuple):
    """State of :func:`transform`: arrays only, so it passes through ``jax.jit``.

    Attributes:
        count: steps taken (Optax's name), an int32 array: updates, not calls (a call a
            loss scale skips or an accumulation holds does not count).
        slots: ``{param name: {slot name: array}}`` (the gradient transforms' arrays too).
        transforms: the gradient transforms' host numbers, one ``{name: 0-d array}`` per
            transform of the spec (:mod:`optbridge_jax.pipeline`).
    """

    count: Any
    slots: dict
    transforms: tuple = ()


def _state_arrays(states: Sequence[Mapping[str, float]]) -> tuple:
    """The transforms' host numbers as 0-d arrays (:func:`optbridge_jax.pipeline.state_dtype`)."""
    return tuple({k: jnp.asarray(v, state_dtype()) for k, v in s.items()} for s in states)


class _HostRows:
    """The packed host scalars of every step, computed on the host as far as asked for."""

    def __init__(self, engine: Engine, layout: ScalarLayout, dtype: np.dtype):
        self.engine = engine
        self.layout = layout
        self.dtype = dtype
        self.rows = np.empty((0, layout.width), dtype)
        self.ended = False  # a schedule (a per-step list) has no value for the next step

    def upto(self, steps: int) -> np.ndarray:
        """The rows of steps ``0 .. steps-1`` that exist (fewer where a schedule ends)."""
        missing = steps - len(self.rows)
        if missing > 0 and not self.ended:
            wanted = max(missing, len(self.rows))  # at least double: a long run extends rarely
            more = self.layout.table(self.engine, wanted, advance=True)
            self.ended = len(more) < wanted
            self.rows = np.concatenate([self.rows, more.astype(self.dtype)])
        return self.rows[:steps]

    def row(self, step: Any) -> np.ndarray:
        """The row of step ``step`` (the ``jax.pure_callback`` past the table)."""
        k = int(step)
        rows = self.upto(k + 1)
        if k >= len(rows):
            # the step's list or schedule has no value: NaN makes the step's result NaN, as
            # the error the eager optimizer raises cannot cross a compiled program
            return np.full(self.layout.width, np.nan, self.dtype)
        return rows[k]


class _Program:
    """The traced step of one parameter structure: names, layout, table and the jitted step."""

    def __init__(self, spec: OptimizerSpec, params: Any, horizon: int, exact: bool):
        names, leaves, self.treedef = named_leaves(params)
        self.names = names
        self.dtypes = {n: check_dtype(leaf.dtype, f"parameter {n!r}") for n, leaf in zip(names, leaves)}
        self.shapes = {n: tuple(leaf.shape) for n, leaf in zip(names, leaves)}
        # the slots init makes, by shape and dtype (built once on zeros: params may be tracers)
        template = JaxOptimizer(spec, jax.tree_util.tree_map(lambda x: np.zeros(x.shape, x.dtype), params))
        self.slot_specs = {n: {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in s.items()}
                           for n, s in template.slots.items()}
        self.engine = template.engine
        for g in self.engine.groups:
            epochs = sorted(key for key, track in g.tracks.items() if track.interval == "epoch")
            if epochs:
                raise SpecValueError(
                    f"groups[{g.index}] ({g.label}): {epochs} follow an epoch-interval schedule, which advances at "
                    f"end_epoch (with a metric for ReduceLROnPlateau); an Optax-style transformation has no such "
                    f"call, so it would keep the first epoch's value. Declare the schedule with interval='step', "
                    f"or use the eager optimizer (optbridge.build(spec, params, backend='jax'))")
            if not g.algorithm.has_rule():
                raise BackendError(f"groups[{g.index}] ({g.label}): algorithm {g.algorithm.name!r} has no shared "
                                   f"rule; the traced transformation runs rules only (use the eager optimizer)")
        self.transforms = tuple(spec.transforms)
        self.stateful = stateful(self.transforms)
        self.layout = ScalarLayout(self.engine)
        wide = np.dtype(np.float64) if jax.config.jax_enable_x64 else np.dtype(np.float32)
        self.host = _HostRows(Engine(spec, [ParamInfo(n, self.shapes[n]) for n in names]), self.layout, wide)
        self.table = jnp.asarray(self.host.upto(horizon))
        self.traced_step = self._step
        self.step = jax.jit(self._step, compiler_options=EXACT_OPTIONS if exact else None)

    def _row(self, count: Any) -> Any:
        """The packed scalars of step ``count``: the table's row, or the host's past it."""
        n = self.table.shape[0]
        shape = jax.ShapeDtypeStruct((self.layout.width,), self.table.dtype)

        def from_host(c: Any) -> Any:
            return jax.pure_callback(self.host.row, shape, c, vmap_method="sequential")

        if n == 0:
            return from_host(count)
        return jax.lax.cond(count < n, lambda c: self.table[jnp.minimum(c, n - 1)], from_host, count)

    def _step(self, params: dict, grads: dict, slots: dict, count: Any,
              states: tuple) -> tuple[dict, dict, tuple, Any]:
        """The gradient pipeline around the pre-processing and rule of every bucket at step
        ``count`` (traced): ``(params, slots, transforms' host numbers, updated)``."""
        order = list(self.engine.param_names)
        if not self.stateful:
            if self.transforms:
                grads = dict(zip(order, transform_gradients(jax_ops, self.transforms, [grads[n] for n in order])))
            new_params, new_slots = self._rule(params, grads, slots, count)
            return new_params, new_slots, states, True
        names = transform_slots(self.transforms)
        call = TracedCall(self.transforms, count, [params[n] for n in order],
                          {s: [slots[n][s] for n in order] for s in names}, [dict(t) for t in states])

        def rule(g: list[Any]) -> tuple[list[Any], dict]:
            new_params, new_slots = self._rule(params, dict(zip(order, g)), slots, count)
            return [new_params[n] for n in order], new_slots

        new, new_slots, updated = run_traced(call, [grads[n] for n in order], rule, [params[n] for n in order],
                                             slots)
        new_slots = {n: dict(s) for n, s in new_slots.items()}
        for s in names:
            for n, value in zip(order, call.slots[s]):
                new_slots[n][s] = value
        return dict(zip(order, new)), new_slots, tuple(call.states), updated

    def _rule(self, params: dict, grads: dict, slots: dict, count: Any) -> tuple[dict, dict]:
        """Pre-processing and rule of every bucket at step ``count`` (traced)."""
        row = self._row(count)
        head = len(HEADER)
        new_params, new_slots = dict(params), {n: dict(s) for n, s in slots.items()}
        for bucket in self.layout.buckets:
            piece = row[bucket.offset:bucket.offset + bucket.width]
            by_dtype: dict[np.dtype, list[str]] = {}
            for n in bucket.names:
                by_dtype.setdefault(self.dtypes[n], []).append(n)
            for dtype, names in by_dtype.items():
                values = [piece[j].astype(dtype) for j in range(bucket.width)]
                numbers = [piece[head + j] if f.wide else values[head + j] for j, f in enumerate(bucket.fields)]
                scalars = bucket.nest(numbers, flag=lambda v: v != 0)
                ps = [new_params[n] for n in names]
                gs = preprocess_gradients(jax_ops, ps, [grads[n] for n in names], negate=bucket.negate,
                                          weight_decay=values[0] if bucket.decay else None,
                                          centralize=bucket.centralize, grad_scale=values[1] if bucket.scale else None)
                ss = {s.name: [new_slots[n].get(s.name) for n in names] for s in bucket.algorithm.slots()}
                bucket.algorithm.update(jax_ops, ps, gs, ss, scalars)
                for i, n in enumerate(names):
                    new_params[n] = ps[i]
                    for k, v in ss.items():
                        if v[i] is not None:  # a slot this parameter does not have (a factored statistic)
                            new_slots[n][k] = v[i]
        return new_params, new_slots

    def by_name(self, tree: Any, what: str) -> dict[str, Any]:
        """The leaves of ``tree`` (shaped like the parameters) by name, shapes and dtypes checked."""
        try:
            names, leaves, treedef = named_leaves(tree, what)
        except Exception as exc:
            raise StepInputError(f"{what}: {exc}") from None
        if treedef != self.treedef:
            raise StepInputError(f"{what}: the pytree structure differs from the parameters' "
                                 f"({treedef} vs {self.treedef})")
        out = {}
        for n, leaf in zip(names, leaves):
            if tuple(getattr(leaf, "shape", ())) != self.shapes[n] or np.dtype(leaf.dtype) != self.dtypes[n]:
                raise StepInputError(f"{what}: {n!r} must be a {self.dtypes[n]} array of shape {self.shapes[n]}. "
                                     f"Received: {getattr(leaf, 'dtype', type(leaf).__name__)} "
                                     f"{getattr(leaf, 'shape', '')}")
            out[n] = leaf
        return out

    def check_slots(self, slots: Any, template: Mapping[str, Mapping[str, Any]]) -> None:
        """``slots`` hold the expected names, shapes and dtypes (those of ``template``).

        Raises:
            StateDictError: naming the parameter and slot at fault.
        """
        if not isinstance(slots, Mapping) or set(slots) != set(template):
            got = sorted(slots)[:5] if isinstance(slots, Mapping) else slots
            raise StateDictError(f"state: slots for {got!r:.200}, expected {sorted(template)[:5]}")
        for n, current in template.items():
            given = slots[n]
            if not isinstance(given, Mapping) or set(given) != set(current):
                raise StateDictError(f"state[{n!r}]: slots {given!r:.80} != expected {sorted(current)}")
            for k, ref in current.items():
                value = given[k]
                if getattr(value, "shape", None) != ref.shape or getattr(value, "dtype", None) != ref.dtype:
                    raise StateDictError(f"state[{n!r}].{k}: must be a {ref.dtype} array of shape {ref.shape}. "
                                         f"Received: {type(value).__name__} {getattr(value, 'dtype', '')} "
                                         f"{getattr(value, 'shape', '')}")

    def replayed(self, steps: int) -> dict[str, Any]:
        """The neutral state dict (no slots) of the spec after ``steps`` steps."""
        engine = Engine(self.engine.spec, list(self.engine.params.values()))
        engine.catch_up(steps)
        return engine.state_dict({})


class GradientTransformation(NamedTuple):
    """Optax's ``GradientTransformation`` shape: ``init(params)`` and ``update(grads, state,
    params)``, plus conversion to and from the neutral state dict."""

    init: Callable[[Any], OptState]
    update: Callable[..., tuple[Any, OptState]]

    def state_dict(self, state: OptState, params: Any) -> dict[str, Any]:
        """The neutral state dict of ``state`` (loadable by every backend): the slots and the
        host state the spec has after ``state.count`` steps (replayed on the host)."""
        return self.update.state_dict(state, params)  # type: ignore[attr-defined]

    def load_state_dict(self, state_dict: Mapping[str, Any], params: Any) -> OptState:
        """An :class:`OptState` holding a neutral state dict, checked in full.

        Raises:
            StateDictError: the state does not fit ``params``, or its host part is not the
                spec's own after its ``global_step`` steps (see the module docstring).
        """
        return self.update.load_state_dict(state_dict, params)  # type: ignore[attr-defined]


class _Update:
    """``update`` of :func:`transform`: one :class:`_Program` per parameter structure."""

    def __init__(self, spec: OptimizerSpec, fma: bool, horizon: int):
        self.spec = spec
        self.fma = fma
        self.horizon = horizon
        self.programs: dict[Any, _Program] = {}

    def program(self, params: Any) -> _Program:
        leaves, treedef = jax.tree_util.tree_flatten(params)
        key = (treedef, tuple((tuple(x.shape), str(x.dtype)) for x in leaves))
        if key not in self.programs:
            exact = not self.fma and jax.default_backend() == "cpu"
            with jax.ensure_compile_time_eval():  # built eagerly also when first met inside a trace
                self.programs[key] = _Program(self.spec, params, self.horizon, exact=exact)
        return self.programs[key]

    def init(self, params: Any) -> OptState:
        self.program(params)  # a spec the transformation cannot run is refused here
        opt = JaxOptimizer(self.spec, params, fma=self.fma)
        return OptState(count=jnp.zeros((), jnp.int32), slots={n: dict(s) for n, s in opt.slots.items()},
                        transforms=_state_arrays(opt.engine.transform_states))

    def __call__(self, grads: Any, state: OptState, params: Any = None) -> tuple[Any, OptState]:
        if params is None:
            raise TypeError("update needs params: optbridge algorithms read them (weight decay, averaging)")
        program = self.program(params)
        p = program.by_name(params, "params")
        g = program.by_name(grads, "grads")
        program.check_slots(state.slots, program.slot_specs)
        traced = any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((p, g, state)))
        # inside the caller's trace the step joins the caller's program (whose compiler options
        # apply); called eagerly it runs as its own compiled program
        if not traced:
            steps = int(state.count)
            if len(program.host.upto(steps + 1)) <= steps:
                raise ScheduleExhaustedError(
                    f"update: the spec's per-step values end after {len(program.host.rows)} steps; step {steps} "
                    f"has no learning rate or weight decay. Nothing was changed")
        run = program.traced_step if traced else program.step
        states = state.transforms if state.transforms or not program.stateful else \
            _state_arrays(program.engine.transform_states)
        new_params, new_slots, new_states, updated = run(p, g, state.slots, state.count, states)
        updates = jax.tree_util.tree_unflatten(program.treedef, [new_params[n] - p[n] for n in program.names])
        return updates, OptState(count=state.count + jnp.asarray(updated, jnp.int32), slots=new_slots,
                                 transforms=new_states)

    def state_dict(self, state: OptState, params: Any) -> dict[str, Any]:
        program = self.program(params)
        if isinstance(state.count, jax.core.Tracer):
            raise TypeError("state_dict: the state is traced; call it outside jax.jit")
        steps = int(state.count)
        sd = program.replayed(steps)
        sd["state"] = {n: {k: np.array(v, copy=True) for k, v in s.items()} for n, s in state.slots.items()}
        if state.transforms:
            sd["transforms"] = [
                {"transform": t.name, "state": {k: int(v) if k in t.integer_state() else float(v)
                                                for k, v in values.items()}}
                for t, values in zip(program.engine.spec.transforms, state.transforms)]
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any], params: Any) -> OptState:
        program = self.program(params)
        opt = JaxOptimizer(self.spec, params, fma=self.fma)
        opt.load_state_dict(state_dict)  # every check of the neutral format, nothing kept
        steps = opt.global_step
        own = program.replayed(steps)
        given = opt.engine.state_dict({})
        for i, (a, b) in enumerate(zip(own["groups"], given["groups"])):
            if a != b:
                differs = sorted(k for k in a if a.get(k) != b.get(k))
                raise StateDictError(
                    f"groups[{i}]: {differs} differ from the spec's own after {steps} steps (an lr set by hand, an "
                    f"epoch-interval schedule advanced or a hyperparameter edited); the traced transformation "
                    f"derives every host value from the step count: continue this state with the eager optimizer "
                    f"(optbridge.build(spec, params, backend='jax'))")
        return OptState(count=jnp.asarray(steps, jnp.int32), slots=copy.copy(opt.slots),
                        transforms=_state_arrays(opt.engine.transform_states))


def transform(spec: DialectOptimizer | OptimizerSpec, *, fma: bool = False,
              horizon: int = DEFAULT_HORIZON) -> GradientTransformation:
    """An Optax-style gradient transformation running ``spec`` on the JAX backend (shared
    rules), traceable whole under ``jax.jit``.

    Args:
        spec: a dialect optimizer (``nn.Adam(...)``) or a canonical spec.
        fma: let XLA contract ``a·b + c`` (see :class:`~optbridge_jax.optimizer.JaxOptimizer`).
        horizon: steps whose host scalars are computed ahead into the device table; later
            steps compute theirs in a host callback (exact, slower).

    Raises:
        TypeError: ``spec`` is neither a dialect optimizer nor an ``OptimizerSpec``.
        ValueError: ``horizon`` is not a non-negative int.
    """
    canonical = spec.to_canonical() if isinstance(spec, DialectOptimizer) else spec
    if not isinstance(canonical, OptimizerSpec):
        raise TypeError(f"transform takes a dialect optimizer or an OptimizerSpec. Received: {type(spec).__name__}")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 0:
        raise ValueError(f"transform: horizon must be an int >= 0. Received: {horizon!r}")
    update = _Update(canonical, bool(fma), horizon)
    return GradientTransformation(update.init, update)
