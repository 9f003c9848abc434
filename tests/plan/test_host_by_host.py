"""A fleet written host by host is checked like the same fleet written as groups.

Writing a group of n hosts as n single hosts (and each VM group spread over them)
changes how findings are split over host entries, not what the rollout does: the
verdict, the VMs a cold boot fixes or breaks and which checks fire in which wave
stay the same (only how many classes are looked at may differ: a group's middle
hosts are judged apart from its first and last). This is what lets the check cost its classes, whichever
way a fleet is written.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.plan.checker import check_plan
from seoib.plan.planfile import loads_plan
from seoib.rules.ruleset import load_rules

KERNELS = ("6.12.40", "6.18.10", "6.18.16", "7.0.3")
QEMUS = ("10.1.0", "10.2.0", "11.0.0")
MACHINES = ("pc-q35-10.1", "pc-q35-8.2", "pc-i440fx-9.2", "q35", "pc-q35-5.0")
GUESTS = ("linux", "windows", "windows-hyperv", "any")
CHANGES = ({"kernel": "7.0.3"}, {"kernel": "6.18.16"}, {"qemu": "11.0.0", "seoib": "rfc-v2"},
           {"qemu": "11.0.0"})

_RULES = load_rules()

racks = st.lists(st.tuples(st.sampled_from(KERNELS), st.sampled_from(QEMUS),
                           st.integers(1, 3)), min_size=1, max_size=3)
vm_groups = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(MACHINES),
                               st.sampled_from(("split", "on")), st.sampled_from(GUESTS),
                               st.integers(1, 3), st.booleans()), min_size=1, max_size=3)
waves = st.lists(st.tuples(st.sets(st.integers(0, 2), min_size=1), st.sampled_from(CHANGES)),
                 min_size=1, max_size=2)


def _fleet(hosts: list[tuple[str, str, int]], vms: list[tuple], rollout: list[tuple],
           by_host: bool) -> dict[str, Any]:
    names = {r: ([f"r{r}-{i}" for i in range(n)] if by_host else [f"r{r}"])
             for r, (_, _, n) in enumerate(hosts)}
    out: dict[str, Any] = {"hosts": [], "vms": [], "rollout": []}
    for r, (kernel, qemu, n) in enumerate(hosts):
        for name in names[r]:
            head = {"name": name} if by_host else {"group": name, "count": n}
            out["hosts"].append({**head, "kernel": kernel, "qemu": qemu})
    for g, (rack, machine, irqchip, guest, per_host, snapshots) in enumerate(vms):
        r = rack % len(hosts)
        out["vms"].append({"group": f"g{g}", "count": per_host * hosts[r][2],
                           "hosts": names[r], "machine": machine, "irqchip": irqchip,
                           "guest": guest, **({"snapshots": True} if snapshots else {})})
    for w, (picked, change) in enumerate(rollout):
        chosen = [n for r in sorted({p % len(hosts) for p in picked}) for n in names[r]]
        out["rollout"].append({"name": f"w{w}", "hosts": chosen, "set": change})
    return out


def _summary(fleet: dict[str, Any]) -> tuple:
    report = check_plan(loads_plan(yaml.safe_dump(fleet, sort_keys=False)), _RULES)
    data = report.as_json()
    fired = sorted({(f["rule"], f["severity"], str(f["wave"])) for f in data["findings"]})
    return (data["status"], data["rollout"]["fixed_vms"], data["rollout"]["broken_vms"],
            data["fleet"]["hosts"], data["fleet"]["vms"], fired)


@settings(max_examples=60, deadline=None)
@given(racks, vm_groups, waves)
def test_host_by_host_checks_like_groups(hosts: list, vms: list, rollout: list) -> None:
    grouped = _summary(_fleet(hosts, vms, rollout, by_host=False))
    single = _summary(_fleet(hosts, vms, rollout, by_host=True))
    assert single == grouped


def _inventory(n: int, by_host: bool) -> str:
    """n hosts over four stacks (two with problems today), written one per line or as
    four groups, with a VM group on each and a wave that reaches two of the stacks."""
    stacks = [("6.12.40", "10.2.0", ""), ("6.18.16", "11.0.0", ", seoib: rfc-v2"),
              ("7.0.3", "11.0.0", ", seoib: rfc-v2"), ("6.18.17", "10.2.0", "")]
    guests = ["windows-hyperv", "linux", "any", "windows-hyperv"]
    per = n // len(stacks)
    lines = ["hosts:"]
    names: list[list[str]] = []
    for s, (kernel, qemu, seoib) in enumerate(stacks):
        ours = [f"s{s}-{i:05d}" for i in range(per)] if by_host else [f"s{s}"]
        names.append(ours)
        for name in ours:
            head = f"name: {name}" if by_host else f"group: {name}, count: {per}"
            lines.append(f"  - {{{head}, kernel: {kernel}, qemu: {qemu}{seoib}, capacity: 9}}")
    lines.append("vms:")
    for s, ours in enumerate(names):
        for name in ours:
            count = 3 if by_host else 3 * per
            lines.append(f"  - {{group: vm-{name}, count: {count}, hosts: {name}, "
                         f"machine: pc-q35-10.2, irqchip: split, guest: {guests[s]}}}")
    wave = ", ".join(n for ours in (names[0], names[1]) for n in ours)
    lines += ["rollout:", f"  - {{name: kernels, hosts: [{wave}], set: {{kernel: 7.0.3}}}}"]
    return "\n".join(lines) + "\n"


def test_10000_host_entries_one_per_line_check_like_their_groups() -> None:
    """10,000 host entries written one per line, with problems today and in the wave: the
    same checks fire as for the four groups they form, and the JSON names every host
    entry a bounded number of times (host_sets), not once per finding that concerns it."""
    import json

    from seoib.plan.report import render

    single = check_plan(loads_plan(_inventory(10_000, True)), _RULES)
    grouped = check_plan(loads_plan(_inventory(10_000, False)), _RULES)

    def fired(report: Any) -> list[tuple]:
        return sorted((f.check, f.severity, str(f.wave), f.population, f.cause, f.host_count,
                       f.vm_count) for f in report.findings)

    assert single.findings and single.counts()["block"]  # things go wrong in this fleet
    assert fired(single) == fired(grouped)
    assert (single.fixed_vms, single.broken_vms) == (grouped.fixed_vms, grouped.broken_vms)
    assert len(single.layout.blocks) == 4
    text = render(single, "json", "warn")
    data = json.loads(text)
    everyone = {e["name"] for s in data["host_sets"] for e in s["entries"]}
    assert "s0-00042" in everyone
    for f in data["findings"]:
        listed = data["host_sets"][f["host_set"]]["entries"]
        assert [h["name"] for h in f["hosts"]] == [e["name"] for e in listed][:8]
        assert f["host_count"] == sum(e["count"] for e in listed)
    # The wave lists the host once; the sets list it at most once each.
    assert text.count('"s0-00042"') <= 1 + len(data["host_sets"])
    assert len(text) < 200 * 10_000 + 20_000 * len(data["findings"])


def test_a_bad_entry_among_thousands_is_named_at_its_own_line(tmp_path: Any, capsys: Any) -> None:
    """The schema sees one entry per shape; a refusal still names the entry's own line and
    its place, in a section and in a wave's long list of hosts."""
    from seoib.cli import main

    lines = ["hosts:"] + [f"  - {{name: h{i}, kernel: 7.0.3, qemu: 10.2.0}}" for i in range(3000)]
    lines += ["rollout:", "  - {name: w, hosts: [" + ", ".join(
        [f"h{i}" for i in range(14)] + ["7"] + [f"h{i}" for i in range(15, 3000)]) + "], "
        "set: {kernel: 7.0.4}}"]
    path = tmp_path / "plan.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert main(["check", str(path)]) == 3
    err = capsys.readouterr().err
    assert f"{path}:3003: rollout/0/hosts/14: 7 is not of type 'string'" in err
    lines[2001] = "  - {name: h2000, kernel: 7.0.3, qemu: 10.2.0, colour: blue}"
    path.write_text("\n".join(lines) + "\n")
    assert main(["check", str(path)]) == 3
    err = capsys.readouterr().err
    assert f"{path}:2002: hosts/2000: Additional properties are not allowed ('colour'" in err
