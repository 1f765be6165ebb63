"""Dispatch: one unit's update on its path, from the engine's :class:`~optbridge.engine.BucketStep`.

Paths, in the order :func:`run_unit` tries them:

* ``native`` — torch's own fused kernel where the canonical formula is exactly torch's
  (:mod:`optbridge.backends.torch.fast_paths`); parameters whose tensors it cannot pair
  run on the reference path;
* ``compiled`` — the canonical rule through ``torch.compile``, at most
  :data:`COMPILE_CHUNK` tensors per graph, the host scalars in one tensor so that a new
  learning rate never recompiles (:mod:`optbridge.backends.torch.paths`);
* ``reference`` — the canonical rule eagerly, per tensor (small buckets on ``auto``, a
  failed compile, ``path="reference"``).
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from optbridge.algorithms.base import FLAG
from optbridge.engine import BucketStep
from optbridge.scalars import HEADER, BucketLayout

from .fast_paths import preprocess
from .paths import (
    NESTED,
    SCALE,
    WD,
    bucket_step,
    compiled_bucket_step,
    fused_layout,
    hashable,
    in_layout_of,
    trace_key,
)
from .sharded import LOCAL, run_sharded
from .units import Unit

__all__ = ["COMPILE_THRESHOLD", "COMPILE_CHUNK", "run_unit", "run_compiled", "scalar_vector", "eager_preprocess",
           "split", "work_params", "update_tensors"]

#: Default ``compile_threshold``: buckets below 65,536 elements are not worth a compile.
COMPILE_THRESHOLD = 1 << 16
#: The compiled path compiles at most this many tensors per graph.
COMPILE_CHUNK = 64
_stride_of = torch.Tensor.stride


def work_params(params: Sequence[torch.Tensor], compute_dtype: torch.dtype | None) -> list[torch.Tensor]:
    """The parameters in the compute dtype (copies for float16/bfloat16 with float32 state)."""
    return list(params) if compute_dtype is None else [p.to(compute_dtype) for p in params]


def split(which: Sequence[bool], params: list[torch.Tensor], grads: list[torch.Tensor],
          slots: Mapping[str, list[torch.Tensor]], keep: bool) -> tuple[list, list, dict[str, list]]:
    """The parameters, gradients and slots at the indices where ``which`` is ``keep``."""
    def pick(seq: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [t for t, w in zip(seq, which) if w == keep]
    return pick(params), pick(grads), {k: pick(v) for k, v in slots.items()}


def run_unit(unit: Unit, bs: BucketStep, present: list[int] | None, grads: list[torch.Tensor],
             layouts_checked: bool, *, kernel: Any, path: str, compile_threshold: int,
             layout: BucketLayout, piece: np.ndarray) -> None:
    """Update one unit's parameters that have gradients (``present``: their indices, ``None``: all).

    ``layouts_checked``: the gather found every parameter, gradient and slot of a fused
    unit in one layout; otherwise each tensor is sorted by :func:`fused_layout` first.
    ``kernel``: the algorithm's
    :class:`~optbridge.backends.torch.fast_paths.FastPath`; ``path`` and
    ``compile_threshold``: the optimizer's options. ``layout`` and ``piece``: the bucket's
    place in the step's packed scalar vector (:class:`optbridge.scalars.ScalarLayout`) and
    its values, read by the rule path; the native path takes ``bs.scalars``.
    """
    if unit.flat is not None:
        params, slots = unit.flat_params, unit.flat_slots
    elif present is None:
        params, slots = unit.params, unit.slots
    else:
        params = [unit.params[i] for i in present]
        slots = {k: [v[i] for i in present] for k, v in unit.slots.items()}
    options = dict(kernel=kernel, path=path, compile_threshold=compile_threshold, layout=layout, piece=piece)
    if unit.sharding is None:
        update_tensors(unit, bs, params, grads, slots, layouts_checked, present is None, **options)
        return
    # DTensor parameters: their shards, or their whole tensors one at a time (a layout per tensor)
    whole = present is None and unit.sharding == LOCAL
    run_sharded(unit.sharding, params, grads, slots,
                lambda p, g, s: update_tensors(unit, bs, p, g, s, False, whole, **options), unit.pads)


def update_tensors(unit: Unit, bs: BucketStep, params: list[torch.Tensor], grads: list[torch.Tensor],
                   slots: dict[str, list[Any]], layouts_checked: bool, whole: bool, *, kernel: Any, path: str,
                   compile_threshold: int, layout: BucketLayout, piece: np.ndarray) -> None:
    """Update ``params`` (the unit's, or the ones with a gradient) with ``grads`` on the unit's path.

    ``whole``: the tensors are the unit's own, all of them, in its layout (compiled
    functions are then looked up without a per-tensor key). The other arguments as
    :func:`run_unit`'s.
    """
    alg = bs.algorithm
    decay = bs.weight_decay != 0.0
    scale = bs.grad_scale is not None
    eager = False
    if unit.native is not None:
        preprocess = bs.centralize or scale
        rest = None
        if not layouts_checked:
            eager_ones = [fused_layout(p, g, [v[i] for v in slots.values()]) == "eager"
                          for i, (p, g) in enumerate(zip(params, grads))]
            if any(eager_ones):
                # the parameters torch's kernel cannot pair with their state run on the reference path
                rest = split(eager_ones, params, grads, slots, True)
                params, grads, slots = split(eager_ones, params, grads, slots, False)
            if not preprocess:
                grads = in_layout_of(params, grads)
        if params:
            scalars = dict(bs.scalars, step=bs.step)
            if preprocess:
                grads = eager_preprocess(unit, bs, params, grads)
                # the pre-processed tensors take their layout from torch's ops: check it again
                if list(map(_stride_of, grads)) != list(map(_stride_of, params)):
                    grads = in_layout_of(params, grads)
                unit.native(alg, params, grads, slots, scalars, False, 0.0)
            else:
                unit.native(alg, params, grads, slots, scalars, bs.negate, bs.weight_decay)
        if rest is None:
            return
        params, grads, slots = rest
        eager = True
    # the bucket's piece of the step's packed vector (ScalarLayout): the numbers, nested ones (LARS's
    # inner scalars) too, become one tensor (as Python floats a new learning rate would recompile);
    # the flags stay Python values (a compiled function per flag value)
    names, values, flags = [], [], {}
    head = len(HEADER)
    for j, field in enumerate(layout.fields):
        name = NESTED.join(field.path)
        if field.kind == FLAG:
            flags[name] = bool(piece[head + j])
        else:
            names.append(name)
            values.append(float(piece[head + j]))
    names += [WD, SCALE]
    values += [float(piece[0]), float(piece[1])]
    dtype = unit.compute_dtype or params[0].dtype
    wide_names: tuple[str, ...] = ()
    wide = None
    if dtype != torch.float64 and alg.float64_scalars:
        # the scalars the rule takes in float64 whatever the bucket's dtype: a second vector
        keep = [i for i, n in enumerate(names) if n not in alg.float64_scalars]
        wide_names = tuple(n for n in names if n in alg.float64_scalars)
        wide = scalar_vector([values[names.index(n)] for n in wide_names], torch.float64, unit.device)
        names, values = [names[i] for i in keep], [values[i] for i in keep]
    svec = scalar_vector(values, dtype, unit.device)
    pre = (bs.negate, decay, bs.centralize, scale)
    args = (kernel.update_on(path), alg, params, grads, slots, svec, tuple(names), flags, pre,
            unit.compute_dtype, wide, wide_names)
    if (eager or path == "reference" or not kernel.compiles(alg)
            or (path != "compiled" and unit.numel < compile_threshold)):
        bucket_step(*args)
        return
    # cycled momentum/betas arrive as scalars: trace with the representative of this step's
    # algorithm, so a new value never recompiles
    alg = unit.traced.setdefault(hashable(trace_key(alg, unit.algorithm)), alg)
    args = args[:1] + (alg,) + args[2:]
    if bs.centralize:
        # inductor (torch 2.13) fails to compile the per-tensor mean next to in-place updates
        # (KeyError in loop_body): centralize eagerly, compile the rest.
        grads = eager_preprocess(unit, bs, work_params(params, unit.compute_dtype), grads)
        pre = (False, False, False, False)
        args = args[:3] + (grads,) + args[4:8] + (pre,) + args[9:]
    variant = (alg.name, alg, pre, tuple(names), tuple(sorted(flags)), unit.compute_dtype, wide_names)
    if len(params) > COMPILE_CHUNK:
        # bounded graphs: compile time stays flat, and chunks of equal shapes share one compiled function
        for lo in range(0, len(params), COMPILE_CHUNK):
            hi = lo + COMPILE_CHUNK
            chunk = (args[2][lo:hi], args[3][lo:hi], {k: v[lo:hi] for k, v in args[4].items()})
            run_compiled(unit, variant, args[:2] + chunk + args[5:], lo if whole else None)
        return
    run_compiled(unit, variant, args, 0 if whole else None)


def run_compiled(unit: Unit, variant: tuple, args: tuple, chunk: int | None) -> None:
    """Run one chunk's compiled function; ``chunk``: its first index when every parameter of
    the unit has a gradient (its layout is the unit's, so the function is looked up without
    a per-tensor key), else ``None``."""
    fast = None if chunk is None else hashable((variant, chunk))
    fn = unit.chunks.get(fast) if fast is not None else None
    if fn is not None:
        fn(*args)
        return
    alg, params = args[1], args[2]
    layout = tuple((tuple(p.shape), p.dtype, str(p.device)) for p in params)
    key = hashable(variant + (layout,))
    fn = unit.compiled.get(key)
    if fn is None:
        fn = compiled_bucket_step(key, zero_dim=any(not shape for shape, _, _ in layout))
        try:
            fn(*args)  # compiles; a compile error raises before any tensor is written
        except Exception as exc:
            warnings.warn(f"optbridge torch backend: torch.compile failed for a {alg.name!r} bucket "
                          f"({type(exc).__name__}: {str(exc)[:200]}); this bucket runs eagerly", RuntimeWarning,
                          stacklevel=3)
            fn = bucket_step
            bucket_step(*args)
        unit.compiled[key] = fn
    else:
        fn(*args)
    if fast is not None:
        unit.chunks[fast] = fn


def scalar_vector(values: list[float], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if device.type == "cpu":
        return torch.tensor(values, dtype=dtype)
    host = torch.tensor(values, dtype=dtype, pin_memory=torch.cuda.is_available() and device.type == "cuda")
    return host.to(device, non_blocking=True)


def eager_preprocess(unit: Unit, bs: BucketStep, params: list[torch.Tensor],
                     grads: list[torch.Tensor]) -> list[torch.Tensor]:
    """Pre-process gradients eagerly (in the compute dtype of ``params``)."""
    dtype = params[0].dtype
    if grads[0].dtype != dtype:
        grads = [g.to(dtype) for g in grads]
    # torch.full fills on the device (torch.tensor(x, device=cuda) would copy from the host and sync)
    wd = torch.full((), bs.weight_decay, dtype=dtype, device=unit.device) if bs.weight_decay != 0.0 else None
    scale = torch.full((), bs.grad_scale, dtype=dtype, device=unit.device) if bs.grad_scale is not None else None
    return preprocess(params, grads, bs.negate, wd, bs.centralize, scale)
