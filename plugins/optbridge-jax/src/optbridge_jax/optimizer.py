"""The JAX backend's optimizer: functional steps over a parameter pytree.

``step(grads)`` returns the new parameters (a pytree of the same structure) and keeps
the state slots as JAX arrays; nothing the caller holds is modified. Per step the
engine computes every host scalar; each bucket (the parameters of one group sharing
pre-processing flags, split by dtype) then runs as one jitted XLA computation
(:mod:`optbridge_jax.step`).
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from optbridge.engine import Engine, OptimizerAPI, StepPlan
from optbridge.errors import BackendError, SpecTypeError, StateDictError, StepInputError
from optbridge.groups import ParamInfo
from optbridge.spec import OptimizerSpec

from .pytree import named_leaves
from .step import StaticAlgorithm, compiled_step, split_scalars

__all__ = ["JaxOptimizer", "check_dtype", "HOST_GROUP_KEYS"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: a group's keys in :meth:`JaxOptimizer.host_state` (the neutral state's, less ``index`` and ``params``)
HOST_GROUP_KEYS = ("host_state", "lr_override", "schedules", "scheduler_values", "hyperparameters")


def check_dtype(dtype: Any, what: str) -> np.dtype:
    """The NumPy dtype of a parameter, which must be float32, or float64 with ``jax_enable_x64``.

    Raises:
        SpecTypeError: another dtype, or float64 while ``jax_enable_x64`` is off (JAX
            would silently compute in float32).
    """
    dtype = np.dtype(dtype)
    if dtype not in _DTYPES:
        raise SpecTypeError(f"{what} must be float32 or float64. Received: {dtype}")
    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise SpecTypeError(f"{what} is float64 but jax_enable_x64 is off; set JAX_ENABLE_X64=1 or call "
                            f"jax.config.update('jax_enable_x64', True) before creating arrays")
    return dtype


def _as_array(value: Any, what: str) -> jax.Array:
    if isinstance(value, jax.core.Tracer):
        raise SpecTypeError(f"{what} is a tracer: the optimizer runs the host-side engine (schedules, "
                            f"step counter) and cannot be called inside jax.jit; call it outside and keep "
                            f"the gradient computation jitted")
    if not isinstance(value, (jax.Array, np.ndarray)):
        raise SpecTypeError(f"{what} must be a jax.Array or numpy.ndarray. Received: {type(value).__name__}")
    check_dtype(value.dtype, what)
    return jnp.asarray(value)


class JaxOptimizer(OptimizerAPI):
    """Optimizer over a pytree of JAX arrays (float32, or float64 with ``jax_enable_x64``).

    Args:
        spec: a canonical :class:`~optbridge.spec.OptimizerSpec`.
        params: a pytree of arrays (``{name: array}``, a nested dict of a Flax model,
            lists, ...); leaves are named by their dotted key paths
            (:mod:`optbridge_jax.pytree`).
        kernels: ``{algorithm name: kernel}``.
        fma: let XLA contract ``a·b + c`` into fused multiply-adds on CPU (faster, not
            bitwise equal to the reference; see :mod:`optbridge_jax.step`).

    Raises:
        SpecTypeError: a leaf is not a float32/float64 array, or names collide.
        BackendError: a group's algorithm has no JAX kernel.
        GroupError: the spec's groups do not resolve against the leaf names.
    """

    def __init__(self, spec: OptimizerSpec, params: Any, kernels: Mapping[str, Callable], *, fma: bool = False):
        names, leaves, treedef = named_leaves(params)
        arrays = {n: _as_array(leaf, f"parameter {n!r}") for n, leaf in zip(names, leaves)}
        self._names = names
        self._treedef = treedef
        self._engine = Engine(spec, [ParamInfo(n, tuple(a.shape)) for n, a in arrays.items()])
        for g in self._engine.groups:
            if g.algorithm.name not in kernels:
                raise BackendError(f"groups[{g.index}] ({g.label}): the jax backend has no kernel for algorithm "
                                   f"{g.algorithm.name!r}")
        self._kernels = {g.algorithm.name: kernels[g.algorithm.name] for g in self._engine.groups}
        self._params = arrays
        self._slots = {
            name: {slot: jnp.full(arrays[name].shape, init, dtype=arrays[name].dtype) for slot, init in slots.items()}
            for name, slots in self._engine.expected_slots().items()
        }
        self.fma = bool(fma)
        on_cpu = all(d.platform == "cpu" for a in arrays.values() for d in a.devices())
        self._exact = not self.fma and on_cpu

    @property
    def params(self) -> Any:
        """The current parameters, as a pytree shaped like the one given to ``build``."""
        return jax.tree_util.tree_unflatten(self._treedef, [self._params[n] for n in self._names])

    @property
    def slots(self) -> dict[str, dict[str, jax.Array]]:
        """The state slots, ``{param name: {slot name: array}}`` (JAX arrays, not copies)."""
        return {n: dict(s) for n, s in self._slots.items()}

    def _grads_by_name(self, grads: Any) -> dict[str, jax.Array]:
        order = self._engine.param_names
        try:
            same_structure = jax.tree_util.tree_structure(grads) == self._treedef
        except Exception:
            same_structure = False
        if same_structure:
            by_name = dict(zip(self._names, jax.tree_util.tree_leaves(grads)))
        elif isinstance(grads, Mapping) and all(isinstance(k, str) for k in grads):
            missing = [n for n in order if n not in grads]
            if missing:
                raise StepInputError(f"step: no gradient for parameter(s) {missing[:5]}")
            by_name = dict(grads)
        elif isinstance(grads, Sequence) and not isinstance(grads, (str, bytes)):
            if len(grads) != len(order):
                raise StepInputError(
                    f"step: got {len(grads)} gradients for {len(order)} parameters (order: optimizer.param_names)")
            by_name = dict(zip(order, grads))
        else:
            raise StepInputError("step: gradients must be a pytree shaped like the parameters, a mapping by name, "
                                 f"or a sequence in optimizer.param_names order. Received: {type(grads).__name__}")
        out = {}
        for n in order:
            g, p = by_name[n], self._params[n]
            if not isinstance(g, (jax.Array, np.ndarray)) or tuple(g.shape) != tuple(p.shape):
                raise StepInputError(f"step: gradient of {n!r} must be an array of shape {tuple(p.shape)}. "
                                     f"Received: {type(g).__name__} {getattr(g, 'shape', '')}")
            if np.dtype(g.dtype) != np.dtype(p.dtype):
                raise StepInputError(f"step: gradient of {n!r} has dtype {g.dtype}, parameter has {p.dtype}")
            out[n] = _as_array(g, f"gradient of {n!r}")
        return out

    def _run(self, plan: StepPlan, grads: Mapping[str, jax.Array]) -> tuple[dict, dict]:
        params = dict(self._params)
        slots = dict(self._slots)
        for bs in plan.buckets:
            by_dtype: dict[np.dtype, list[str]] = {}
            for n in bs.bucket.names:
                by_dtype.setdefault(np.dtype(params[n].dtype), []).append(n)
            step = compiled_step(self._kernels[bs.algorithm.name], self._exact)
            slot_names = [s.name for s in bs.algorithm.slots()]
            for dtype, names in by_dtype.items():
                numeric, flags = split_scalars(bs.scalars, dtype, bs.algorithm)
                new_params, new_slots = step(
                    tuple(params[n] for n in names),
                    tuple(grads[n] for n in names),
                    {s: tuple(slots[n][s] for n in names) for s in slot_names},
                    numeric,
                    np.asarray(bs.weight_decay, dtype) if bs.weight_decay != 0.0 else None,
                    np.asarray(bs.grad_scale, dtype) if bs.grad_scale is not None else None,
                    algorithm=StaticAlgorithm(bs.algorithm), negate=bs.negate, centralize=bs.centralize,
                    flags=flags,
                )
                for i, n in enumerate(names):
                    params[n] = new_params[i]
                    slots[n] = {s: new_slots[s][i] for s in slot_names}
        return params, slots

    def step(self, grads: Any) -> Any:
        """Apply one update and return the new parameters (a pytree like ``params``).

        ``grads``: a pytree shaped like the parameters, ``{name: array}``, or a sequence
        in ``param_names`` order. Validation and every host scalar come first; the
        optimizer's parameters, slots and counters change only once every bucket ran.
        """
        by_name = self._grads_by_name(grads)
        plan = self._engine.plan()
        self._params, self._slots = self._run(plan, by_name)
        self._engine.commit(plan)
        return self.params

    # -- functional state (used by the Optax-style transformation) -----------------------
    def host_state(self) -> dict[str, Any]:
        """The engine's part of the state as plain data (copies): ``{"global_step", "groups":
        [{host_state, lr_override, schedules, scheduler_values, hyperparameters}]}``, each group
        the neutral state dict's group without ``index`` and ``params``, so the state of declared
        schedules (torch ``lr_scheduler`` declarations) travels with it."""
        sd = self._engine.state_dict({})
        return {"global_step": sd["global_step"],
                "groups": [{k: copy.deepcopy(g[k]) for k in HOST_GROUP_KEYS} for g in sd["groups"]]}

    def restore(self, params: Any, slots: Mapping[str, Mapping[str, jax.Array]], host: Mapping[str, Any]) -> None:
        """Continue from a state taken with :attr:`slots` and :meth:`host_state` (no copies).

        ``host`` is checked with the rules of ``load_state_dict``, the slots for their
        parameters, names, shapes and dtypes, before anything changes. Groups holding only
        ``host_state`` and ``lr_override`` load as a format-1 state dict (no schedule state:
        refused for a group with a declared schedule).
        """
        names, leaves, treedef = named_leaves(params)
        if treedef != self._treedef:
            raise StepInputError(f"params: the pytree structure differs from the one the optimizer was built "
                                 f"with ({treedef} vs {self._treedef})")
        new_params = {n: _as_array(leaf, f"parameter {n!r}") for n, leaf in zip(names, leaves)}
        if not isinstance(slots, Mapping) or set(slots) != set(self._slots):
            got = sorted(slots)[:5] if isinstance(slots, Mapping) else slots
            raise StateDictError(f"state: slots for {got!r:.200}, expected {sorted(self._slots)[:5]}")
        for n, current in self._slots.items():
            given = slots[n]
            if not isinstance(given, Mapping) or set(given) != set(current):
                raise StateDictError(f"state[{n!r}]: slots {given!r:.80} != expected {sorted(current)}")
            for k, ref in current.items():
                value = given[k]
                if getattr(value, "shape", None) != ref.shape or getattr(value, "dtype", None) != ref.dtype:
                    raise StateDictError(f"state[{n!r}].{k}: must be a {ref.dtype} array of shape {ref.shape}. "
                                         f"Received: {type(value).__name__} {getattr(value, 'dtype', '')} "
                                         f"{getattr(value, 'shape', '')}")
        if not isinstance(host, Mapping) or set(host) != {"global_step", "groups"}:
            raise StateDictError(f"host: must hold 'global_step' and 'groups'. Received: {host!r:.120}")
        full = self._engine.state_dict({})
        groups = host["groups"]
        if not isinstance(groups, list) or len(groups) != len(full["groups"]):
            raise StateDictError(
                f"host.groups: must be a list of {len(full['groups'])} group(s). Received: {groups!r:.120}")
        old_form = all(isinstance(h, Mapping) and set(h) == set(HOST_GROUP_KEYS[:2]) for h in groups)
        keys = HOST_GROUP_KEYS[:2] if old_form else HOST_GROUP_KEYS
        for i, (g, h) in enumerate(zip(full["groups"], groups)):
            if not isinstance(h, Mapping) or set(h) != set(keys):
                raise StateDictError(f"host.groups[{i}]: must hold {', '.join(map(repr, keys))}. "
                                     f"Received: {h!r:.120}")
            for k in HOST_GROUP_KEYS:
                g.pop(k)
            g.update({k: h[k] for k in keys})
        full["global_step"] = host["global_step"]
        if old_form:
            full["format_version"] = 1
        parsed = self._engine.parse_state_dict(full, slots=False)
        self._params = new_params
        self._slots = {n: dict(s) for n, s in slots.items()}
        self._engine.apply_state(parsed)

    # -- neutral state (OptimizerAPI) -----------------------------------------------------
    def _export_slots(self) -> dict[str, dict[str, np.ndarray]]:
        return {n: {k: np.array(v, copy=True) for k, v in s.items()} for n, s in self._slots.items()}

    def _import_slots(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        converted = {}
        for n, slots in state.items():
            dtype = self._params[n].dtype
            try:
                converted[n] = {k: jnp.asarray(np.asarray(v, dtype=dtype)) for k, v in slots.items()}
            except (TypeError, ValueError) as exc:
                raise StateDictError(f"state[{n!r}]: cannot convert to {dtype}: {exc}") from exc
        for n, slots in converted.items():
            self._slots[n] = {**self._slots[n], **slots}
