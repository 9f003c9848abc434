"""Shared fixtures: the built-in rule set and a loader for YAML case files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.rules.ruleset import RuleSet, load_rules

CASES = Path(__file__).parent / "cases"


def yaml_cases(family: str) -> list[Any]:
    """Every case of every file under tests/cases/<family>/, with a readable id."""
    params = []
    for path in sorted((CASES / family).glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            params.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return params


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules(use_cache=False)
