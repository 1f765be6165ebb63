"""The public base of a backend's optimizer: the template step and everything around it.

DESIGN.md section 6: a backend is an **ops namespace** (:mod:`optbridge.ops`), a few
**array adapters** and optional **fast paths**, on top of :class:`BaseOptimizer`::

    class MyOptimizer(BaseOptimizer):
        ops = my_ops                               # the protocol, once for my arrays

        def check_param(self, name, array): ...    # None, or why the array cannot be trained
        def to_numpy(self, array): ...             # slot export (state_dict)
        def from_numpy(self, value, like): ...     # slot import (load_state_dict)

The base class does the rest, with no private name of optbridge's needed:

* **the template step** (:meth:`BaseOptimizer.step`): gradients normalised by name
  (:meth:`gradients_by_name`), then the spec's gradient pipeline (:meth:`transform_gradients`,
  clipping: :mod:`optbridge.transforms`), the engine's plan (host scalars of this step) packed into
  one float64 vector by the scheme every backend shares (:attr:`scalar_layout`,
  :class:`optbridge.scalars.ScalarLayout`), then for each bucket — split further by
  :meth:`bucket_key` (dtype, device) — the bucket's piece of the vector as the mapping a
  rule reads, converted by :meth:`convert_scalars`, then :meth:`run_bucket`: a fast path
  where :meth:`fast_path` offers one, else the gradient pre-processing
  (:func:`optbridge.preprocess.preprocess_gradients`) and the algorithm's shared rule
  (``Algorithm.update``), both over ``ops``; last the engine's commit. Results are written
  back as the ops protocol says: the arrays a rule returns replace the stored ones, so
  in-place backends and functional ones (JAX: :attr:`functional`, ``step`` returns the
  new parameters) share the same code;
* **slot allocation** (:meth:`allocate_slot`, ``ops.full_like`` at the slot's shape by
  default; a parameter has the slots ``Engine.slot_layouts`` lists), **slot
  export/import** (:meth:`export_slots`, :meth:`import_slots`) and the neutral
  ``state_dict`` / ``load_state_dict`` (all or nothing);
* ``get_lr`` / ``set_lr`` / ``end_epoch`` / ``global_step`` / ``param_names`` and the
  declared schedules, through the public :attr:`engine`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .engine import BucketStep, Engine, OptimizerAPI, StepPlan
from .errors import SpecTypeError, StateDictError, StepInputError
from .groups import ParamInfo
from .ops import missing_primitives
from .preprocess import preprocess_gradients
from .scalars import HEADER, ScalarLayout
from .spec import OptimizerSpec
from .transforms.base import transform_gradients
from .transforms.ema import check_averaged
from .transforms.pipeline import PipelineCall, stateful, transform_slots

__all__ = ["BaseOptimizer", "FastPath"]

#: ``fast(bucket, params, grads, slots, scalars) -> None``: an update of one bucket computing
#: exactly what pre-processing plus the shared rule compute (see :meth:`BaseOptimizer.fast_path`).
FastPath = Callable[..., Any]


class BaseOptimizer(OptimizerAPI):
    """A backend optimizer over named arrays. See the module docstring.

    Args:
        spec: a canonical :class:`~optbridge.spec.OptimizerSpec`.
        params: ``{name: array}`` or a sequence of ``(name, array)`` pairs, in the
            backend's own array type; trained in place (or, with :attr:`functional`,
            replaced by the arrays :meth:`step` returns).

    Raises:
        SpecTypeError: ``params`` is not named arrays, or :meth:`check_param` refuses one.
    """

    #: the backend's ops namespace (:class:`optbridge.ops.Ops`); a subclass sets it
    ops: ClassVar[Any] = None
    #: ``True`` when arrays are immutable (JAX): :meth:`step` returns the new parameters
    functional: ClassVar[bool] = False
    #: the backend's name, for messages
    backend_name: ClassVar[str] = "backend"

    def __init__(self, spec: OptimizerSpec, params: Mapping[str, Any] | Iterable[tuple[str, Any]]):
        missing = missing_primitives(self.ops)
        if missing:
            raise TypeError(f"{type(self).__name__}.ops lacks the ops primitives {missing}")
        named = self.named_params(params)
        for name, array in named:
            if not isinstance(name, str):
                raise SpecTypeError(f"parameter names must be strings. Received: {name!r}")
            reason = self.check_param(name, array)
            if reason is not None:
                raise SpecTypeError(f"the {self.backend_name} backend cannot train parameter {name!r}: {reason}")
        self.params: dict[str, Any] = dict(named)
        roles = self.param_roles(params)
        self.engine = Engine(spec, [ParamInfo(n, tuple(self.ops.shape_of(a)), roles.get(n)) for n, a in named])
        #: where each host scalar of a step lives in the step's packed vector
        self.scalar_layout = ScalarLayout(self.engine)
        self.slots: dict[str, dict[str, Any]] = {
            name: {slot: self.allocate_slot(self.params[name], layout.init, layout.shape)
                   for slot, layout in slots.items()}
            for name, slots in self.engine.slot_layouts().items()
        }

    # -- adapters a backend overrides -------------------------------------------------------
    def named_params(self, params: Any) -> list[tuple[str, Any]]:
        """``params`` as ``(name, array)`` pairs (a mapping or a sequence of pairs)."""
        if isinstance(params, Mapping):
            return list(params.items())
        if isinstance(params, Iterable) and not isinstance(params, (str, bytes)):
            pairs = list(params)
            if all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
                return pairs
        raise SpecTypeError(
            f"the {self.backend_name} backend takes {{name: array}} or (name, array) pairs. "
            f"Received: {type(params).__name__}"
        )

    def param_roles(self, params: Any) -> Mapping[str, str]:
        """The role (:data:`optbridge.roles.ROLES`) of the parameters ``params`` names, by
        name, where the backend knows them from a model's module or layer types; a name
        left out gets the name/rank fallback of :mod:`optbridge.roles`. Default: ``{}``
        (every role from the fallback)."""
        return {}

    def check_param(self, name: str, array: Any) -> str | None:
        """Why ``array`` cannot be trained (wrong type, dtype), or ``None`` if it can."""
        return None

    def check_gradient(self, name: str, grad: Any, param: Any) -> str | None:
        """Why ``grad`` does not fit ``param``, or ``None``. Default: shape and dtype."""
        shape, want = tuple(self.ops.shape_of(grad)), tuple(self.ops.shape_of(param))
        if shape != want:
            return f"must have shape {want}. Received: {shape}"
        if self.ops.dtype_of(grad) != self.ops.dtype_of(param):
            return f"has dtype {self.ops.dtype_of(grad)}, parameter has {self.ops.dtype_of(param)}"
        return None

    def allocate_slot(self, param: Any, init: float, shape: tuple[int, ...]) -> Any:
        """A new state array for ``param``, of shape ``shape``, filled with ``init``.

        Default: ``ops.full_like`` of ``param``, or of the box ``param[:s0, :s1, ...]`` when
        the slot is smaller (a factored statistic; slot shapes keep the parameter's axes,
        see ``optbridge.algorithms.base.SLOT_SHAPES``), so it takes the parameter's dtype
        and device and no parameter-sized array is made."""
        if shape == tuple(self.ops.shape_of(param)):
            return self.ops.full_like(param, init)
        return self.ops.full_like(param[tuple(slice(0, n) for n in shape)], init)

    def to_numpy(self, array: Any) -> np.ndarray:
        """A NumPy copy of one of the backend's arrays (slot export)."""
        return np.array(array, copy=True)

    def from_numpy(self, value: np.ndarray, like: Any) -> Any:
        """``value`` (checked: a real array of ``like``'s shape) as an array like ``like``."""
        raise NotImplementedError(f"{type(self).__name__} must implement from_numpy to load state")

    def write(self, target: Any, value: Any) -> Any:
        """Store ``value`` into ``target`` (slot import); returns the array to keep.
        Default: ``ops.assign_``."""
        return self.ops.assign_(target, value)

    def bucket_key(self, array: Any) -> Any:
        """Arrays with different keys never share a rule call (default: the dtype)."""
        return self.ops.dtype_of(array)

    def convert_scalars(self, scalars: Mapping[str, Any], like: Any,
                        float64: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Host scalars as the backend's scalars in ``like``'s dtype (the names in ``float64``:
        as float64 scalars, see ``Algorithm.float64_scalars``); booleans stay booleans,
        nested mappings (a wrapping algorithm's) stay nested."""
        wide = self.ops.astype(self.ops.scalar(0.0, like), "float64") if float64 else None
        return {
            k: self.convert_scalars(v, like, float64) if isinstance(v, Mapping)
            else v if isinstance(v, (bool, np.bool_))
            else self.ops.scalar(v, wide if k in float64 else like)
            for k, v in scalars.items()
        }

    def fast_path(self, bucket: BucketStep, params: Sequence[Any]) -> FastPath | None:
        """A fast path for this bucket, or ``None`` (default) to run the shared rule.

        A fast path must compute exactly what the pre-processing and the shared rule
        compute (the conformance suite proves it); it is called as
        ``fast(bucket, params, grads, slots, scalars)`` with the raw gradients, the
        converted scalars, and writes back like a rule (lists rebound).
        """
        return None

    # -- the template step ---------------------------------------------------------------------
    def gradients_by_name(self, grads: Any) -> dict[str, Any]:
        """``grads`` (``{name: array}`` or a sequence in :attr:`param_names` order) by name,
        each checked with :meth:`check_gradient`.

        Raises:
            StepInputError: naming the parameter at fault; nothing has changed.
        """
        names = self.engine.param_names
        if isinstance(grads, Mapping):
            missing = [n for n in names if n not in grads]
            if missing:
                raise StepInputError(f"step: no gradient for parameter(s) {missing[:5]}")
            by_name = {n: grads[n] for n in names}
        elif isinstance(grads, Sequence) and not isinstance(grads, (str, bytes)):
            if len(grads) != len(names):
                raise StepInputError(
                    f"step: got {len(grads)} gradients for {len(names)} parameters (order: optimizer.param_names)"
                )
            by_name = dict(zip(names, grads))
        else:
            raise StepInputError(
                f"step: gradients must be a mapping by name or a sequence. Received: {type(grads).__name__}"
            )
        for n in names:
            reason = self.check_gradient(n, by_name[n], self.params[n])
            if reason is not None:
                raise StepInputError(f"step: gradient of {n!r} {reason}")
        return by_name

    def step(self, grads: Any) -> Any:
        """One update. ``grads``: ``{name: array}`` or a sequence in :attr:`param_names` order.

        Every check and every host scalar come first, so a refused call changes nothing.
        With stateful gradient transforms (loss scaling, accumulation, an EMA:
        :class:`optbridge.transforms.PipelineCall`) the call may end before the update rule.
        Returns the parameters (``{name: array}``; new arrays when :attr:`functional`).
        """
        by_name = self.gradients_by_name(grads)
        engine = self.engine
        transforms = engine.spec.transforms
        if not stateful(transforms):
            self.update(self.transform_gradients(by_name), engine.plan())
            return self.params
        plan = engine.plan()
        names = list(by_name)
        slot_names = transform_slots(transforms)
        call = PipelineCall(self.ops, transforms, engine.global_step, [self.params[n] for n in names],
                            {slot: [self.slots[n][slot] for n in names] for slot in slot_names},
                            engine.transform_states, host=self.host_number)
        out = call.forward([by_name[n] for n in names])
        if out is not None:
            self.update(dict(zip(names, out)), plan)
        params = call.after([self.params[n] for n in names])
        for i, n in enumerate(names):
            self.params[n] = params[i]
            for slot in slot_names:
                self.slots[n][slot] = call.slots[slot][i]
        engine.commit_transforms(call.states)
        return self.params

    def host_number(self, value: Any) -> float:
        """A 0-d array of the backend as a Python float (a transform's decision: a loss
        scaler's finite check). Default: ``float(value)``."""
        return float(value)

    def update(self, by_name: Mapping[str, Any], plan: StepPlan) -> None:
        """Run ``plan`` (:meth:`Engine.plan`) on the gradients ``by_name`` (after the pipeline):
        each bucket's rule (or fast path), then the engine's commit."""
        vector = self.scalar_layout.pack(plan)
        new_params: dict[str, Any] = {}
        new_slots: dict[str, dict[str, Any]] = {}
        for bucket, layout in zip(plan.buckets, self.scalar_layout.buckets):
            host = layout.nest(vector[layout.offset + len(HEADER):layout.offset + layout.width], flag=bool)
            split: dict[Any, list[str]] = {}
            for n in bucket.bucket.names:
                split.setdefault(self.bucket_key(self.params[n]), []).append(n)
            for names in split.values():
                params = [self.params[n] for n in names]
                slots = {s.name: [self.slots[n].get(s.name) for n in names] for s in bucket.algorithm.slots()}
                scalars = self.convert_scalars(host, params[0], bucket.algorithm.float64_scalars)
                self.run_bucket(bucket, params, [by_name[n] for n in names], slots, scalars)
                for i, n in enumerate(names):
                    new_params[n] = params[i]
                    new_slots[n] = {k: v[i] for k, v in slots.items() if v[i] is not None}
        self.params.update(new_params)
        for n, slots_of in new_slots.items():
            self.slots[n].update(slots_of)
        self.engine.commit(plan)

    def finalize_averages(self) -> dict[str, Any]:
        """Set every parameter to its moving average (Keras ``finalize_variable_values``;
        the spec needs an :class:`~optbridge.transforms.ExponentialMovingAverage`).

        Raises:
            SpecValueError: the spec keeps no average.
        """
        check_averaged(self.engine.spec.transforms)
        for n in self.engine.param_names:
            self.params[n] = self.ops.assign_(self.params[n], self.slots[n]["average"])
        return self.params

    def transform_gradients(self, by_name: dict[str, Any]) -> dict[str, Any]:
        """The gradients after the spec's gradient pipeline (``OptimizerSpec.transforms``,
        :func:`optbridge.transforms.transform_gradients` over :attr:`ops`), by name; the
        same mapping when the spec has none."""
        transforms = self.engine.spec.transforms
        if not transforms:
            return by_name
        names = list(by_name)
        return dict(zip(names, transform_gradients(self.ops, transforms, [by_name[n] for n in names])))

    def run_bucket(self, bucket: BucketStep, params: list, grads: list, slots: dict[str, list],
                   scalars: Mapping[str, Any]) -> None:
        """Update one bucket: a fast path if :meth:`fast_path` offers one, else pre-processing
        and the shared rule over :attr:`ops`. ``params`` and the lists in ``slots`` are
        rebound to the arrays written."""
        fast = self.fast_path(bucket, params)
        if fast is not None:
            fast(bucket, params, grads, slots, scalars)
            return
        bucket.algorithm.update(self.ops, params, self.preprocess(bucket, params, grads), slots, scalars)

    def preprocess(self, bucket: BucketStep, params: Sequence[Any], grads: Sequence[Any]) -> list[Any]:
        """The bucket's gradients after the pre-processing it asks for (negation, coupled
        weight decay, centralization, loss scale; :func:`optbridge.preprocess.preprocess_gradients`
        over :attr:`ops`); new arrays where a step applies, the user's never written."""
        like = params[0]
        return preprocess_gradients(
            self.ops, params, grads, negate=bucket.negate,
            weight_decay=self.ops.scalar(bucket.weight_decay, like) if bucket.weight_decay != 0.0 else None,
            centralize=bucket.centralize,
            grad_scale=None if bucket.grad_scale is None else self.ops.scalar(bucket.grad_scale, like),
        )

    # -- state ------------------------------------------------------------------------------------
    def export_slots(self) -> dict[str, dict[str, np.ndarray]]:
        """``{param name: {slot name: NumPy copy}}`` (:meth:`to_numpy`)."""
        return {n: {k: self.to_numpy(v) for k, v in s.items()} for n, s in self.slots.items()}

    def import_slots(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        """Write checked slot values (see ``load_state_dict``): every value is converted
        with :meth:`from_numpy` before any is written, so a failed conversion changes nothing."""
        converted: dict[str, dict[str, Any]] = {}
        for n, slots in state.items():
            converted[n] = {}
            for k, v in slots.items():
                try:
                    converted[n][k] = self.from_numpy(np.asarray(v), self.slots[n][k])
                except (TypeError, ValueError) as exc:
                    raise StateDictError(f"state[{n!r}][{k!r}]: cannot convert: {exc}") from exc
        for n, slots in converted.items():
            for k, v in slots.items():
                self.slots[n][k] = self.write(self.slots[n][k], v)
