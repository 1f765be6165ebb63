"""Every algorithm declares the host scalars it produces (``Algorithm.declared_scalars``).

Backends size their scalar vectors and trace their steps from the declaration alone
(:mod:`optbridge.scalars`), so it must name exactly what ``host_scalars`` produces over a
run: every produced name declared with its kind, and every declared name produced at some
step (a stale declaration would widen every vector for nothing).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import optbridge
from optbridge.algorithms.base import FLAG, NUMBER, Algorithm, HostStep
from optbridge.conformance.cases import CASES

#: steps that reach every branch of the built-in algorithms (RAdam rectifies from step 6 at
#: β₂ = 0.999; ASGD averages after t0; Adafactor's warm-up ends)
STEPS = (1, 2, 3, 5, 6, 7, 10, 100, 1000, 10_000, 1_000_001)


def _algorithms() -> dict[str, Algorithm]:
    """One algorithm per distinct hyperparameter set in the conformance catalog (every
    dialect class lowers into it), with each group's overrides applied."""
    found: dict[str, Algorithm] = {}
    for case in CASES:
        spec = optbridge.from_dict(case.config).to_canonical()
        algorithms = [spec.algorithm]
        for group in spec.groups or ():
            if group.overrides:
                algorithms.append(spec.algorithm.replace(**dict(group.overrides)))
        for alg in algorithms:
            found.setdefault(repr(alg), alg)
    return found


ALGORITHMS = _algorithms()


def _kinds(scalars: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _kinds(v) if isinstance(v, Mapping) else FLAG if isinstance(v, (bool, np.bool_)) else NUMBER
            for k, v in scalars.items()}


def _merge(into: dict[str, Any], more: Mapping[str, Any]) -> None:
    for k, v in more.items():
        if isinstance(v, Mapping):
            _merge(into.setdefault(k, {}), v)
        else:
            into[k] = v


def test_the_catalog_covers_every_canonical_algorithm():
    from optbridge.algorithms.base import algorithm_registry

    assert {a.name for a in ALGORITHMS.values()} == set(algorithm_registry)


@pytest.mark.parametrize("key", sorted(ALGORITHMS), ids=lambda k: k[:60])
def test_declared_scalars_are_exactly_the_ones_produced(key):
    alg = ALGORITHMS[key]
    produced: dict[str, Any] = {}
    for precision in ("float32", "float64"):
        for partition in ("", "lars"):
            state = alg.init_host_state()
            for step in range(1, 12):
                scalars, state = alg.host_scalars(state, HostStep(lr=0.01, weight_decay=0.1, step=step,
                                                                  partition=partition), precision)
                _merge(produced, _kinds(scalars))
            for step in STEPS:
                scalars, _ = alg.host_scalars(alg.init_host_state(), HostStep(lr=0.01, weight_decay=0.1, step=step,
                                                                             partition=partition), precision)
                _merge(produced, _kinds(scalars))
    assert produced == alg.declared_scalars()
