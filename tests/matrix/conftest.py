"""Fixtures for the matrix tests: the small golden class space and the full default one."""

from __future__ import annotations

import pytest
from matrix_support import small_space

from engine.matrix.build import Matrix, build_matrix
from engine.ruleset import RuleSet


@pytest.fixture(scope="session")
def small_matrix(rules: RuleSet) -> Matrix:
    return build_matrix(rules, small_space(rules))


@pytest.fixture(scope="session")
def full_matrix(rules: RuleSet) -> Matrix:
    return build_matrix(rules)
