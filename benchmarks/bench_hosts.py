"""Benchmark `seoib check` (and, with --plan, `seoib plan`) on a fleet written host by host.

A script, not a test: ``python benchmarks/bench_hosts.py [--hosts N] [--plan]``. The plan
lists 10,000 hosts one per line and 10,000 VMs one per line, each on its own host,
with a mix of kernels, QEMU builds, machine types and guests, and rolls out two waves
(half the hosts' kernels, then every host's QEMU to rfc-v2). Cost must follow the
classes, not the entries: the same fleet written as groups costs about the same
(benchmarks/bench_fleet.py). Budget: load within 5 s, check within 2 s; with --plan,
the planner (towards kernel 7.0.3, QEMU 11.0.0, rfc-v2) within 60 s.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seoib.plan.checker import check_plan
from seoib.plan.planfile import loads_plan
from seoib.plan.planner import plan_rollout
from seoib.rules.ruleset import load_rules

KERNELS = ("6.12.40", "6.18.10", "6.18.17")
QEMUS = ("10.1.0", "10.2.0")
MACHINES = ("pc-q35-10.1", "pc-q35-10.0", "pc-i440fx-9.2", "q35")
GUESTS = ("linux", "windows", "any")
TARGET = {"kernel": "7.0.3", "qemu": "11.0.0", "seoib": "rfc-v2"}


def plan_yaml(hosts: int = 10_000) -> str:
    lines = ["hosts:"]
    lines += [f"  - {{name: h{i}, kernel: {KERNELS[i % 3]}, qemu: {QEMUS[i % 2]}}}"
              for i in range(hosts)]
    lines.append("vms:")
    lines += [f"  - {{name: vm{i}, host: h{i}, machine: {MACHINES[i % 4]}, "
              f"guest: {GUESTS[i % 3]}}}" for i in range(hosts)]
    lines.append("rollout:")
    half = ", ".join(f"h{i}" for i in range(0, hosts, 2))
    every = ", ".join(f"h{i}" for i in range(hosts))
    lines.append(f"  - {{name: kernels, hosts: [{half}], set: {{kernel: 7.0.3}}}}")
    lines.append(f"  - {{name: qemu, hosts: [{every}], set: {{qemu: 11.0.0, seoib: rfc-v2}}}}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--plan", action="store_true", help="also time seoib plan")
    args = parser.parse_args()
    rs = load_rules()
    text = plan_yaml(args.hosts)
    start = time.perf_counter()
    plan = loads_plan(text, "<bench plan>")
    loaded = time.perf_counter()
    report = check_plan(plan, rs)
    checked = time.perf_counter()
    data = report.as_json()
    fleet, counts = data["fleet"], data["counts"]
    print(f"hosts {fleet['hosts']} in {fleet['host_entries']} entries; VMs {fleet['vms']} in "
          f"{fleet['vm_entries']} entries; waves {len(report.waves)}")
    print(f"classes: {fleet['host_classes']} host, {fleet['vm_classes']} VM; verdicts evaluated "
          f"{fleet['evaluations']}; findings: {counts['block']} block, {counts['warn']} warn, "
          f"{counts['info']} info")
    print(f"time: load {loaded - start:.2f} s (budget 5 s), check {checked - loaded:.2f} s "
          f"(budget 2 s)")
    ok = loaded - start <= 5 and checked - loaded <= 2
    if args.plan:
        result = plan_rollout(plan, TARGET, rs)
        planned = time.perf_counter()
        chosen = result.chosen.name if result.chosen else "none"
        print(f"plan: {len(result.strategies)} candidates, chosen {chosen}, "
              f"{planned - checked:.2f} s (budget 60 s)")
        ok = ok and planned - checked <= 60
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"peak RSS: {peak_kib / 1024:.1f} MiB")
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
