"""libvirt's own XML / generated command-line pairs resolve to the same VM (libvirt_pairs.yaml)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from seoib.rules.ruleset import RuleSet, load_rules

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from libvirt_corpus import HOST, Pair, compare, pairs  # noqa: E402

FOLDER = HERE.parent / "fixtures" / "inputs" / "libvirt"
CASES = yaml.safe_load((HERE / "libvirt_pairs.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def rs() -> RuleSet:
    return load_rules()


@pytest.mark.parametrize("case", CASES["pairs"], ids=lambda c: c["xml"])
def test_pair_resolves_to_the_expected_vm(case: dict[str, Any], rs: RuleSet) -> None:
    verdict, xml, args = compare(rs, Pair(FOLDER / case["xml"], FOLDER / case["args"]))
    assert verdict == ("drift" if case.get("drift") else "agree")
    assert xml == args == case["vm"]


def test_the_cases_cover_every_pair_in_the_folder() -> None:
    assert CASES["host"] == HOST
    found = {(p.xml.name, p.args.name) for p in pairs(FOLDER)}
    assert found == {(c["xml"], c["args"]) for c in CASES["pairs"]}
