"""The TensorFlow backend's optimizer: compiled group kernels over ``tf.Variable``\\ s.

One ``tf.function`` per replica device runs every bucket's pre-processing and kernel in a
single call. Its only inputs are the gradients and one float64 vector holding every host
scalar of the step (learning rates, weight decay, bias corrections, ...), cast to each
bucket's dtype inside the graph, so the function is traced once and never again however
the scalars change. Each bucket runs its algorithm's rule (``Algorithm.update``) on the
TensorFlow ops namespace (:mod:`optbridge.backends.tensorflow.ops`), after the shared
gradient pre-processing (:func:`optbridge.preprocess.preprocess_gradients`), or one of
the algorithm's fast paths where it applies (:mod:`optbridge.backends.tensorflow.fast_paths`):
optbridge's native single-pass ops, TensorFlow's fused training ops, exact raw-op forms.
The rule runs under XLA where the kernel or ``jit_compile=True`` says so.

The vector's layout is :class:`optbridge.scalars.ScalarLayout`, built from the algorithms'
declared host scalars before the first step.

Eagerly, the engine's host scalars are computed in Python before the call and the step is
committed after it, so a step that fails changes nothing. Inside a ``tf.function`` (a
``GradientTape`` loop compiled by the user, Keras ``model.fit``, with or without
``jit_compile=True``) no Python runs in the step: the host scalars of the next
``horizon`` steps are computed ahead by the engine into a device table
(:meth:`optbridge.scalars.ScalarLayout.table`) that the step indexes with a step-counter
variable, which it then increments. The engine catches up with the counter whenever it
is used from the host (``get_lr``, ``state_dict``, ``global_step``, a Keras callback
setting the learning rate, ...; :attr:`TensorFlowOptimizer.engine` does it), and the
table is recomputed after every change of a future value (``set_lr``, ``end_epoch``,
``load_state_dict``: ``Engine.watch``) and whenever less than half of it is left. A
step past the table takes its scalars from a ``tf.numpy_function`` in a plain graph; an
XLA-compiled step cannot call Python and gets NaN there, so every parameter turns NaN:
give ``horizon`` at least the number of steps run between two uses of the optimizer
from the host (Keras: one epoch).

Distribution: variables created under a ``tf.distribute`` strategy (``MirroredStrategy``,
``MultiWorkerMirroredStrategy``) get their state slots colocated with them (one copy per
replica device, on every worker), and ``apply_gradients`` called in a replica context sums
the gradients over every replica of every worker (as Keras optimizers do) and updates
each replica's copy with its device's step function. Each worker's engine computes the
host scalars of the steps it runs; the workers run the same steps, so they agree.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any

import numpy as np
import tensorflow as tf

from optbridge.algorithms.base import Algorithm
from optbridge.engine import Engine, OptimizerAPI
from optbridge.errors import BackendError, SpecTypeError, SpecValueError, StateDictError, StepInputError
from optbridge.groups import ParamInfo
from optbridge.preprocess import preprocess_gradients
from optbridge.scalars import HEADER, BucketLayout, ScalarLayout
from optbridge.spec import OptimizerSpec
from optbridge.transforms import transform_gradients
from optbridge.transforms.ema import check_averaged
from optbridge.transforms.loss_scale import loss_scale_of, scales_loss
from optbridge.transforms.pipeline import PipelineCall, stateful, transform_slots

from . import ops as tf_ops
from .kernels.base import Kernel, resolve_kernel
from .native import load as native_ops
from .params import is_keras_layer, layer_roles, named_variables, unwrap
from .pipeline import GraphCall, run_traced, state_variables

__all__ = ["TensorFlowOptimizer", "SUPPORTED_DTYPES", "DEFAULT_HORIZON"]

SUPPORTED_DTYPES = (tf.float32, tf.float64)
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_./>-]")
_EAGER_TENSOR = type(tf.constant(0.0))

SlotFactory = Callable[[Any, str, float, tuple[int, ...]], Any]

#: steps whose host scalars a graph step finds on the device (see the module docstring)
DEFAULT_HORIZON = 4096


def _plain_python(method: Callable) -> Callable:
    """``method`` run as written inside a user's ``tf.function``: AutoGraph does not convert
    it (its loops are host work at trace time, such as filling the device table; the step's
    graph is built with ``autograph=False`` anyway), which makes tracing fast."""
    return tf.autograph.experimental.do_not_convert(method)


def _in_xla_context() -> bool:
    """Whether the graph being traced is compiled by XLA (``jit_compile=True``), which
    cannot run a Python callback; ``True`` when it cannot be told (the safe answer)."""
    try:
        from tensorflow.python.framework import ops as tf_framework_ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - the private modules moved
        return True
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf_framework_ops.get_default_graph()))


@dataclass(frozen=True)
class _Layout:
    """One bucket (or its part of one dtype): what the step function is traced with."""

    scalars: BucketLayout  # the bucket's piece of the scalar vector and its pre-processing flags
    indices: tuple[int, ...]
    algorithm: Algorithm
    kernel_algorithm: Algorithm  # ``algorithm``, or its ``"coupled"`` form where rule decay is statically off
    kernel: Kernel
    fused: bool
    native: bool
    raw: bool
    jit: bool


def _default_slot(variable: Any, slot: str, init: float, shape: tuple[int, ...]) -> tf.Variable:
    """A slot variable of shape ``shape`` beside ``variable`` (same device; per replica under a strategy)."""
    var = unwrap(variable)
    strategy = getattr(var, "distribute_strategy", None) or tf.distribute.get_strategy()
    base = _BAD_NAME_CHARS.sub("_", str(var.name).split(":")[0])
    with tf.init_scope(), strategy.scope(), strategy.extended.colocate_vars_with(var):
        return tf.Variable(lambda: tf.fill(shape, tf.constant(init, var.dtype)), trainable=False,
                           name=f"{base}/{slot}")


def _unknown_hyperparameters(kernel: Kernel, alg: Algorithm) -> list[str]:
    """``alg``'s hyperparameters set away from their defaults that ``kernel`` was not written for."""
    if kernel.hyperparameters is None:
        return []
    defaults = {}
    for f in fields(alg):
        if f.default is not MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not MISSING:
            defaults[f.name] = f.default_factory()
    return [k for k, v in alg.hyperparameters().items()
            if k not in kernel.hyperparameters and (k not in defaults or v != defaults[k])]


def _check_hyperparameters(kernel: Kernel, alg: Algorithm, group: int) -> None:
    """A kernel with an update of its own refuses what it does not implement (the rule implements everything)."""
    if kernel.update is None:
        return
    unknown = _unknown_hyperparameters(kernel, alg)
    if unknown:
        raise BackendError(
            f"groups[{group}]: the tensorflow kernel for {alg.name!r} does not implement hyperparameter(s) {unknown}"
        )
    if kernel.unsupported is not None:
        reason = kernel.unsupported(alg)
        if reason:
            raise BackendError(f"groups[{group}]: the tensorflow kernel for {alg.name!r} does not implement {reason}")


def _rule(alg: Algorithm, params: Sequence[Any], grads: Sequence[Any], slots: Mapping[str, Sequence[Any]],
          scalars: Mapping[str, Any]) -> None:
    """The algorithm's rule on the TensorFlow ops (on lists of its own: the rule rebinds entries)."""
    alg.update(tf_ops, list(params), list(grads), {name: list(arrays) for name, arrays in slots.items()}, scalars)


class TensorFlowOptimizer(OptimizerAPI):
    """An optbridge optimizer over TensorFlow variables.

    Args:
        spec: a canonical :class:`~optbridge.spec.OptimizerSpec`.
        params: a Keras model (its ``trainable_variables``, each with its role from its
            layer's type, :func:`~optbridge.backends.tensorflow.params.layer_roles`),
            ``model.trainable_variables`` (names from ``variable.path``), ``(name,
            variable)`` pairs, or a ``{name: variable}`` mapping; ``tf.Variable`` or Keras 3
            variables, float32 or float64. Without a model, ``{"role": ...}`` selectors use
            the name/rank fallback (:mod:`optbridge.roles`).
        kernels: ``{algorithm name: kernel}`` (the backend's registry).
        jit_compile: ``None`` uses each kernel's measured choice; ``True``/``False`` forces
            XLA on or off for the rule and the exact raw-op paths (not for fused or native ops).
        fused: use TensorFlow's fused training ops that form their own constants where they
            compute the canonical formula (the exact raw-op paths, which take every constant
            as an input, are used either way).
        native: use optbridge's single-pass CPU ops (:mod:`optbridge.backends.tensorflow.native`)
            for buckets whose variables live on CPU devices, where the kernel has one, unless
            ``jit_compile=True``; they round as the NumPy reference does (bit for bit) and
            are preferred to ``fused``.
        slot_factory: ``slot_factory(variable, slot_name, initial_value, shape)`` returning
            the slot variable of that shape (a ``tf.Variable`` or Keras variable; the
            parameter's shape unless the slot is a factored statistic, see
            ``Engine.slot_layouts``); default: a ``tf.Variable`` colocated with ``variable``.
        horizon: rows of host scalars computed ahead for steps inside a ``tf.function``
            (see the module docstring).

    Raises:
        SpecTypeError: ``params`` are not variables, names collide, or a dtype is not
            float32/float64.
        BackendError: a kernel is missing, or a kernel with an update of its own does not
            implement a hyperparameter.
    """

    def __init__(self, spec: OptimizerSpec, params: Any, kernels: Mapping[str, Any], *,
                 jit_compile: bool | None = None, fused: bool = True, native: bool = True,
                 slot_factory: SlotFactory | None = None, horizon: int = DEFAULT_HORIZON):
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise SpecValueError(f"horizon must be an int >= 1. Received: {horizon!r}")
        named = named_variables(params)
        for name, var in named:
            v = unwrap(var)
            if v.dtype not in SUPPORTED_DTYPES:
                raise SpecTypeError(f"parameter {name!r} must be float32 or float64. Received: {v.dtype.name}")
            if not v.shape.is_fully_defined():
                raise SpecTypeError(f"parameter {name!r} has a shape that is not fully defined: {v.shape}")
        self._given = dict(named)
        self._vars = {n: unwrap(v) for n, v in named}
        roles = layer_roles(params) if is_keras_layer(params) else {}
        self._engine = Engine(spec, [ParamInfo(n, tuple(v.shape), roles.get(n)) for n, v in self._vars.items()])
        self._graph = False  # a graph step has been traced: the device counter counts the steps
        self._order = tuple(self._engine.param_names)
        self._position = {n: i for i, n in enumerate(self._order)}
        self._signature = [(self._vars[n].dtype, self._vars[n].shape) for n in self._order]
        self._by_id: dict[int, str] = {}
        for n, given in self._given.items():
            self._by_id[id(given)] = n
            self._by_id[id(self._vars[n])] = n
        self._kernels: dict[str, Kernel] = {}
        for g in self._engine.groups:
            name = g.algorithm.name
            if name not in kernels:
                raise BackendError(f"the tensorflow backend has no kernel for algorithm {name!r}")
            kernel = self._kernels.setdefault(name, resolve_kernel(kernels[name], name))
            _check_hyperparameters(kernel, g.algorithm, g.index)
        factory = slot_factory or _default_slot
        self._slot_objects: dict[str, dict[str, Any]] = {}
        for name, slots in self._engine.slot_layouts().items():
            self._slot_objects[name] = {s: factory(self._given[name], s, layout.init, layout.shape)
                                        for s, layout in slots.items()}
        self._slots = {n: {s: unwrap(o) for s, o in slots.items()} for n, slots in self._slot_objects.items()}
        self._scalar_layout = ScalarLayout(self._engine)
        self._width = self._scalar_layout.width
        self._layouts = self._plan_layouts(jit_compile, fused, native)
        first = self._vars[self._order[0]]
        self._strategy = getattr(first, "distribute_strategy", None) or tf.distribute.get_strategy()
        self._distributed = hasattr(first, "distribute_strategy")
        self._anchor = first
        self._replicas = len(self._components(first))
        self._all = tuple(range(len(self._order)))
        # per set of parameter positions that have gradients (all of them, unless some are
        # skipped as Keras skips variables without a gradient): one step function per replica
        self._programs: dict[tuple[tuple[int, ...], bool], list[Any]] = {}
        self._concrete: dict[tuple[int, ...], Any] = {}
        self._program(self._all, 0)
        self._replica_of = {c.device: r for r, c in enumerate(self._components(first))}
        self._horizon = horizon
        self._table_end = 0  # first step the device table has no row for
        with tf.init_scope(), self._strategy.scope():
            once = tf.VariableAggregation.ONLY_FIRST_REPLICA
            self._clock = tf.Variable(0, dtype=tf.int64, trainable=False, aggregation=once, name="optbridge_step")
            self._start = tf.Variable(0, dtype=tf.int64, trainable=False, aggregation=once, name="optbridge_start")
            self._rows = tf.Variable(0, dtype=tf.int64, trainable=False, aggregation=once, name="optbridge_rows")
            self._table = tf.Variable(tf.fill([horizon, self._width], tf.constant(np.nan, tf.float64)),
                                      trainable=False, aggregation=once, name="optbridge_scalars")
            # the stateful gradient transforms' host numbers, for graph steps (pipeline.py)
            self._transform_vars = None
            if stateful(spec.transforms):
                self._transform_vars = state_variables(spec.transforms, self._engine.transform_states)
                self._proceeded = tf.Variable(True, trainable=False, name="optbridge_proceeded")
        self._engine.watch(self._changed)

    # -- the engine and the device table ------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The engine, caught up with the steps run inside a graph since it was last used."""
        self._catch_up()
        return self._engine

    @engine.setter
    def engine(self, value: Engine) -> None:
        raise AttributeError("the engine of a TensorFlowOptimizer is fixed when it is built")

    def _catch_up(self) -> None:
        """Commit, on the host, the steps the device counter has run; refill the table when
        less than half of it is left."""
        if not self._graph:
            return
        with tf.init_scope():  # also when used while a function is traced
            self._engine.catch_up(int(self._clock.numpy()))
            if self._transform_vars is not None:
                transforms = self._engine.spec.transforms
                self._engine.commit_transforms([
                    {k: int(v.numpy()) if k in t.integer_state() else float(v.numpy()) for k, v in variables.items()}
                    for t, variables in zip(transforms, self._transform_vars)])
            if self._table_end - self._engine.global_step < self._horizon // 2:
                self._fill()

    def _changed(self) -> None:
        """``Engine.watch``: a future value changed (the engine is caught up: it was used)."""
        with tf.init_scope():
            self._write_transform_state()
            if self._graph:
                self._fill()

    def _write_transform_state(self) -> None:
        """The engine's transform host numbers into their variables (graph steps read them)."""
        if self._transform_vars is None:
            return
        for variables, state in zip(self._transform_vars, self._engine.transform_states):
            for k, v in state.items():
                variables[k].assign(float(v))

    def loss_scale_tensor(self, dtype: Any) -> Any:
        """The current loss scale as a ``dtype`` tensor read from its variables (inside a
        graph step too), or ``None`` without a loss-scaling transform."""
        transforms = self._engine.spec.transforms
        if not scales_loss(transforms):
            return None
        if self._transform_vars is None:  # static scales only: numbers
            return tf.constant(self._engine.loss_scale(), dtype)
        values = [{k: v.read_value() for k, v in variables.items()} for variables in self._transform_vars]
        return tf.cast(loss_scale_of(transforms, values), dtype)

    def _fill(self) -> None:
        """The next ``horizon`` steps' scalars into the device table, from the engine's step."""
        padded, count = self._scalar_layout.padded_table(self._engine, self._horizon)
        step = self._engine.global_step
        self._table.assign(padded)
        self._start.assign(step)
        self._rows.assign(count)
        self._clock.assign(step)
        self._table_end = step + count

    def _device_scalars(self, advance: bool = True) -> Any:
        """Graph mode: this step's packed scalars from the device table (or, past it, from
        the host in a plain graph; NaN under XLA), then the counter's increment (unless not
        ``advance``: a stateful pipeline increments it where the rule runs)."""
        if not self._graph:
            with tf.init_scope():  # once, at the first trace: the counter starts from the engine
                self._graph = True
                self._fill()
        k = self._clock.read_value() - self._start.read_value()
        inside = tf.logical_and(k >= 0, k < self._rows.read_value())
        stored = tf.gather(self._table.read_value(), tf.clip_by_value(k, 0, self._horizon - 1))
        if _in_xla_context():
            row = tf.where(inside, stored, tf.constant(np.nan, tf.float64))
        else:
            clock = self._clock.read_value()
            row = tf.cond(inside, lambda: stored, lambda: tf.numpy_function(
                self._host_row, [clock], tf.float64, stateful=True, name="optbridge_host_scalars"))
        if advance:
            self._clock.assign_add(1)  # after the reads above: a function orders a variable's uses as written
        return tf.ensure_shape(row, [self._width])

    def _host_row(self, clock: Any) -> np.ndarray:
        """A plain graph's step past the device table: the engine, caught up to ``clock``, plans it."""
        self._engine.catch_up(int(clock))
        return self._scalar_layout.pack(self._engine.plan())

    # -- construction -------------------------------------------------------------------
    def _components(self, var: Any) -> tuple:
        if hasattr(var, "distribute_strategy"):
            return tuple(var.distribute_strategy.experimental_local_results(var))
        return (var,)

    def _on_cpu(self, names: Sequence[str]) -> bool:
        """Whether every replica copy of these variables lives on a CPU device."""
        return all("CPU" in (c.device or "CPU").upper() for n in names for c in self._components(self._vars[n]))

    def _plan_layouts(self, jit_compile: bool | None, fused: bool, native: bool) -> tuple[_Layout, ...]:
        spec = self._engine.spec
        layouts: list[_Layout] = []
        for bucket in self._scalar_layout.buckets:
            alg = self._engine.groups[bucket.group].algorithm
            kernel = self._kernels[alg.name]
            # the rule, and a kernel whose only use of a rule-side decay form is its step 0, run a
            # bucket decayed at no step without it (as Engine.plan runs it)
            kernel_alg = bucket.algorithm if kernel.update is None or kernel.separable_decay else alg
            by_dtype: dict[Any, list[int]] = {}
            for n in bucket.names:
                by_dtype.setdefault(self._vars[n].dtype, []).append(self._position[n])
            # fast paths only for hyperparameters they were written for
            fast = kernel.update is not None or not _unknown_hyperparameters(kernel, kernel_alg)
            for dtype, indices in by_dtype.items():
                # A fused op forms its own constants (1 − β, ...) in the parameter dtype: exact
                # only when the host scalars are computed in that dtype too. (A path and its
                # predicate come together: KernelSpec checks it, so a predicate means the path.)
                can_fuse = (fast and fused and kernel.can_fuse is not None and dtype.name == spec.precision
                            and kernel.can_fuse(kernel_alg, dtype.as_numpy_dtype))
                use_native = (fast and native and jit_compile is not True and kernel.can_native is not None
                              and kernel.can_native(kernel_alg)
                              and self._on_cpu([self._order[i] for i in indices]) and native_ops() is not None)
                use_raw = (fast and not use_native and not can_fuse and kernel.can_raw is not None
                           and kernel.can_raw(kernel_alg))
                layouts.append(_Layout(
                    scalars=bucket, indices=tuple(indices), algorithm=alg, kernel_algorithm=kernel_alg,
                    kernel=kernel, fused=bool(can_fuse) and not use_native, native=use_native, raw=bool(use_raw),
                    jit=kernel.jit_compile if jit_compile is None else bool(jit_compile),
                ))
        return tuple(layouts)

    def _program(self, present: tuple[int, ...], replica: int, xla: bool = False) -> Any:
        """The step function of ``replica`` for the parameters at positions ``present``
        (``xla``: for a caller's XLA-compiled function, see :meth:`_bucket_runner`)."""
        programs = self._programs.get((present, xla))
        if programs is None:
            programs = self._programs[present, xla] = [self._make_program(r, present, xla)
                                                        for r in range(self._replicas)]
        return programs[replica]

    def _make_program(self, replica: int, present: tuple[int, ...], xla: bool) -> Any:
        """``step(grads, scalars)``: ``grads`` those of the parameters at ``present``, in order."""
        params = [self._components(self._vars[n])[replica] for n in self._order]
        slots = [{s: self._components(v)[replica] for s, v in self._slots[n].items()} for n in self._order]
        where = {position: k for k, position in enumerate(present)}
        runners = []
        for layout in self._layouts:
            indices = [i for i in layout.indices if i in where]
            if indices:
                runners.append((layout, [where[i] for i in indices], self._bucket_runner(
                    layout, [params[i] for i in indices],
                    {s: [slots[i].get(s) for i in indices] for s in (x.name for x in layout.algorithm.slots())}, xla)))

        # a stateful pipeline runs around the program (:meth:`_apply_pipeline`), a stateless one inside
        transforms = () if stateful(self._engine.spec.transforms) else self._engine.spec.transforms

        def step(grads, scalars):
            grads = transform_gradients(tf_ops, transforms, grads)
            for layout, picks, run in runners:
                start = layout.scalars.offset
                run([grads[k] for k in picks], scalars[start:start + layout.scalars.width])

        return tf.function(step, autograph=False)

    @staticmethod
    def _bucket_runner(layout: _Layout, params: list, slots: dict, xla: bool) -> Callable:
        """The bucket's part of the step: ``run(grads, piece)``, ``piece`` its float64 scalars.

        ``xla``: the step is traced into a caller's XLA-compiled function, where
        optbridge's native CPU ops (no XLA kernel) cannot run: their buckets run the rule.

        **Memory.** The rule of an algorithm that updates each tensor on its own (the default
        ``Algorithm.update``) runs one tensor after another: tensor ``i + 1``'s ops wait
        (control dependencies) for reads of tensor ``i``'s parameter and slots, which come
        after its writes. TensorFlow's executor would otherwise run the tensors' ops side by
        side, and every tensor's temporaries could be alive at once; in turn, at most one
        tensor's are, as in a Keras optimizer's eager step (``benchmarks/memory.py``).
        Within a tensor the rule's statements run in program order
        (:func:`optbridge.backends.tensorflow.ops.program_order`: each write and reduction
        is a sequence point), so those alive together are one statement's. The ops and
        their numbers are the same.

        Under XLA every variable is its own cluster (one ``tf.function(jit_compile=True)``
        shared by all variables, traced once per shape). Measured on 2 CPU cores (Keras
        SGD, Adam, RMSprop, Adagrad, float32): 1.3–2× faster than one cluster over the
        whole bucket on 2,000 tensors of 512 elements, within 12 % of it on the ResNet-50
        shapes, the same on one 25.6M tensor (``benchmarks/tensorflow_step.py``, ``ob-xla``).
        """
        dtype = params[0].dtype
        kernel = layout.kernel
        bucket = layout.scalars
        native = layout.native and not xla
        update = (kernel.native if native else kernel.fused if layout.fused else kernel.raw if layout.raw
                  else kernel.update or _rule)

        # host scalars the rule takes in float64 whatever the dtype (Adafactor's torch arithmetic)
        wide = update is _rule and any(f.wide for f in bucket.fields)
        head = len(HEADER)

        def run(params, slots, grads, piece):
            values = tf.unstack(tf.cast(piece, dtype), num=bucket.width)
            if wide:
                exact = tf.unstack(piece, num=bucket.width)
                values = values[:head] + [exact[head + j] if f.wide else values[head + j]
                                          for j, f in enumerate(bucket.fields)]
            named = bucket.nest(values[head:])
            g = preprocess_gradients(tf_ops, params, grads, negate=bucket.negate,
                                     weight_decay=values[0] if bucket.decay else None, centralize=bucket.centralize,
                                     grad_scale=values[1] if bucket.scale else None)
            if not in_turn:
                update(layout.kernel_algorithm, params, g, slots, named)
                return
            done = []
            for i in range(len(params)):
                mine = {k: [v[i]] for k, v in slots.items()}
                with tf.control_dependencies(done), tf_ops.program_order():
                    update(layout.kernel_algorithm, [params[i]], [g[i]], mine, named)
                done = [v.read_value() for v in (params[i], *(s[0] for s in mine.values() if s[0] is not None))]

        # the rule of a per-tensor algorithm runs one tensor after another (``_bucket_runner``)
        in_turn = update is _rule and type(layout.kernel_algorithm).update is Algorithm.update and not xla
        if xla or not layout.jit or layout.fused or native:  # (a caller's XLA function is one cluster already)
            return lambda grads, piece: run(params, slots, grads, piece)
        one = tf_ops.jit(lambda p, s, g, piece: run([p], {k: [v] for k, v in s.items()}, [g], piece))

        def per_variable(grads, piece):
            for i, (p, g) in enumerate(zip(params, grads)):
                one(p, {k: v[i] for k, v in slots.items()}, g, piece)

        return per_variable

    # -- public surface -----------------------------------------------------------------
    @property
    def variables(self) -> list[Any]:
        """The state slot variables, parameter by parameter in ``param_names`` order."""
        return [obj for n in self._order for obj in self._slot_objects.get(n, {}).values()]

    @property
    def trace_count(self) -> int:
        """How many times the step functions have been traced (one per replica device at most)."""
        return sum(int(p.experimental_get_tracing_count()) for programs in self._programs.values() for p in programs)

    @property
    def fused_buckets(self) -> int:
        """How many buckets run TensorFlow's fused training ops."""
        return sum(1 for layout in self._layouts if layout.fused)

    @property
    def native_buckets(self) -> int:
        """How many buckets run optbridge's native single-pass ops."""
        return sum(1 for layout in self._layouts if layout.native)

    def slot(self, name: str, slot: str) -> Any:
        """The state variable ``slot`` of parameter ``name`` (e.g. ``"exp_avg"``)."""
        try:
            return self._slot_objects[name][slot]
        except KeyError:
            raise KeyError(f"no slot {slot!r} for parameter {name!r}; slots: "
                           f"{sorted(self._slot_objects.get(name, {}))}") from None

    @_plain_python
    def step(self, grads: Any) -> None:
        """Apply one update; ``grads`` is ``{name: gradient}`` or a sequence in ``param_names`` order.

        Works eagerly and inside a ``tf.function``. Eagerly, every check and host scalar
        comes first, so a bad call changes nothing. In a replica context of a
        ``tf.distribute`` strategy the gradients are taken as given (sum them over replicas
        first, e.g. ``get_replica_context().all_reduce("sum", grads)``), and each replica's
        copy is updated with its own.
        """
        names = self._order
        if isinstance(grads, Mapping):
            missing = [n for n in names if n not in grads]
            if missing:
                raise StepInputError(f"step: no gradient for parameter(s) {missing[:5]}")
            ordered = [grads[n] for n in names]
        elif isinstance(grads, Sequence) and not isinstance(grads, (str, bytes)):
            if len(grads) != len(names):
                raise StepInputError(
                    f"step: got {len(grads)} gradients for {len(names)} parameters (order: optimizer.param_names)"
                )
            ordered = list(grads)
        else:
            raise StepInputError(
                f"step: gradients must be a mapping by name or a sequence. Received: {type(grads).__name__}"
            )
        self._apply_in_context(self._checked(ordered, self._all), self._all, reduce=False)

    @_plain_python
    def apply_gradients(self, grads_and_vars: Any) -> None:
        """Apply ``[(gradient, variable), ...]`` (``tf.GradientTape`` loops, like Keras optimizers).

        As Keras does, a variable whose gradient is ``None`` or that the list leaves out
        is skipped, with a warning naming it: the variable and its state slots are not
        touched, and the step counts for every group (the engine's step counter and host
        state advance, as Keras' ``iterations`` does). Gradients of variables a
        ``unassigned="frozen"`` spec leaves out are ignored. In a replica context of a
        ``tf.distribute`` strategy the gradients are summed over replicas first.

        Raises:
            StepInputError: an item is not a pair, a variable is not one of the optimizer's,
                a gradient does not fit its variable, or no variable has a gradient
                (nothing changes).
        """
        by_name: dict[str, Any] = {}
        for i, pair in enumerate(grads_and_vars):
            try:
                grad, var = pair
            except (TypeError, ValueError):
                raise StepInputError(f"apply_gradients: item {i} is not a (gradient, variable) pair") from None
            name = self._by_id.get(id(var))
            if name is None:
                raise StepInputError(
                    f"apply_gradients: item {i}: variable {getattr(var, 'name', var)!r} is not one this optimizer "
                    f"was built with"
                )
            if grad is None:
                continue
            by_name[name] = grad
        if not by_name:
            raise StepInputError("apply_gradients: no gradient for any variable. Nothing was changed")
        present = tuple(i for i, n in enumerate(self._order) if n in by_name)
        if len(present) < len(self._order):
            missing = [n for n in self._order if n not in by_name]
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss; optbridge skips "
                          f"them as Keras does (not updated, state untouched)", UserWarning, stacklevel=2)
        self._apply_in_context(self._checked([by_name[self._order[i]] for i in present], present), present,
                               reduce=True)

    # -- stepping -----------------------------------------------------------------------
    def _apply_in_context(self, grads: list[Any], present: tuple[int, ...], *, reduce: bool) -> None:
        """Apply checked ``grads``; in a strategy's replica context, summed over replicas first
        where ``reduce``, then applied once for all replicas in cross-replica context
        (``merge_call``), which hands each replica's device its own gradients."""
        if tf.distribute.has_strategy() and not tf.distribute.in_cross_replica_context():
            context = tf.distribute.get_replica_context()
            if reduce:
                grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            context.merge_call(lambda _strategy, merged: self._apply(list(merged), present), args=(grads,))
        else:
            self._apply(grads, present)

    def _checked(self, grads: Sequence[Any], present: tuple[int, ...]) -> list[Any]:
        """``grads`` (of the parameters at positions ``present``) as tensors, each checked."""
        out = []
        for i, g in zip(present, grads):
            name, (dtype, shape) = self._order[i], self._signature[i]
            if type(g) is _EAGER_TENSOR and g.dtype == dtype and g.shape == shape:
                out.append(g)  # the common eager case: nothing to convert, nothing wrong
                continue
            var = self._vars[name]
            if isinstance(g, tf.IndexedSlices):
                g = tf.convert_to_tensor(g)
            try:
                g = tf.convert_to_tensor(g)
            except (TypeError, ValueError) as exc:
                raise StepInputError(f"step: gradient of {name!r} is not a tensor: {exc}") from None
            if g.dtype != var.dtype:
                raise StepInputError(
                    f"step: gradient of {name!r} has dtype {g.dtype.name}, parameter has {var.dtype.name}"
                )
            if not g.shape.is_compatible_with(var.shape):
                raise StepInputError(f"step: gradient of {name!r} has shape {g.shape}, parameter has {var.shape}")
            out.append(g)
        return out

    def _apply(self, grads: list[Any], present: tuple[int, ...]) -> None:
        if stateful(self._engine.spec.transforms):
            self._apply_pipeline(grads, present)
            return
        if tf.executing_eagerly():
            plan = self.engine.plan()
            self._run(grads, tf.constant(self._scalar_layout.pack(plan)), present)
            self._engine.commit(plan)
            if self._graph:
                self._clock.assign_add(1)
            return
        self._run(grads, self._device_scalars(), present, _in_xla_context())

    def _apply_pipeline(self, grads: list[Any], present: tuple[int, ...]) -> None:
        """A step through a stateful gradient pipeline (loss scaling, accumulation, an EMA:
        :class:`optbridge.transforms.PipelineCall`), which decides whether the program runs
        and writes the variables after it (an EMA). Eagerly the decisions are made on the
        host; inside a ``tf.function`` they are traced (:mod:`.pipeline`): the host numbers
        live in variables, the rule and the step count run under a ``tf.cond``.

        Raises:
            SpecValueError: under a ``tf.distribute`` strategy (nothing changes).
        """
        transforms = self._engine.spec.transforms
        if self._distributed:
            listed = ", ".join(t.describe() for t in transforms if not t.stateless)
            raise SpecValueError(f"the TensorFlow backend does not run the stateful gradient transforms ({listed}) "
                                 f"under a tf.distribute strategy yet")
        slot_names = transform_slots(transforms)

        def variables(names: list[str]) -> tuple[list[Any], dict[str, list[Any]]]:
            """The named variables and their transform slots (the pipeline's operands)."""
            return [self._vars[n] for n in names], {slot: [self._slots[n][slot] for n in names] for slot in slot_names}

        stepped, every = variables([self._order[i] for i in present]), variables(list(self._order))
        if not tf.executing_eagerly():
            xla = _in_xla_context()
            row = self._device_scalars(advance=False)
            traced = GraphCall(transforms, self._clock.read_value(), *stepped, self._transform_vars or [])

            def update(grads: list[Any]) -> None:
                self._run(grads, row, present, xla)
                self._clock.assign_add(1)

            run_traced(traced, list(grads), update, self._proceeded, *every)
            return
        engine = self.engine
        plan = engine.plan()
        call = PipelineCall(tf_ops, transforms, engine.global_step, *stepped, engine.transform_states)
        out = call.forward(list(grads))
        if out is not None:
            self._run(out, tf.constant(self._scalar_layout.pack(plan)), present)
            engine.commit(plan)
            if self._graph:
                self._clock.assign_add(1)
        call.slots = every[1]
        call.after(every[0])
        engine.commit_transforms(call.states)
        self._write_transform_state()

    def finalize_averages(self) -> None:
        """Set every variable to its moving average (Keras ``finalize_variable_values``; the
        spec needs an :class:`~optbridge.transforms.ExponentialMovingAverage`; the averages
        are ``optimizer.slot(name, "average")``).

        Raises:
            SpecValueError: the spec keeps no average.
        """
        check_averaged(self._engine.spec.transforms)
        for n in self._order:
            self._vars[n].assign(self._slots[n]["average"])

    def _run(self, grads: list[Any], scalars: Any, present: tuple[int, ...], xla: bool = False) -> None:
        if not self._distributed:
            if tf.executing_eagerly():
                self._eager_program(present)(grads, scalars)
            else:
                self._program(present, 0, xla)(grads, scalars)
            return

        def per_replica(anchor, grads, scalars):
            return self._program(present, self._replica_of[anchor.device], xla)(list(grads), scalars)

        self._strategy.extended.update(self._anchor, per_replica, args=(grads, scalars), group=True)

    def _eager_program(self, present: tuple[int, ...]) -> Any:
        """The traced step function called directly (its concrete function).

        Eagerly, calling the ``tf.function`` itself hashes the input signature of every
        gradient on every step to look up its trace (tens of milliseconds for 2,000
        tensors); the checked gradients always have the variables' shapes and dtypes, so
        the one concrete function is called instead.
        """
        concrete = self._concrete.get(present)
        if concrete is None:
            specs = [tf.TensorSpec(self._signature[i][1], self._signature[i][0]) for i in present]
            concrete = self._concrete[present] = self._program(present, 0).get_concrete_function(
                specs, tf.TensorSpec([self._width], tf.float64))
        return concrete

    # -- neutral state ------------------------------------------------------------------
    def export_slots(self) -> dict[str, dict[str, np.ndarray]]:
        return {n: {s: np.array(v.numpy(), copy=True) for s, v in slots.items()} for n, slots in self._slots.items()}

    def import_slots(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        converted = {}
        for n, slots in state.items():
            dtype = self._vars[n].dtype.as_numpy_dtype
            try:
                converted[n] = {s: np.array(v, dtype=dtype, copy=True) for s, v in slots.items()}
            except (TypeError, ValueError) as exc:
                raise StateDictError(f"state[{n!r}]: cannot convert to {np.dtype(dtype).name}: {exc}") from exc
        for n, slots in converted.items():
            for s, value in slots.items():
                self._slots[n][s].assign(value)
