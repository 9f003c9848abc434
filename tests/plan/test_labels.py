"""Hosts merged into one class by what the rules can tell apart keep their own names."""

from __future__ import annotations

from seoib.plan.checker import check_plan
from seoib.plan.planfile import loads_plan
from seoib.rules.ruleset import load_rules

PLAN = """
hosts:
  - {name: h-new, kernel: 7.0.3, qemu: 11.0.0, seoib: rfc-v2}
  - {group: lts-6.18, count: 10, kernel: 6.18.10, qemu: 11.0.0, seoib: rfc-v2}
  - {group: lts-6.12, count: 10, kernel: 6.12.40, qemu: 11.0.0, seoib: rfc-v2}
vms:
  - {name: db1, host: h-new, machine: pc-q35-11.0, irqchip: split, guest: linux}
  - {group: old, count: 30, hosts: lts-6.12, machine: pc-q35-5.0, guest: linux}
rollout:
  - {name: qemu, hosts: [lts-6.12], set: {qemu: 11.0.0}}
"""


def test_merged_hosts_are_labelled_by_their_own_kernels() -> None:
    report = check_plan(loads_plan(PLAN), load_rules())
    assert report.fleet.hosts[1].host.kernel == "6.18.10"  # one class, first seen on 6.18
    unsafe = next(f for f in report.findings if f.vm == "db1" and f.targets)
    stacks = {t.label for t in unsafe.targets}
    assert any("kernel 6.18.10" in s and "kernel 6.12.40" in s for s in stacks), stacks
    removed = next(f for f in report.findings if f.vm == "old")
    who = removed.message.split(": ", 1)[0]  # the VMs and their boot, before what happened
    assert "booted on kernel 6.12.40" in who and "6.18" not in who
