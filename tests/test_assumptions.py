"""Named switches for what nobody has confirmed (rules/assumptions.yaml).

A site that flips a switch in an overlay gets a verdict that follows it, names it
(JSON ``assumptions``, a text line) and that the simulator re-derives: exit 0-2,
never 4. The simulator knows every switch with the rules' default. A bad setting
is bad input with its ``file:line``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from seoib.cli import main
from seoib.rules.ruleset import RuleSet, load_rules
from seoib.sim.assumptions import SWITCHES

# (switch, value, host, vm, outcome with the default, outcome with the switch flipped)
FLIPS = [
    ("windows-sets-svr12", "yes", "kernel=7.0.0,qemu=10.0.0,seoib=rfc-v2",
     "machine=pc-q35-2.7,irqchip=split,guest=windows", "ok", "stuck"),
    ("linux-sets-svr12", "yes", "kernel=7.0.0,qemu=10.0.0,seoib=rfc-v2",
     "machine=pc-q35-2.7,irqchip=split,guest=linux", "ok", "ok"),
    ("machine-gated-gate", "11.0", "kernel=7.0.0,qemu=11.0.0,seoib=machine-gated",
     "machine=pc-q35-10.2,irqchip=split,guest=windows-hyperv", "ok", "storm"),
    ("machine-gated-unversioned", "no", "kernel=7.0.0,qemu=11.0.0,seoib=machine-gated",
     "machine=microvm,guest=windows-hyperv", "ok", "storm"),
    ("accel-property-default", "respected", "kernel=7.0.0,qemu=11.0.0,seoib=accel-property",
     "machine=pc-q35-11.0,irqchip=split,guest=windows-hyperv", "storm", "ok"),
    ("accel-property-refusal", "quirked", "kernel=6.12.40,qemu=11.0.0,seoib=accel-property",
     "machine=pc-q35-11.0,irqchip=split,seoib-policy=respected,guest=windows-hyperv",
     "start-fails", "storm"),
    ("accel-property-in-kernel", "no", "kernel=7.0.0,qemu=11.0.0,seoib=accel-property",
     "machine=pc-q35-11.0,irqchip=on,seoib-policy=respected,guest=windows-hyperv",
     "start-fails", "ok"),
]
EXIT = {"ok": 0, "storm-risk": 1}


def test_the_simulator_knows_every_switch_with_the_rules_default(rules: RuleSet) -> None:
    switches = rules.resolver.assumptions
    assert set(switches) == set(SWITCHES)
    for name, switch in switches.items():
        assert switch.values == SWITCHES[name].values, name
        # A version is a rule datum: the simulator has no default of its own for it.
        own = SWITCHES[name].default
        assert own == (None if switch.values is None else switch.default), name


def test_every_switch_is_read_by_some_rule_data(rules: RuleSet) -> None:
    used = {s for g in rules.resolver.guests.values() for s in g.switches.values()}
    used |= {s for d in rules.resolver.designs.values() for s in d.switches.values()}
    assert used == set(rules.resolver.assumptions)


def _overlay(tmp_path: Path, text: str) -> str:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "assumptions.yaml").write_text(text)
    return str(site)


def _verdict(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("switch", "value", "host", "vm", "before", "after"), FLIPS,
                         ids=[f[0] for f in FLIPS])
def test_an_overlay_that_flips_a_switch_gives_a_verdict_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], switch: str, value: str, host: str, vm: str,
        before: str, after: str) -> None:
    argv = ["policy", "--host", host, "--vm", vm]
    code, verdict = _verdict(capsys, argv)
    assert verdict["outcome"] == before and verdict["witness"]["agrees"] is True
    assert code == EXIT.get(before, 2)
    named = {a["id"]: a for a in verdict["assumptions"]}
    assert named[switch]["overridden"] is False and named[switch]["value"] != value

    site = _overlay(tmp_path, f'assumptions:\n  - {{id: {switch}, value: "{value}"}}\n')
    code, verdict = _verdict(capsys, [*argv, "--rules", site])
    assert verdict["witness"]["agrees"] is True, verdict["witness"]
    assert verdict["outcome"] == after
    assert code == EXIT.get(after, 2)
    named = {a["id"]: a for a in verdict["assumptions"]}
    assert named[switch]["value"] == value and named[switch]["overridden"] is True
    assert named[switch]["set_by"] == f"{site}/assumptions.yaml:2"
    assert f"assume.{switch}" in verdict["unconfirmed"]

    assert main([*argv, "--rules", site]) == code
    text = capsys.readouterr().out
    assert f"assumes: {switch} = {value} (set by {site}/assumptions.yaml:2" in text


def test_a_migration_follows_a_flipped_switch_on_both_sides(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # With the gate at 11.0 the 10.2 VM stays quirked and sends no section: an upstream
    # destination takes it; with the default gate it is respected and refused there.
    argv = ["migrate", "--src", "kernel=7.0.0,qemu=11.0.0,seoib=machine-gated",
            "--dst", "kernel=7.0.0,qemu=11.0.0,seoib=none",
            "--vm", "machine=pc-q35-10.2,irqchip=split,guest=linux"]
    assert _verdict(capsys, argv)[1]["outcome"] == "refused"
    site = _overlay(tmp_path, 'assumptions:\n  - {id: machine-gated-gate, value: "11.0"}\n')
    code, verdict = _verdict(capsys, [*argv, "--rules", site])
    assert (code, verdict["outcome"], verdict["witness"]["agrees"]) == (0, "ok", True)
    assert "machine-gated-gate" in {a["id"] for a in verdict["assumptions"]}


@pytest.mark.parametrize(("text", "line", "says"), [
    ('assumptions:\n  - {id: linux-sets-svr12, value: "maybe"}\n', 2, "'maybe' is not yes, no"),
    ('assumptions:\n  - {id: machine-gated-gate, value: "ten"}\n', 2, "machine type version X.Y"),
    ("assumptions:\n  - {id: guest-is-kind, value: \"yes\"}\n", 2, "description, default, source missing"),
    ("assumptions:\n  - {id: linux-sets-svr12, values: [\"yes\"]}\n", 2, "is too short"),
], ids=["a value the switch does not take", "a gate that is no version", "a new switch without its facts",
        "a switch with one value"])
def test_a_bad_setting_is_bad_input_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                text: str, line: int, says: str) -> None:
    site = _overlay(tmp_path, text)
    assert main(["rules", "validate", site]) == 3
    err = capsys.readouterr().err
    assert f"{site}/assumptions.yaml:{line}" in err and says in err, err


def test_a_switch_that_would_leave_a_fact_domain_is_refused(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # guest.sets_svr12 takes yes/no/unknown: a switch with other values cannot feed it.
    site = _overlay(tmp_path, 'assumptions:\n  - {id: linux-sets-svr12, values: ["yes", "no", "often"]}\n')
    assert main(["rules", "validate", site]) == 3
    assert "assumption linux-sets-svr12 may be 'often'" in capsys.readouterr().err


def test_rules_without_switches_load_as_before(rules: RuleSet) -> None:
    # A rule set's loaded switches are records the compiled-rules cache can keep.
    again = load_rules(use_cache=True)
    assert again.resolver.assumptions == rules.resolver.assumptions


def test_each_side_applies_its_own_builds_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The default policy belongs to the build, not to the VM: restoring a snapshot from an
    # upstream QEMU into an accel-property build whose default a site made `respected`
    # starts the destination VM with that default, which KVM refuses with the in-kernel
    # irqchip (EINVAL): nothing runs to restore into.
    site = _overlay(tmp_path, 'assumptions:\n  - {id: accel-property-default, value: "respected"}\n')
    argv = ["migrate", "--snapshot", "--rules", site,
            "--src", "kernel=7.0.0,qemu=11.0.0,seoib=none",
            "--dst", "kernel=7.0.0,qemu=11.0.0,seoib=accel-property",
            "--vm", "machine=pc-q35-11.0,irqchip=on,guest=linux"]
    code, verdict = _verdict(capsys, argv)
    assert (code, verdict["outcome"], verdict["witness"]["agrees"]) == (2, "unsupported", True)
    assert "accel-property-default" in {a["id"] for a in verdict["assumptions"]}
