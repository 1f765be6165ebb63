"""One tensor after another inside a compiled graph: the sequence point between them.

A rule that reduces over each tensor (Adafactor's ``‖u‖``, LAMB's trust ratio) keeps the
tensor's whole update until its norm is known. Compiled for the CPU, inductor puts every
loop of a graph into one C++ function and allocates all of its intermediate buffers before
calling it, so a bucket of such tensors keeps every tensor's update alive at once: on
``benchmarks/memory.py``'s layout Adafactor's step peaked at 1.004 parameter bytes, where
``torch.optim.Adafactor``'s loop keeps two updates (1.001).

:func:`in_turn` runs the rule on one run of tensors after another (a large tensor, with
small ones beside it) and puts :func:`sequence_point` between runs: an op that does
nothing, declared to read the previous run's parameters and to write the next run's
parameters, gradients and state. Inductor must then order the next run's loops after the
previous run's writes, and as an opaque call the op ends one C++ function and begins the
next, so one run's buffers are freed (and reused) before the next run's are needed:
Adafactor's peak is about one large tensor's update (0.502 on that layout; 0.195 on the
ResNet-50 shapes, was 0.542, torch.optim 0.328), its step time unchanged within noise.
The op writes nothing and the loops are the same, so the numbers are too
(``tests/test_torch_backend.py``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from optbridge.algorithms.base import Algorithm

__all__ = ["sequence_point", "in_turn", "runs_in_turn", "RUN_ELEMENTS"]

#: A run holds up to this many elements more than the largest tensor, so small tensors share
#: one: a sequence point costs a Python call (about 3 µs) and ends inductor's fused C++ function.
RUN_ELEMENTS = 1 << 16


#: ``optbridge::sequence_point``, defined through ``torch.library.Library`` rather than
#: ``torch.library.custom_op``, whose checks cost about 40 µs a call against about 3 µs (a
#: fragment, so other modules may define ops in the ``optbridge`` namespace too)
_LIBRARY = torch.library.Library("optbridge", "FRAGMENT")
_LIBRARY.define("sequence_point(Tensor[] after, Tensor(a!)[] before) -> ()")


def _nothing(after: list[torch.Tensor], before: list[torch.Tensor]) -> None:
    """Nothing; to the compiler, it reads ``after`` and writes ``before``."""


_LIBRARY.impl("sequence_point", _nothing, "CompositeExplicitAutograd")
torch.library.register_fake("optbridge::sequence_point", _nothing, lib=_LIBRARY)
sequence_point = torch.ops.optbridge.sequence_point.default


def runs_in_turn(alg: Any) -> bool:
    """Whether :func:`in_turn` applies: a rule that reduces over each tensor
    (``Algorithm.elementwise`` false) and updates each tensor on its own (the default
    ``Algorithm.update``)."""
    return not alg.elementwise and type(alg).update is Algorithm.update


def in_turn(step: Callable[[list[torch.Tensor], list[torch.Tensor], dict[str, list[Any]]], None],
            params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor],
            slots: Mapping[str, Sequence[Any]]) -> None:
    """``step(params, grads, slots)`` on consecutive runs of tensors, a :func:`sequence_point`
    between runs: a run holds one tensor, or several whose elements add up to at most the
    largest tensor's plus :data:`RUN_ELEMENTS` (``None`` entries of ``slots``, absent state,
    are not passed to the op)."""
    bound = RUN_ELEMENTS + max(p.numel() for p in params)
    runs: list[list[int]] = []
    total = 0
    for i, p in enumerate(params):
        if not runs or total + p.numel() > bound:
            runs.append([])
            total = 0
        runs[-1].append(i)
        total += p.numel()
    previous: list[torch.Tensor] = []
    for run in runs:
        mine = {name: [arrays[i] for i in run] for name, arrays in slots.items()}
        ps, gs = [params[i] for i in run], [grads[i] for i in run]
        if previous:
            sequence_point(previous, [*ps, *gs, *(x for v in mine.values() for x in v if x is not None)])
        step(ps, gs, mine)
        previous = ps
