"""Data-driven plan cases: tests/cases/plans/*.yaml (plan + expected findings) and
tests/cases/plans/bad/*.yaml (plans that must be refused at a given line)."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from seoib.cli import main
from seoib.paths import schemas_dir
from seoib.plan.checker import check_plan
from seoib.plan.planfile import parse_plan
from seoib.rules.ruleset import RuleSet, load_rules
from seoib.yamlio import load_yaml

CASES = Path(__file__).resolve().parents[1] / "cases" / "plans"
GOOD = sorted(CASES.glob("*.yaml"))
BAD = sorted((CASES / "bad").glob("*.yaml"))
KEYS = ("rule", "severity", "wave", "host", "vm", "population")


@pytest.fixture(scope="module")
def rs() -> RuleSet:
    return load_rules(use_cache=False)


@cache
def _output_schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads((schemas_dir() / "check-output.schema.json").read_text()))


def _key(f: dict) -> tuple:
    return tuple(f[k] for k in KEYS)


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_plan_case(path: Path, rs: RuleSet) -> None:
    doc = load_yaml(path)
    report = check_plan(parse_plan(doc["plan"], str(path)), rs)
    got = Counter((f.check, f.severity, f.wave, f.host, f.vm, f.population) for f in report.findings)
    want = Counter(_key(f) for f in doc["expect"]["findings"])
    assert got == want
    for f in doc["expect"]["findings"]:  # how many VMs, why, what it says, where a case says
        found = [x for x in report.findings
                 if (x.check, x.severity, x.wave, x.host, x.vm, x.population) == _key(f)]
        if "vm_count" in f:
            assert {x.vm_count for x in found} == {f["vm_count"]}, f
        if "cause" in f:
            assert {x.cause for x in found} == {f["cause"]}, f
        if "message_has" in f:
            assert all(f["message_has"] in x.message for x in found), (f, found[0].message)
    assert report.exit_code("warn") == doc["expect"]["exit"]
    assert not report.disagreements
    assert list(_output_schema().iter_errors({**report.as_json(), "fail_on": "warn",
                                              "exit_code": report.exit_code("warn")})) == []
    lines = set(range(doc["plan"].line, max(doc.key_lines.values()) + 100))
    for f in report.findings:
        assert f.line in lines and f.vm_line in lines
        assert f.rules, "every finding names the engine rules behind it"


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_plan(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = path.read_text()
    line = int(re.search(r"# expect-line: (\d+)", head)[1])  # type: ignore[index]
    message = re.search(r"# expect-message: (.+)", head)[1]  # type: ignore[index]
    assert main(["check", str(path)]) == 3
    err = capsys.readouterr().err
    assert f"{path}:{line}: " in err
    assert message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_fail_on_block_lets_warnings_pass(rs: RuleSet) -> None:
    case = CASES / "kernel_first.yaml"
    doc = load_yaml(case)
    report = check_plan(parse_plan(doc["plan"], str(case)), rs)
    assert report.exit_code("warn") == 1
    assert report.exit_code("block") == 0


FLEETS = sorted((CASES / "fleets").glob("*.yaml"))


@pytest.mark.parametrize("path", FLEETS, ids=[p.stem for p in FLEETS])
def test_fleet_case(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`seoib plan` on a fleet: the proposed rollout, checked again by `seoib check`."""
    doc = load_yaml(path)
    fleet, out = tmp_path / "fleet.yaml", tmp_path / "plan.yaml"
    fleet.write_text(yaml.safe_dump(_plain(doc["fleet"]), sort_keys=False))
    code = main(["plan", str(fleet), "--target", doc["target"], "--out", str(out)])
    capsys.readouterr()
    assert code == doc["expect"]["exit"]
    if "strategy" in doc["expect"]:
        assert out.read_text().startswith(f"# seoib plan: strategy {doc['expect']['strategy']}\n")
    main(["check", str(out), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert data["rollout"]["fixed_vms"] == doc["expect"]["fixed_vms"]
    assert [f for f in data["findings"] if f["cause"] == "rollout" and f["severity"] == "block"] == []
    pre = {(f["rule"], f["vms"][0]["name"]) for f in data["findings"]
           if f["cause"] == "pre-existing" and f["severity"] == "block"}
    assert pre == {(f["rule"], f["vm"]) for f in doc["expect"]["pre_existing"]}
    for v in doc["fleet"].get("vms", []):  # every VM entry written back once, as it was
        name = v.get("group", v.get("name"))
        assert out.read_text().count(f"group: {name},") + out.read_text().count(
            f"name: {name},") == 1


def _plain(node: object) -> object:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
