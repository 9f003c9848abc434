"""Data-driven `seoib migrate` cases: tests/cases/migrate/*.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from seoib.errors import Location
from seoib.query.verdicts import migrate_verdict
from seoib.rules.ruleset import RuleSet
from seoib.rules.specs import parse_host_spec, parse_vm_spec


@pytest.mark.cases("migrate")
def test_migrate_case(case: dict[str, Any], rules: RuleSet) -> None:
    r = rules.resolver
    src = r.host(parse_host_spec(case["src"], Location("src")))
    dst = r.host(parse_host_spec(case["dst"], Location("dst")))
    vm = r.vm(parse_vm_spec(case["vm"], Location("vm")), src)
    verdict = migrate_verdict(rules, src, dst, vm, snapshot=case.get("snapshot", False))
    for key, want in case["expect"].items():
        if key == "findings":
            assert [f["outcome"] for f in verdict["findings"]] == want
        elif isinstance(want, dict):
            assert verdict[key] is not None, key
            for k, v in want.items():
                assert verdict[key][k] == v, f"{key}.{k}"
        else:
            assert verdict[key] == want, key
    assert verdict["reasons"]
    assert verdict["witness"]["agrees"] is not False, verdict["witness"].get("differences")
