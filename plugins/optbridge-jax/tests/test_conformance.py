"""The shipped conformance suite from the plugin's own test file, as a stranger would use it.

``pytest --pyargs optbridge.conformance --optbridge-backend jax`` runs the whole
database (the tox env ``jax`` does); here one case per dialect class keeps the plugin's
own run short and shows :func:`parametrize_with_cases`.
"""
from optbridge.conformance import CASES
from optbridge.conformance.pytest_plugin import check_expected_failures, parametrize_with_cases

FIRST_PER_CLASS = tuple({case.optimizer: case for case in reversed(CASES)}.values())


@parametrize_with_cases(backend="jax", cases=FIRST_PER_CLASS)
def test_trajectory(conformance_case):
    conformance_case.check()


def test_expected_failures_name_cases():
    check_expected_failures("jax")
