"""Shared machinery of the live torch.optim comparisons (``test_torch_optim_live_*.py``).

A case builds the optbridge torch-dialect spec and the torch optimizer from the same
arguments (two parameter groups with different hyperparameters, ``foreach=False``: torch's
single-tensor path), feeds both the deterministic gradient streams of
:mod:`optbridge.conformance.streams` for :data:`STEPS` steps and compares every parameter
after every step:

* float64: max |ours − torch| ≤ 1e-12 · max |torch| per tensor;
* float32: |ours − torch| ≤ 1e-6 + 1e-5·|torch| per element, and the bit-identical share
  at least the level measured for the class.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

import optbridge
from optbridge.conformance import compare, streams
from optbridge.conformance.against import torch_param_groups
from optbridge.dialects.torch import optim

LAYOUT = (("conv.weight", (4, 3, 3)), ("conv.bias", (4,)), ("fc.weight", (5, 7)), ("fc.bias", (5,)))
STEPS = 25
GROUPS_A = ["conv.*"]


def groups(group0: dict, group1: dict) -> list[dict]:
    """The optbridge param groups: ``conv.*`` with ``group0``'s overrides, the rest with ``group1``'s."""
    return [{"params": list(GROUPS_A), **group0}, {"params": "*", **group1}]


def run_both(cls_name: str, group0: dict, group1: dict, kwargs: dict, dtype: str,
             seed: int) -> Iterator[tuple[int, dict, dict]]:
    """Yield ``(step, ours, theirs)`` after every step (optbridge on the NumPy backend)."""
    spec = getattr(optim, cls_name)(groups(group0, group1), **kwargs)
    start = streams.as_dtype(streams.initial_params(LAYOUT, seed), dtype)
    ours = {k: v.copy() for k, v in start.items()}
    opt = optbridge.build(spec, ours, backend="numpy")
    tensors = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in start.items()}
    # the same groups as torch param-group dicts, as ``optbridge conform --against torch`` builds them
    reference = getattr(torch.optim, cls_name)(torch_param_groups(spec, tensors, LAYOUT), foreach=False, **kwargs)
    for step in range(STEPS):
        grads = streams.as_dtype(streams.gradients(LAYOUT, step, seed), dtype)
        opt.step(grads)
        for name, tensor in tensors.items():
            tensor.grad = torch.from_numpy(grads[name].copy())
        reference.step()
        yield step, ours, {k: t.detach().numpy() for k, t in tensors.items()}


def assert_float64_matches(case: tuple, seed: int) -> None:
    """Every step's parameters within 1e-12 of torch's, relative to the tensor's largest value."""
    case_id, cls_name, group0, group1, kwargs = case
    for step, ours, theirs in run_both(cls_name, group0, group1, kwargs, "float64", seed):
        for name, _ in LAYOUT:
            scale = np.abs(theirs[name]).max()
            deviation = np.abs(ours[name] - theirs[name]).max()
            assert deviation <= 1e-12 * scale, f"{case_id}: step {step} {name}: {deviation:.3g} (scale {scale:.3g})"


def assert_float32_matches(case: tuple, seed: int, min_identical: float, stats: dict) -> None:
    """Every element within 1e-6 + 1e-5·|torch|; at least ``min_identical`` of them bit-identical.

    Adds the case's counts to ``stats[class name]`` for :func:`report`.
    """
    case_id, cls_name, group0, group1, kwargs = case
    identical = total = 0
    worst_ulps = 0.0
    for step, ours, theirs in run_both(cls_name, group0, group1, kwargs, "float32", seed):
        for name, _ in LAYOUT:
            a, b = ours[name], theirs[name]
            tolerance = 1e-6 + 1e-5 * np.abs(b.astype(np.float64))
            deviation = np.abs(a.astype(np.float64) - b)
            assert np.all(deviation <= tolerance), f"{case_id}: step {step} {name}: {deviation.max():.3g}"
            identical += compare.bitwise_equal_count(a, b)
            total += a.size
            worst_ulps = max(worst_ulps, compare.ulp_distance(a, b))
    entry = stats.setdefault(cls_name, {"identical": 0, "total": 0, "worst_ulps": 0.0})
    entry["identical"] += identical
    entry["total"] += total
    entry["worst_ulps"] = max(entry["worst_ulps"], worst_ulps)
    assert identical / total >= min_identical, f"{case_id}: {identical}/{total} bit-identical"


def report(stats: dict, classes: list[str]) -> list[str]:
    """The per-class float32 agreement lines collected by :func:`assert_float32_matches`."""
    width = max(len(c) for c in classes)
    return [f"float32 vs torch.optim ({STEPS} steps, 2 groups):"] + [
        f"  {c:{width}s} bit-identical {stats[c]['identical'] / stats[c]['total']:.2%}  "
        f"worst {stats[c]['worst_ulps']:.0f} ulp" for c in classes]
