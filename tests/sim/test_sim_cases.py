"""Data-driven simulator cases: every YAML file under tests/cases/sim/ is one family.

A case is a scenario (``host``, ``vm``, ``steps`` with ``expect``); it passes when
every expectation holds. Cases with ``error`` are invalid scenarios that must be
refused with ``BadInput`` at the given line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seoib.errors import BadInput
from seoib.query.witness import sim_assumptions
from seoib.rules.ruleset import load_rules
from seoib.sim.scenario import run_scenario
from seoib.yamlio import load_yaml, loads_yaml

CASES = Path(__file__).resolve().parents[1] / "cases" / "sim"
SCENARIO_FAMILIES = (
    "kvm_table", "selftest", "check_extension", "enable_cap", "ioapic", "scenarios", "measured_kernel"
)


def _cases(family: str) -> list[Any]:
    path = CASES / f"{family}.yaml"
    data = load_yaml(path)
    return [pytest.param(case, f"{path}", id=f"{family}: {case['name']}") for case in data["cases"]]


@pytest.mark.parametrize(("case", "source"), [p for family in SCENARIO_FAMILIES for p in _cases(family)])
def test_scenario_case(case: Any, source: str) -> None:
    # With the rules' switches, as `seoib simulate` runs them (machine-gated's gate is one).
    result = run_scenario(case, source, assume=sim_assumptions(load_rules().resolver))
    assert result.expectations, "a case without expectations proves nothing"
    failed = [
        f"line {e.line}: {e.key}: expected {e.expected!r}, actual {e.actual!r}"
        for e in result.expectations
        if not e.passed
    ]
    assert not failed, "\n".join([*failed, *result.events])


@pytest.mark.parametrize(("case", "source"), _cases("invalid"))
def test_invalid_scenario(case: Any, source: str) -> None:
    with pytest.raises(BadInput) as info:
        run_scenario(loads_yaml(case["scenario"], "case.yaml"), "case.yaml")
    err = info.value
    assert err.location is not None and err.location.source == "case.yaml"
    assert err.location.line == case["error"]["line"], str(err)
    assert case["error"]["contains"] in err.message, str(err)


@pytest.mark.parametrize(
    ("text", "line", "contains"),
    [
        ("steps: [boot\n", 2, "invalid YAML"),
        ("steps:\n  - boot\n  - boot: {seoib: none, seoib: rfc-v2}\n", 3, "duplicate key"),
        ("steps:\n\t- boot\n", 2, "invalid YAML"),
    ],
    ids=["unclosed flow sequence", "duplicate key", "tab indentation"],
)
def test_yaml_errors_are_located(text: str, line: int, contains: str) -> None:
    with pytest.raises(BadInput) as info:
        run_scenario(loads_yaml(text, "bad.yaml"), "bad.yaml")
    assert info.value.location is not None
    assert info.value.location.line == line, str(info.value)
    assert contains in info.value.message
