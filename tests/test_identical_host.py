"""Over the whole class space: a VM that boots (ok or warn) on a host can live-migrate
to a host identical to its own - never unsupported, refused or dest-abort - and
solver and simulator agree on every such migration.
"""

from __future__ import annotations

from seoib.query.classes import ClassSolver, stack_classes, vm_classes
from seoib.rules.ruleset import RuleSet

FAILURES = ("unsupported", "refused", "dest-abort")


def test_a_vm_that_boots_migrates_to_an_identical_host(rules: RuleSet) -> None:
    solver = ClassSolver(rules)
    vms = vm_classes(rules, irqchips=(None, "on", "split", "off"),
                     ioapics=(None, "0x11", "0x20"), x2apic=(True, False),
                     policies=(None, "quirked", "respected", "not-advertised"))
    broken, booted = [], 0
    for stack in stack_classes(rules):
        for vm in vms:
            if solver.policy(stack, vm)["severity"] == "block":
                continue
            booted += 1
            outcome = solver.migrate(stack, stack, vm)["outcome"]
            if outcome in FAILURES:
                broken.append(f"{stack.label} / {vm.label}: {outcome}")
    assert booted > 1000
    assert broken == [], f"{len(broken)} VMs cannot move to an identical host: {broken[:5]}"
    assert solver.disagreements == []
