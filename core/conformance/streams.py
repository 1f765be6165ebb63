"""Deterministic parameter and gradient streams, identical on every platform.

Values come from a counter-based generator (SplitMix64, Steele et al. 2014) computed with
exact uint64 integer arithmetic, then mapped to float64 in ``[-1, 1)`` with 53 random bits.
No transcendental function and no library RNG is involved, so every NumPy version and
every machine produces the same bits; backends receive these arrays converted to their
dtype, so every backend sees the same numbers.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["uniform", "initial_params", "gradients", "as_dtype", "reference_trajectory", "Layout"]

Layout = Sequence[tuple[str, tuple[int, ...]]]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(counter: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = counter * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def uniform(key: int, size: int) -> np.ndarray:
    """``size`` float64 values in ``[-1, 1)`` determined by the integer ``key``."""
    base = np.uint64((key * 0x100000) & 0xFFFFFFFFFFFFFFFF)
    counter = base + np.arange(size, dtype=np.uint64)
    bits = _splitmix64(counter) >> np.uint64(11)
    return bits.astype(np.float64) * (2.0 ** -52) - 1.0


def _key(seed: int, step: int, index: int) -> int:
    return (seed * 1_000_003 + step) * 4_099 + index


def initial_params(layout: Layout, seed: int = 0) -> dict[str, np.ndarray]:
    """Initial parameters in float64 for a layout ``[(name, shape), ...]``."""
    out = {}
    for i, (name, shape) in enumerate(layout):
        size = int(np.prod(shape, dtype=np.int64))
        out[name] = uniform(_key(seed, 0, i), size).reshape(shape)
    return out


def gradients(layout: Layout, step: int, seed: int = 0, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Gradients in float64 for 0-based step ``step``."""
    out = {}
    for i, (name, shape) in enumerate(layout):
        size = int(np.prod(shape, dtype=np.int64))
        out[name] = (uniform(_key(seed, step + 1, i), size) * scale).reshape(shape)
    return out


def as_dtype(values: Mapping[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Convert a stream to ``dtype`` (round to nearest)."""
    return {k: np.asarray(v, dtype=dtype) for k, v in values.items()}


def reference_trajectory(spec: Any, layout: Layout, steps: int, seed: int, dtype: str) -> list[dict[str, np.ndarray]]:
    """The NumPy backend's parameters after each of ``steps`` steps of ``spec`` (a dialect
    optimizer or canonical spec) from this stream's initial parameters and gradients in
    ``dtype``: the reference ``conform --against`` and ``diff`` compare with."""
    from .. import build

    params = as_dtype(initial_params(layout, seed), dtype)
    opt = build(spec, params, backend="numpy")
    out = []
    for step in range(steps):
        opt.step(as_dtype(gradients(layout, step, seed), dtype))
        out.append({k: v.copy() for k, v in params.items()})
    return out
