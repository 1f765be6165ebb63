"""The JAX backend's optimizer: functional steps over a parameter pytree.

Written on the public backend base (:class:`optbridge.base_optimizer.BaseOptimizer`):
the JAX ops namespace (:mod:`optbridge_jax.ops`), the array adapters for pytrees of JAX
arrays, and the bucket runner. The base does the rest: gradients by name, the engine's
plan and commit, slot allocation, the neutral ``state_dict`` / ``load_state_dict``.

``step(grads)`` returns the new parameters (a pytree of the same structure) and keeps
the state slots as JAX arrays; nothing the caller holds is modified. Each bucket (the
parameters of one group sharing pre-processing flags, split by dtype) runs as one jitted
XLA computation (:mod:`optbridge_jax.step`): :meth:`JaxOptimizer.run_bucket` replaces the
base's eager runner for every bucket, because on JAX the shared pre-processing and rule
are only ever run compiled (op by op they would dispatch each primitive separately); a
fast path from ``kernels`` runs inside the same computation in place of the rule.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from optbridge.base_optimizer import BaseOptimizer
from optbridge.engine import BucketStep
from optbridge.errors import BackendError, SpecTypeError
from optbridge.spec import OptimizerSpec

from . import ops as jax_ops
from .pytree import named_leaves
from .step import StaticAlgorithm, compiled_step, split_scalars

__all__ = ["JaxOptimizer", "check_dtype"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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


def as_array(value: Any, what: str) -> jax.Array:
    """``value`` as a JAX array of a supported dtype (NumPy arrays are converted).

    Raises:
        SpecTypeError: a tracer (the optimizer runs the host-side engine and cannot be
            traced), not an array, or an unsupported dtype (:func:`check_dtype`).
    """
    if isinstance(value, jax.core.Tracer):
        raise SpecTypeError(f"{what} is a tracer: the optimizer runs the host-side engine (schedules, "
                            f"step counter) and cannot be called inside jax.jit; call it outside and keep "
                            f"the gradient computation jitted")
    if not isinstance(value, (jax.Array, np.ndarray)):
        raise SpecTypeError(f"{what} must be a jax.Array or numpy.ndarray. Received: {type(value).__name__}")
    check_dtype(value.dtype, what)
    return jnp.asarray(value)


class JaxOptimizer(BaseOptimizer):
    """Optimizer over a pytree of JAX arrays (float32, or float64 with ``jax_enable_x64``).

    Args:
        spec: a canonical :class:`~optbridge.spec.OptimizerSpec`.
        params: a pytree of arrays (``{name: array}``, a nested dict of a Flax model,
            lists, ...); leaves are named by their dotted key paths
            (:mod:`optbridge_jax.pytree`). :attr:`params` holds them by name,
            :attr:`param_tree` as a pytree like this one.
        kernels: ``{algorithm name: kernel}``, fast paths (``optbridge_kernels``) and the
            only way to run an algorithm without a shared rule: ``kernel(algorithm,
            params, grads, slots, scalars)`` is traced inside the bucket's jitted step
            and rebinds the lists it is handed, exactly like ``algorithm.update`` without
            the ops argument (pre-processed gradients, scalars in the bucket's dtype).
        fma: let XLA contract ``a·b + c`` into fused multiply-adds on CPU (faster, not
            bitwise equal to the reference; see :mod:`optbridge_jax.step`).

    Raises:
        SpecTypeError: a leaf is not a float32/float64 array, or names collide.
        BackendError: a group's algorithm has neither a shared rule nor a kernel.
        GroupError: the spec's groups do not resolve against the leaf names.
    """

    ops: ClassVar[Any] = jax_ops
    functional = True
    backend_name = "jax"

    def __init__(self, spec: OptimizerSpec, params: Any, kernels: Mapping[str, Callable[..., Any]] | None = None,
                 *, fma: bool = False):
        self.kernels = dict(kernels or {})
        self.fma = bool(fma)
        super().__init__(spec, params)
        for g in self.engine.groups:
            if not g.algorithm.has_rule() and g.algorithm.name not in self.kernels:
                raise BackendError(f"groups[{g.index}] ({g.label}): the jax backend has no rule or kernel for "
                                   f"algorithm {g.algorithm.name!r}")
        on_cpu = all(d.platform == "cpu" for a in self.params.values() for d in a.devices())
        self.exact = not self.fma and on_cpu

    # -- array adapters ------------------------------------------------------------------
    def named_params(self, params: Any) -> list[tuple[str, jax.Array]]:
        """The leaves of the pytree ``params`` by dotted key path, as JAX arrays; the tree's
        structure is kept (:attr:`treedef`) for the pytree :meth:`step` returns."""
        names, leaves, self.treedef = named_leaves(params)
        return [(n, as_array(leaf, f"parameter {n!r}")) for n, leaf in zip(names, leaves)]

    def check_gradient(self, name: str, grad: Any, param: jax.Array) -> str | None:
        if not isinstance(grad, (jax.Array, np.ndarray)) or tuple(grad.shape) != tuple(param.shape):
            return (f"must be an array of shape {tuple(param.shape)}. Received: {type(grad).__name__} "
                    f"{getattr(grad, 'shape', '')}")
        return super().check_gradient(name, grad, param)

    def gradients_by_name(self, grads: Any) -> dict[str, jax.Array]:
        """``grads`` as a pytree shaped like the parameters, ``{name: array}``, or a sequence
        in :attr:`param_names` order, checked and converted to JAX arrays.

        Raises:
            StepInputError: a gradient is missing or does not fit its parameter.
            SpecTypeError: a gradient is a tracer (the optimizer cannot run inside ``jax.jit``).
        """
        try:
            same_structure = jax.tree_util.tree_structure(grads) == self.treedef
        except Exception:
            same_structure = False
        if same_structure:
            grads = dict(zip(self.params, jax.tree_util.tree_leaves(grads)))
        by_name = super().gradients_by_name(grads)
        return {n: as_array(g, f"gradient of {n!r}") for n, g in by_name.items()}

    def convert_scalars(self, scalars: Mapping[str, Any], like: jax.Array,
                        float64: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Host scalars cast on the host to ``like``'s dtype as NumPy 0-d arrays (fed to the
        jitted step as traced values, so a changing value does not recompile), the names in
        ``float64`` to float64 (with ``jax_enable_x64``; the bucket's dtype without it);
        booleans stay Python booleans (static), nested mappings stay nested."""
        dtype = np.dtype(like.dtype)
        wide = np.dtype(np.float64) if jax.config.jax_enable_x64 else dtype
        return {
            k: self.convert_scalars(v, like, float64) if isinstance(v, Mapping)
            else bool(v) if isinstance(v, (bool, np.bool_))
            else np.asarray(v, dtype=wide if k in float64 else dtype)
            for k, v in scalars.items()
        }

    def from_numpy(self, value: np.ndarray, like: jax.Array) -> jax.Array:
        return jnp.asarray(np.asarray(value, dtype=like.dtype))

    # -- the bucket runner -----------------------------------------------------------------
    def run_bucket(self, bucket: BucketStep, params: list, grads: list, slots: dict[str, list],
                   scalars: Mapping[str, Any]) -> None:
        """Run one bucket as one jitted XLA computation: the shared pre-processing, then the
        bucket's kernel from ``kernels`` or else the algorithm's shared rule, over
        :mod:`optbridge_jax.ops`. Rebinds ``params`` and the lists in ``slots``."""
        dtype = np.dtype(params[0].dtype)
        numeric, flags = split_scalars(scalars)
        step = compiled_step(self.kernels.get(bucket.algorithm.name), self.exact)
        new_params, new_slots = step(
            tuple(params), tuple(grads), {k: tuple(v) for k, v in slots.items()}, numeric,
            np.asarray(bucket.weight_decay, dtype) if bucket.weight_decay != 0.0 else None,
            np.asarray(bucket.grad_scale, dtype) if bucket.grad_scale is not None else None,
            algorithm=StaticAlgorithm(bucket.algorithm), negate=bucket.negate, centralize=bucket.centralize,
            flags=flags,
        )
        params[:] = new_params
        for k, v in new_slots.items():
            slots[k][:] = v

    @property
    def param_tree(self) -> Any:
        """The current parameters, as a pytree shaped like the one the optimizer was built with."""
        return jax.tree_util.tree_unflatten(self.treedef, list(self.params.values()))

    def step(self, grads: Any) -> Any:
        """Apply one update and return the new parameters (a pytree like ``params``).

        ``grads``: a pytree shaped like the parameters, ``{name: array}``, or a sequence
        in ``param_names`` order. Validation and every host scalar come first; the
        optimizer's parameters, slots and counters change only once every bucket ran.
        """
        super().step(grads)
        return self.param_tree
