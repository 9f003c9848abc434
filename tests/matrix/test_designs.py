"""`seoib designs`: the design comparison on a small fleet with hand-derived counts,
the built-in fleet's invariants, and bad plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seoib.cli import main
from seoib.matrix.designs import compare_designs
from seoib.matrix.fleet import default_fleet_path, load_fleet
from seoib.rules.ruleset import RuleSet

# Two hosts with the SEOIB flags, one without, all on a QEMU build with SEOIB support;
# three Windows+VBS VMs on split irqchip spread over both groups.
SMALL = """\
hosts:
  - {group: new, count: 2, kernel: 7.0.3, qemu: 11.0.0, seoib: rfc-v2}
  - {group: old, count: 1, kernel: 6.18.16, qemu: 11.0.0, seoib: rfc-v2}
vms:
  - {group: win, count: 3, hosts: [new, old], machine: pc-q35-11.0, irqchip: split,
     guest: windows-hyperv}
"""


def _report(rules: RuleSet, tmp_path: Path, text: str) -> dict:
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    return compare_designs(rules, load_fleet(plan))


def _column(report: dict, label: str) -> dict:
    return next(c for c in report["designs"] if c["label"] == label)


def test_small_fleet_counts(rules: RuleSet, tmp_path: Path) -> None:
    r = _report(rules, tmp_path, SMALL)
    # Placement: 2 VMs on "new", 1 on "old". Pairs: each VM on new -> 1 other new host + 1 old
    # host; the VM on old -> 2 new hosts: 2*2 + 1*2 = 6.
    assert r["fleet"]["vm_count"] == 3 and r["fleet"]["migration_pairs"] == 6
    none = _column(r, "none")
    assert (none["protected"], none["exposed"], none["dest_abort"], none["refused"]) == (0, 3, 0, 0)
    rfc = _column(r, "rfc-v2")
    # On 7.0 the VM boots respected; on 6.18.16 QEMU warns and leaves it quirked (storm).
    assert (rfc["protected"], rfc["exposed"]) == (2, 1)
    # Respected VMs moving to the 6.18.16 host: post_load cannot set the flags -> abort.
    assert rfc["dest_abort"] == 2 and rfc["refused"] == 0
    assert rfc["visible_changes"] == 2 and rfc["cold_restart"] == 2
    opt = _column(r, "accel-property + opt-in where safe")
    # Any non-default policy would abort on the old host: nobody may opt in.
    assert opt["opted_in"] == 0 and opt["protected"] == 0 and opt["dest_abort"] == 0
    assert r["tally"]["disagreements"] == 0 and r["tally"]["validated"] == r["tally"]["evaluations"]


def test_opt_in_where_every_destination_has_the_flags(rules: RuleSet, tmp_path: Path) -> None:
    r = _report(rules, tmp_path, SMALL.replace("kernel: 6.18.16", "kernel: 6.18.17"))
    opt = _column(r, "accel-property + opt-in where safe")
    assert opt["opted_in"] == 3 and opt["protected"] == 3 and opt["exposed"] == 0
    assert opt["visible_changes"] == 0, "an opted-in change is not an unrequested change"
    assert _column(r, "accel-property")["exposed"] == 3, "default quirked changes nothing"
    assert r["recommendation"]["label"] == opt["label"]


def test_hosts_without_seoib_keep_their_qemu(rules: RuleSet, tmp_path: Path) -> None:
    plan = SMALL.replace("  - {group: old, count: 1, kernel: 6.18.16, qemu: 11.0.0, seoib: rfc-v2}",
                         "  - {group: old, count: 1, kernel: 7.0.3, qemu: 11.0.0}")
    rfc = _column(_report(rules, tmp_path, plan), "rfc-v2")
    # The old group's QEMU has no SEOIB support: it refuses the section respected VMs send.
    assert rfc["refused"] == 2 and rfc["dest_abort"] == 0 and rfc["protected"] == 2


def test_builtin_fleet_invariants(rules: RuleSet) -> None:
    r = compare_designs(rules, load_fleet(default_fleet_path()))
    assert set(rules.resolver.designs) == {c["design"] for c in r["designs"]}
    assert any(c["opt_in"] for c in r["designs"])
    n = r["fleet"]["vm_count"]
    base = _column(r, r["baseline"])
    assert base["protected"] == 0 and base["visible_changes"] == 0 and base["cold_restart"] == 0
    for c in r["designs"]:
        assert c["protected"] + c["exposed"] + c["broken_boot"] <= n
        assert c["cold_restart"] <= base["exposed"]
        if c["opt_in"]:
            assert c["refused"] == c["dest_abort"] == 0, "opt-in only where safe"
    assert r["tally"]["disagreements"] == 0


def test_cli_json_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["designs", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "designs" and doc["recommendation"]["label"]
    assert main(["designs"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# Which QEMU SEOIB design?") and "| VMs protected" in md


def test_designs_md_in_matrix_folder_is_the_builtin_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    repo = Path(__file__).resolve().parents[2]
    assert main(["designs"]) == 0
    assert capsys.readouterr().out == (repo / "matrix" / "designs.md").read_text()


@pytest.mark.parametrize(("text", "message", "line"), [
    ("hosts:\n  - {name: a, kernel: 7.0.3, qemu: 11.0.0}\nvms:\n  - {name: v, host: b, "
     "machine: q35}\n", "'b' is not a host or host group of this plan", 4),
    ("hosts:\n  - {name: a, kernel: 7.0.3, qemu: 11.0.0, colour: red}\nvms: []\n",
     "'colour' was unexpected", 2),
    ("hosts:\n  - {group: a, count: 0, kernel: 7.0.3, qemu: 11.0.0}\n", "0 is less than the minimum of 1", 2),
    ("hosts: []\nvms: []\nextra: 1\n", "'extra' was unexpected", 3),
    ("hosts:\n  - {name: a, kernel: 7.0.3, qemu: 11.0.0}\nvms:\n  - {name: v, host: a, "
     "machine: q35, guest: plan9}\n", "guest=plan9", None),
    ("- just a list\n", "a plan is a mapping", None),
])
def test_bad_plans_exit_3_with_a_location(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          text: str, message: str, line: int | None) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    assert main(["designs", str(plan)]) == 3
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    if line is not None:
        assert f"plan.yaml:{line}:" in err


def test_missing_plan_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["designs", str(tmp_path / "nope.yaml")]) == 3
    assert "no such fleet plan file" in capsys.readouterr().err
