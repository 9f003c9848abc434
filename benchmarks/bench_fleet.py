"""Benchmark `seoib check` at fleet scale: 10,000 hosts and 1,000,000 VMs, 10 waves.

A script, not a test: ``python benchmarks/bench_fleet.py``. The plan is generated
in memory (100 host groups of 100, 100 VM groups of 10,000) with a mix of
kernels, QEMU builds, machine types, irqchip modes and guests, a capacity on every
host group and snapshot restores on a quarter of the VM groups, and rolled out in
10 waves (kernels first, then rfc-v2 QEMU). Every population is followed through
every moment of every wave. Budget: the check within 1 s, 2 GiB peak RSS.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseline import Baseline

from seoib.plan.checker import check_plan
from seoib.plan.planfile import loads_plan
from seoib.rules.ruleset import load_rules

KERNELS = ("6.12.40", "6.18.10", "6.18.17")
QEMUS = ("10.1.0", "10.2.0")
MACHINES = ("pc-q35-10.1", "pc-q35-10.0", "pc-i440fx-9.2", "pc-q35-8.2", "q35")
IRQCHIPS = ("split", "on")
GUESTS = ("linux", "windows", "windows-hyperv", "any")


def fleet_yaml(groups: int = 100, per_group: int = 100, vms_per_group: int = 10_000,
               waves: int = 10) -> str:
    lines = ["hosts:"]
    for g in range(groups):
        lines.append(f"  - {{group: rack-{g}, count: {per_group}, capacity: "
                     f"{vms_per_group // per_group * 13 // 10}, kernel: {KERNELS[g % 3]}, "
                     f"qemu: {QEMUS[g % 2]}}}")
    lines.append("vms:")
    for g in range(groups):
        lines.append(f"  - {{group: vms-{g}, count: {vms_per_group}, hosts: rack-{g}, "
                     f"machine: {MACHINES[g % 5]}, irqchip: {IRQCHIPS[g % 2]}, "
                     f"guest: {GUESTS[g % 4]}" + (", snapshots: true}" if g % 4 == 1 else "}"))
    lines.append("rollout:")
    half = waves // 2
    for w in range(waves):
        racks = range(w % half, groups, half)
        names = ", ".join(f"rack-{g}" for g in racks)
        change = "{kernel: 7.0.3}" if w < half else "{qemu: 11.0.0, seoib: rfc-v2}"
        lines.append(f"  - {{name: wave-{w + 1}, hosts: [{names}], set: {change}}}")
    return "\n".join(lines) + "\n"


def main() -> int:
    base = Baseline.measure()
    print(base.line())
    start = time.perf_counter()
    rs = load_rules()
    text = fleet_yaml()
    plan = loads_plan(text, "<bench plan>")
    parsed = time.perf_counter()
    report = check_plan(plan, rs)
    done = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    data = report.as_json()
    fleet, counts = data["fleet"], data["counts"]
    print(f"hosts {fleet['hosts']} in {fleet['host_entries']} entries; VMs {fleet['vms']} in "
          f"{fleet['vm_entries']} entries; waves {len(report.waves)}")
    print(f"classes: {fleet['host_classes']} host, {fleet['vm_classes']} VM; "
          f"verdicts evaluated {fleet['evaluations']}, simulator replays {report.fleet.validated}, "
          f"disagreements {len(report.disagreements)}")
    print(f"findings: {counts['block']} block, {counts['warn']} warn, {counts['info']} info")
    print(f"time: rules + parse {parsed - start:.2f} s, check {done - parsed:.2f} s "
          f"(budget 1 s; {base.of_loop((done - parsed) * 1e6)}), total {done - start:.2f} s")
    print(f"peak RSS: {peak_kib / 1024:.1f} MiB (budget 2048 MiB)")
    ok = done - parsed <= 1 and peak_kib <= 2 * 1024 * 1024
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
