"""The whole class space of the built-in rules, every guest: solver and simulator agree.

Releases collapse into classes (seoib.query.classes); every distinct class pair is
evaluated once and re-derived by the simulator. A disagreement names the class.
"""

from __future__ import annotations

import pytest

from seoib.query.classes import stack_classes, validate_space, vm_classes
from seoib.rules.ruleset import RuleSet


@pytest.fixture(scope="module")
def space(rules: RuleSet) -> tuple[list, list, list]:
    stacks = stack_classes(rules)
    full_vms = vm_classes(rules, irqchips=(None, "on", "split", "off"),
                          ioapics=(None, "0x11", "0x20"), x2apic=(True, False),
                          policies=("quirked", "respected", "not-advertised"))
    return stacks, full_vms, vm_classes(rules)


def test_space_is_compressed(rules: RuleSet, space: tuple[list, list, list]) -> None:
    stacks, _, vms = space
    kernels = {s.kernel.label for s in stacks}
    assert len(kernels) == 4, "62 mainline releases and two backports make four kernel classes"
    assert any("6.18.17+" in k and "6.19.7+" in k and "7.0" in k for k in kernels)
    assert len(vms) == len({v.label for v in vms})


def test_every_boot_class_agrees(rules: RuleSet, space: tuple[list, list, list]) -> None:
    stacks, full_vms, _ = space
    tally = validate_space(rules, stacks, full_vms, "policy")
    assert tally.cells == len(stacks) * len(full_vms)
    assert tally.validated == tally.evaluations > 1000
    assert tally.disagreements == ()
    assert {"ok", "not-applicable", "storm-risk", "storm", "stuck", "start-fails"} <= tally.outcomes


@pytest.mark.parametrize("snapshot", [False, True], ids=["live", "snapshot"])
def test_every_migration_class_pair_agrees(rules: RuleSet, space: tuple[list, list, list],
                                           snapshot: bool) -> None:
    stacks, _, vms = space
    tally = validate_space(rules, stacks, vms, "snapshot" if snapshot else "migrate")
    assert tally.cells == len(stacks) ** 2 * len(vms)
    assert tally.validated == tally.evaluations > 10000
    assert tally.disagreements == ()
    outcomes = tally.outcomes
    # The space reaches the migration outcomes the contract names. (stuck needs
    # an explicit seoib-policy=respected on IOAPIC 0x11, outside the default VM
    # classes; the boot space and tests/cases cover it.)
    expected = {"unsupported", "refused", "dest-abort", "storm", "storm-risk", "ok"}
    if snapshot:
        expected.add("cpu-model-change")
    assert expected <= outcomes
