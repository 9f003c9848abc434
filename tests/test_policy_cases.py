"""Data-driven `seoib policy` cases: tests/cases/policy/*.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from seoib.errors import Location
from seoib.query.verdicts import policy_verdict
from seoib.rules.ruleset import RuleSet
from seoib.rules.specs import parse_host_spec, parse_vm_spec


def check(verdict: dict[str, Any], expect: dict[str, Any]) -> None:
    for key, want in expect.items():
        if key == "alternatives":
            got = {a["policy"]: a["outcome"] for a in verdict["alternatives"]}
            for policy, outcome in want.items():
                assert got[policy] == outcome, f"alternative {policy}"
        elif key == "notes":  # each substring appears in some note
            for text in want:
                assert any(text in n for n in verdict["notes"]), f"note {text!r}"
        elif key in ("vm", "host"):
            for k, v in want.items():
                assert verdict[key][k] == v, f"{key}.{k}"
        else:
            assert verdict[key] == want, key


@pytest.mark.cases("policy")
def test_policy_case(case: dict[str, Any], rules: RuleSet) -> None:
    host = rules.resolver.host(parse_host_spec(case["host"], Location("host")))
    vm = rules.resolver.vm(parse_vm_spec(case["vm"], Location("vm")), host)
    verdict = policy_verdict(rules, host, vm)
    check(verdict, case["expect"])
    assert verdict["reasons"], "every verdict names the rules behind it"
    assert all(r["source"] for r in verdict["reasons"])
    assert verdict["witness"]["agrees"] is not False, verdict["witness"].get("differences")
