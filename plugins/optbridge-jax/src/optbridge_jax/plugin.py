"""The ``optbridge`` entry point of optbridge-jax: the ``jax`` backend's hooks.

Declared in this distribution's ``pyproject.toml``::

    [project.entry-points.optbridge]
    jax = "optbridge_jax.plugin"

Every hook returns data. The backend supports float32 always and float64 when
``jax_enable_x64`` is on at discovery time (set ``JAX_ENABLE_X64=1`` before the first
use of ``optbridge.plugin``); its strict expected failures in the conformance suite and
the algorithms it declares unsupported are data, in ``data/xfails.json``.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np

from optbridge.plugin import Backend, hookimpl

from . import ops
from .optimizer import JaxOptimizer, check_dtype
from .pytree import named_leaves

__all__ = ["optbridge_backends", "optbridge_detect_backend", "expected_failures", "unsupported", "make_params",
           "to_numpy", "grads_from_numpy", "build"]


def build(spec, params, kernels) -> JaxOptimizer:
    """``Backend.build``: a :class:`~optbridge_jax.optimizer.JaxOptimizer` over ``params``;
    ``kernels`` are fast paths other plugins add (``optbridge_kernels``)."""
    return JaxOptimizer(spec, params, kernels)


def make_params(values: Mapping[str, np.ndarray], dtype: str) -> dict[str, jax.Array]:
    """``{name: jax.Array}`` of ``dtype`` from NumPy values (the conformance suite's parameters)."""
    chosen = check_dtype(dtype, "make_params")
    return {k: jnp.asarray(np.asarray(v, dtype=chosen)) for k, v in values.items()}


def to_numpy(params: Any) -> dict[str, np.ndarray]:
    """``{dotted name: ndarray}`` copies of a parameter pytree."""
    names, leaves, _ = named_leaves(params)
    return {n: np.array(leaf, copy=True) for n, leaf in zip(names, leaves)}


def grads_from_numpy(grads: Mapping[str, np.ndarray], params: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
    """NumPy gradients as JAX arrays of each parameter's dtype."""
    return {k: jnp.asarray(np.asarray(g, dtype=params[k].dtype)) for k, g in grads.items()}


def _data() -> dict[str, Any]:
    text = (resources.files("optbridge_jax") / "data" / "xfails.json").read_text(encoding="utf-8")
    return json.loads(text)


def expected_failures() -> dict[str, str]:
    """The backend's strict expected failures ``{case id: reason}`` (``data/xfails.json``)."""
    return {str(k): str(v) for k, v in _data()["xfails"].items()}


def unsupported() -> dict[str, str]:
    """``{algorithm: reason}`` the backend declares it cannot run (``data/xfails.json``; and,
    without ``jax_enable_x64``, Muon, whose rule forms its matrix products in float64: JAX
    would compute them in float32 without a word)."""
    out = {str(k): str(v) for k, v in _data().get("unsupported", {}).items()}
    if not jax.config.jax_enable_x64:
        out.setdefault("muon", "its Newton-Schulz products are formed in float64, which JAX computes in float32 "
                               "unless jax_enable_x64 is on: set JAX_ENABLE_X64=1 before importing jax")
    return out


def _version() -> str:
    platforms = sorted({d.platform for d in jax.devices()})
    return f"{jax.__version__} (jaxlib {jaxlib.__version__}, {', '.join(platforms)})"


@hookimpl
def optbridge_backends() -> list[Backend]:
    return [
        Backend(
            name="jax",
            build=build,
            ops=ops,
            dtypes=("float32", "float64") if jax.config.jax_enable_x64 else ("float32",),
            version=_version(),
            make_params=make_params,
            to_numpy=to_numpy,
            grads_from_numpy=grads_from_numpy,
            functional=True,
            expected_failures=expected_failures(),
            unsupported=unsupported(),
        )
    ]


@hookimpl
def optbridge_detect_backend(params: Any) -> str | None:
    leaves = jax.tree_util.tree_leaves(params)
    if leaves and all(isinstance(leaf, jax.Array) for leaf in leaves):
        return "jax"
    return None
