"""Shared fixtures: the built-in rule set and the data-driven YAML cases.

A test marked ``@pytest.mark.cases("policy")`` runs once per case of every
file under tests/cases/policy/, with the case as its ``case`` argument and
"<file>: <name>" as its id; ``load_cases("policy")`` gives the same cases as a
list, for tests that read them all at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from seoib.rules.ruleset import RuleSet, load_rules

CASES = Path(__file__).parent / "cases"


def _cases(family: str) -> list[tuple[str, Any]]:
    """(id, case) for every case of every file under tests/cases/<family>/, files in name order."""
    found = []
    for path in sorted((CASES / family).glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            found.append((f"{path.stem}: {case['name']}", case))
    if not found:  # a renamed folder must not turn a case family into zero silent tests
        raise LookupError(f"no cases under {CASES / family}")
    return found


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cases(family): run once per YAML case under tests/cases/<family>/")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("cases")
    if marker is not None:
        found = _cases(marker.args[0])
        metafunc.parametrize("case", [case for _, case in found], ids=[name for name, _ in found])


@pytest.fixture(scope="session")
def load_cases() -> Callable[[str], list[Any]]:
    return lambda family: [case for _, case in _cases(family)]


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules(use_cache=False)
