"""``seoib simulate`` in-process: exit codes, text and JSON output, resolver hooks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from seoib.commands import simulate
from seoib.errors import BadInput, Location
from seoib.sim import SimHost, SimVM
from seoib.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "simulate-output.schema.json").read_text())
CASES = ROOT / "tests" / "cases" / "sim"

STORM = """\
host: {seoib: none}
vm: {machine: pc-q35-10.2, irqchip: split, guest: windows-hyperv}
steps:
  - boot
  - irqs: 4
  - expect: {outcome: storm, policy: quirked}
"""


def _run(path: Path, fmt: str = "text", **hooks: Any) -> int:
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    return simulate.run(parser.parse_args([str(path), "--format", fmt]), **hooks)


def _write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_all_expectations_hold_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(_write(tmp_path, STORM)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("PASS ") and "(outcome storm)" in out[0]
    assert "outcome: expected storm, actual storm" in out[1]


def test_failed_expectation_exit_2_shows_expected_and_actual(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, STORM.replace("outcome: storm,", "outcome: ok,"))
    assert _run(path) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL ") and "1 of 2" in out[0]
    assert "FAIL line 6: outcome: expected ok, actual storm" in out[1]


def test_json_output_matches_schema_and_reports_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, STORM.replace("policy: quirked", "policy: respected"))
    assert _run(path, "json") == 2
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA)
    assert doc["passed"] is False
    failed = [e for e in doc["expectations"] if not e["passed"]]
    assert failed == [
        {"step": 3, "line": 6, "key": "policy", "expected": "respected", "actual": "quirked", "passed": False,
         "depends_on": []}
    ]
    assert doc["backend"] is None  # the simulator ran the steps
    assert doc["state"]["policy"] == "quirked"
    assert doc["metrics"]["counters"]["storms"] == 4


def _case_files() -> list[Any]:
    params = []
    for family in ("scenarios", "kvm_table", "ioapic"):
        for case in load_yaml(CASES / f"{family}.yaml")["cases"]:
            params.append(pytest.param(case["name"], family, id=f"{family}: {case['name']}"))
    return params


@pytest.mark.parametrize(("name", "family"), _case_files())
def test_every_case_as_a_file_passes_with_valid_json(
    name: str, family: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load((CASES / f"{family}.yaml").read_text())["cases"]
    case = next(c for c in raw if c["name"] == name)
    path = _write(tmp_path, yaml.safe_dump(case, sort_keys=False))
    assert _run(path, "json") == 0
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA)
    assert doc["passed"] is True


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("host: {seoib: none}\nsteps:\n  - boot\n  - explode\n", 4, "unknown step"),
        ("steps:\n  - boot\n  - irqs: [1]\n", 3, "irqs must be an integer"),
        ("steps: [boot\n", 2, "invalid YAML"),
        ("vm:\n  guest: beos\nsteps: [boot]\n", 2, "guest must be one of"),
    ],
)
def test_invalid_scenario_raises_bad_input_with_file_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(BadInput) as info:
        _run(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value)
    assert info.value.exit_code == 3


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        _run(tmp_path / "absent.yaml")


def test_rule_level_specs_go_through_the_resolvers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[str, Any, int | None]] = []

    def host_resolver(spec: Any, loc: Location) -> SimHost:
        calls.append(("host", dict(spec) if isinstance(spec, dict) else spec, loc.line))
        return SimHost(name="resolved", seoib="rfc-v2", x2apic_api=0xF)

    def vm_resolver(spec: Any, host: SimHost, loc: Location) -> SimVM:
        calls.append(("vm", host.name, loc.line))
        return SimVM(machine="pc-q35-10.2", irqchip="split", guest="windows-hyperv")

    text = (
        "host: {kernel: 7.0.3, qemu: 11.0.0}\n"
        "vm: {machine: q35}\n"
        "steps:\n"
        "  - boot\n"
        "  - irqs: 2\n"
        "  - migrate: seoib=none\n"
        "  - expect: {outcome: refused}\n"
    )
    path = _write(tmp_path, text)
    assert _run(path, host_resolver=host_resolver, vm_resolver=vm_resolver) == 0
    # the mechanistic migrate spec is parsed here, not handed to the resolver
    assert calls == [("host", {"kernel": "7.0.3", "qemu": "11.0.0"}, 1), ("vm", "resolved", 2)]
    assert capsys.readouterr().out.startswith("PASS")


def test_mechanistic_scenario_ignores_the_resolvers(tmp_path: Path) -> None:
    def boom(*_: Any) -> Any:
        raise AssertionError("resolver must not be called")

    assert _run(_write(tmp_path, STORM), host_resolver=boom, vm_resolver=boom) == 0
