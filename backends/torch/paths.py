"""Execution paths of one bucket update: reference, compiled and native.

* **reference** — :func:`bucket_step` run eagerly: the shared pre-processing
  (:mod:`optbridge.preprocess`) and the algorithm's shared update rule on the torch ops
  namespace (:mod:`.ops`), one tensor at a time, each op a separate torch call. For
  debugging; the conformance truth on torch.
* **compiled** — the same :func:`bucket_step` through ``torch.compile(fullgraph=True)``:
  inductor fuses pre-processing, the update and (with ``state_dtype``) the casts into
  one C++/OpenMP loop per tensor on CPU, Triton kernels on CUDA. Host scalars arrive as
  one 1-D tensor, so a new learning rate or bias correction never recompiles. Each
  bucket layout (algorithm, pre-processing flags, dtypes, shapes, devices) gets its own
  code object, so dynamo's per-code recompile limit is never shared between buckets;
  within one, the Python flags of the first and later steps give at most two graphs.
  Inductor's on-disk FX graph cache makes the first step of a later process cheap.
  Momentum and betas that change from step to step (``CyclicLR``/``OneCycleLR``
  cycling, a hand edit of ``param_groups``) reach the rule as host scalars too; the
  graph is traced with a *representative* algorithm (:func:`trace_key`), so cycling
  them never recompiles.
* **native** — torch's own fused kernel (``FastPath.native``, :mod:`.fast_paths`) where the
  canonical formula is exactly torch's. torch's fused CPU kernels walk each tensor's
  memory linearly over ``numel`` elements, whatever its strides (and its CUDA kernels
  refuse mismatched strides): they are given only tensors for which
  :func:`fused_layout` answers ``"fused"``, gradients in another layout are copied into
  the parameter's first (``"copy"``), and parameters that are not dense, or whose state
  is laid out differently, run on the reference path (``"eager"``).
"""
from __future__ import annotations

import threading
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from .fast_paths import preprocess, run_rule
from .sequence import in_turn, runs_in_turn

__all__ = ["bucket_step", "compiled_bucket_step", "trace_key", "hashable", "fused_layout", "in_layout_of",
           "same_strides", "PATHS", "WD", "SCALE", "NESTED", "LIVE_HYPERPARAMETERS"]

#: Path names accepted by :class:`optbridge.backends.torch.Optimizer`.
PATHS = ("auto", "reference", "compiled", "native")
#: Names of the pre-processing scalars inside the scalar vector.
WD = "_preprocess_weight_decay"
SCALE = "_preprocess_grad_scale"
#: Joins an outer and an inner name of a nested host scalar (LARS's ``scalars["inner"]["lr"]``
#: travels in the scalar vector as ``"inner.lr"``; :func:`bucket_step` nests it again).
NESTED = "."
#: Hyperparameters whose values may change between steps (momentum/beta1 cycling, hand edits of
#: ``param_groups``). Rules read their values from the host scalars (``s["momentum"]``,
#: ``s["beta1"]``, ...); from ``alg`` only whether they are zero, positive, or within 0.5
#: of 1 (SGD's ``momentum == 0``, RMSprop's ``momentum > 0``, torch's ``lerp`` form).
LIVE_HYPERPARAMETERS = ("momentum", "beta1", "beta2")


def trace_key(alg: Any, base: Any) -> Any:
    """What a compiled graph of ``alg`` depends on, for a bucket built with ``base``.

    ``alg`` itself when its live hyperparameters (:data:`LIVE_HYPERPARAMETERS`) equal
    ``base``'s; otherwise ``alg`` with them reset to ``base``'s values together with,
    for each, the three tests rules may make on it (``== 0``, ``> 0``,
    ``|1 − v| < 0.5``). Steps whose keys are equal run one graph, traced with the first
    such step's algorithm: cycling momentum or beta1 inside one class compiles once.
    """
    hp, base_hp = alg.hyperparameters(), base.hyperparameters()
    live = [k for k in LIVE_HYPERPARAMETERS
            if k in hp and k in base_hp and isinstance(hp[k], float) and hp[k] != base_hp[k]]
    if not live:
        return alg
    tests = tuple((k, hp[k] == 0.0, hp[k] > 0.0, abs(1.0 - hp[k]) < 0.5) for k in live)
    return alg.replace(**{k: base_hp[k] for k in live}), tests


def hashable(key: Any) -> Any:
    """``key`` for a dict of compiled functions: itself, or its ``repr`` when a field is
    unhashable (LARS's ``lars_filter`` selector can be a dict)."""
    try:
        hash(key)
    except TypeError:
        return repr(key)
    return key


def same_strides(t: torch.Tensor, p: torch.Tensor) -> bool:
    """Whether ``t`` (of ``p``'s shape) addresses its elements as ``p`` does: equal strides in
    every dimension of size > 1 (torch's ``_check_tensors_share_sizes_and_strides``)."""
    return all(n == 1 or a == b for n, a, b in zip(p.shape, t.stride(), p.stride()))


def _dense(t: torch.Tensor) -> bool:
    """Whether ``t``'s elements fill ``numel`` consecutive memory slots, each once (torch's
    ``is_non_overlapping_and_dense``): a permutation of the dimensions makes it contiguous."""
    if t.numel() == 0:
        return True
    expected = 1
    for stride, n in sorted((st, n) for st, n in zip(t.stride(), t.shape) if n != 1):
        if stride != expected:
            return False
        expected *= n
    return True


def fused_layout(param: torch.Tensor, grad: torch.Tensor, slots: Sequence[torch.Tensor]) -> str:
    """How one parameter may go through torch's fused kernels, judged by memory layout.

    A fused kernel pairs the ``k``-th memory slot of the parameter with the ``k``-th of
    its gradient and of each state tensor, over ``numel`` slots: that is elementwise
    only when all of them share one non-overlapping, dense layout.

    Returns:
        ``"fused"`` when the parameter is non-overlapping and dense and the gradient and
        every slot have its strides (:func:`same_strides`); ``"copy"`` when only the
        gradient differs (transposed, expanded, a strided view): it must first be copied
        into the parameter's layout (:func:`in_layout_of`); ``"eager"`` when the parameter
        is not dense or a slot is laid out differently: the parameter must run on the
        reference path.
    """
    strides = param.stride()
    if param.is_contiguous() and grad.stride() == strides and all(s.stride() == strides for s in slots):
        return "fused"  # the common case, without the per-dimension walks below
    if not _dense(param) or not all(same_strides(s, param) for s in slots):
        return "eager"
    return "fused" if same_strides(grad, param) else "copy"


def in_layout_of(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``grads``, each one not laid out like its (dense) parameter replaced by a copy that is.

    ``torch.empty_like`` keeps a non-overlapping, dense tensor's strides exactly.
    """
    return [g if same_strides(g, p) else torch.empty_like(p).copy_(g) for p, g in zip(params, grads)]


def bucket_step(
    update: Callable[..., None],
    alg: Any,
    params: Sequence[torch.Tensor],
    grads: Sequence[torch.Tensor],
    slots: Mapping[str, Sequence[torch.Tensor]],
    svec: torch.Tensor,
    names: tuple[str, ...],
    flags: Mapping[str, Any],
    pre: tuple[bool, bool, bool, bool],
    compute_dtype: torch.dtype | None,
    wide: torch.Tensor | None = None,
    wide_names: tuple[str, ...] = (),
) -> None:
    """Pre-process the gradients and run the update rule on one bucket, in place.

    Args:
        update: the bucket update (``FastPath.update``: the shared rule on the torch ops).
        alg: the canonical algorithm (hyperparameters).
        params, grads: the bucket's tensors (grads are not modified).
        slots: ``{slot name: [state tensors]}`` in the compute dtype.
        svec: every float host scalar, in the compute dtype, in the order of ``names``.
        names: the scalar names; ``"outer.inner"`` (:data:`NESTED`) is ``s["outer"]["inner"]``.
        flags: non-float host scalars (``first_step``, ``average``), kept as Python values
            (nested the same way).
        pre: ``(negate, weight decay, centralize, loss scale)`` switches.
        compute_dtype: ``None`` to compute in the parameter dtype; otherwise the state
            dtype (float16/bfloat16 parameters with float32 state).
        wide, wide_names: the scalars the rule takes in float64 whatever the bucket's dtype
            (``Algorithm.float64_scalars``), as a float64 vector, and their names.
    """
    s = dict(flags)
    for i, name in enumerate(names):
        s[name] = svec[i]
    for i, name in enumerate(wide_names):
        s[name] = wide[i]  # type: ignore[index]  # wide is given whenever wide_names is
    for key in [k for k in s if NESTED in k]:
        outer, inner = key.split(NESTED, 1)
        s.setdefault(outer, {})[inner] = s.pop(key)
    negate, decay, centralize, scale = pre

    def step(work: list[torch.Tensor], grads: list[torch.Tensor], slots: Mapping[str, Sequence[Any]]) -> None:
        grads = preprocess(work, grads, negate, s[WD] if decay else None, centralize, s[SCALE] if scale else None)
        update(alg, work, grads, slots, s)

    if compute_dtype is not None:
        work = [p.to(compute_dtype) for p in params]
        step(work, [g.to(compute_dtype) for g in grads], slots)
        for p, w in zip(params, work):
            p.copy_(w)
    elif update is run_rule and runs_in_turn(alg) and torch.compiler.is_compiling():
        # about one large tensor's update alive at a time (sequence.py)
        in_turn(step, params, grads, slots)
    else:
        step(list(params), list(grads), slots)


_cache: dict[Any, Callable[..., None]] = {}
_lock = threading.Lock()


#: inductor options of the compiled path. ``size_asserts``: the generated ``call`` would check
#: every input's sizes and strides again after dynamo's guards have (one Python call per tensor
#: per step: 644 on the 161 ResNet-50 tensors with Adam); the arithmetic is the same either way.
INDUCTOR_OPTIONS: dict[str, Any] = {"size_asserts": False}


def compiled_bucket_step(key: Any, zero_dim: bool = True) -> Callable[..., None]:
    """The compiled :func:`bucket_step` for one bucket layout ``key`` (cached per process).

    ``zero_dim``: whether the layout has 0-d tensors (they are passed as 1-element views,
    see :func:`_scalars_as_vectors`; without them the compiled function is called directly).
    """
    with _lock:
        fn = _cache.get(key)
        if fn is None:
            code = bucket_step.__code__.replace(co_name=f"bucket_step_{len(_cache)}")
            fresh = types.FunctionType(code, bucket_step.__globals__, code.co_name, bucket_step.__defaults__)
            fn = torch.compile(fresh, fullgraph=True, dynamic=False, options=INDUCTOR_OPTIONS)
            if zero_dim:
                fn = _scalars_as_vectors(fn)
            _cache[key] = fn
        return fn


def _as_1d(tensors: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
    """The tensors, 0-d ones as 1-element views (``None``, a slot a parameter lacks, kept)."""
    return [t.view(1) if t is not None and t.dim() == 0 else t for t in tensors]


def _scalars_as_vectors(compiled: Callable[..., None]) -> Callable[..., None]:
    """``compiled`` called with every 0-d parameter, gradient and slot as a 1-element view.

    torch 2.13's ``torch.compile`` (AOTAutograd) drops in-place updates of a 0-d float64
    CPU input that does not require grad: ``p.sub_(u)`` on ``torch.tensor(0.5,
    dtype=torch.float64)`` leaves ``p`` unchanged. A 1-element view updates the same
    storage; no rule's formula depends on 0-d versus 1-element 1-d.
    """
    def run(update, alg, params, grads, slots, *rest):
        return compiled(update, alg, _as_1d(params), _as_1d(grads), {k: _as_1d(v) for k, v in slots.items()}, *rest)

    return run
