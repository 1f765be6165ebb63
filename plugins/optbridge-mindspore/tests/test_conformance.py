"""The shipped conformance suite from the plugin's own test file, as a stranger would use it.

``pytest --pyargs optbridge.conformance --optbridge-backend mindspore`` runs the whole
database; the tox env ``mindspore`` runs the subset below (the first case of every
dialect class, float32 and float64: every canonical algorithm, its grouped and scheduled
forms), which keeps CI's run short, and the state-fault injection on the backend.
"""
import pytest

from optbridge.conformance import CASES
from optbridge.conformance.pytest_plugin import check_expected_failures, parametrize_with_cases
from optbridge.conformance.state_faults import STATE_FAULT_CASES, check_state_faults

FIRST_PER_CLASS = tuple({case.optimizer: case for case in reversed(CASES)}.values())


@parametrize_with_cases(backend="mindspore", cases=FIRST_PER_CLASS)
def test_trajectory(conformance_case):
    result = conformance_case.check()
    assert result.metrics.bitwise_share == 1.0, result.metrics


def test_expected_failures_name_cases():
    check_expected_failures("mindspore")


@pytest.mark.parametrize("case", sorted(STATE_FAULT_CASES))
def test_every_mutation_of_a_state_dict_is_refused_whole_or_harmless(case):
    report = check_state_faults("mindspore", case)
    assert report.refused > 100
