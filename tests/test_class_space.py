"""The whole class space of the built-in rules, every guest: solver and simulator agree.

Releases collapse into classes (seoib.query.classes); every distinct class pair is
evaluated once and re-derived by the simulator. A disagreement names the class.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from seoib.paths import builtin_rules_dir
from seoib.query.classes import stack_classes, validate_space, vm_classes
from seoib.rules.ruleset import RuleSet, load_rules


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


def test_cost_follows_classes_not_releases(rules: RuleSet, tmp_path: Path) -> None:
    """The class space of the QEMU releases fleets run against the space of the four newest
    alone: nine times the migration cells, the same distinct class pairs evaluated (and
    simulated), the same outcomes. Releases that add no class pair add no evaluation.
    An unversioned machine type (microvm) is the one that does: its stream before 10.0
    lacks MIG_CMD_SWITCHOVER_START (rules/qemu.yaml stream_commands), so the older
    releases are classes of their own for it, and only for it."""
    narrow_dir = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), narrow_dir)
    qemu = narrow_dir / "qemu.yaml"
    text = qemu.read_text()
    wide = re.search(r'\n  releases: \[(.*)\]\n', text)
    assert wide is not None and len(wide.group(1).split(",")) > 4
    qemu.write_text(text.replace(wide.group(0), '\n  min: "10.0"\n'))
    narrow = load_rules(narrow_dir, use_cache=False)
    tallies = []
    for rs in (rules, narrow):
        stacks, vms = stack_classes(rs), vm_classes(rs, guests=["linux"])
        versioned = [v for v in vms if v.machine.machine != "microvm"]
        unversioned = [v for v in vms if v.machine.machine == "microvm"]
        tallies.append((len(stacks), validate_space(rs, stacks, versioned, "migrate"),
                        validate_space(rs, stacks, unversioned, "migrate")))
    (wide_stacks, w, wu), (narrow_stacks, n, nu) = tallies
    assert wide_stacks > 2 * narrow_stacks and w.cells > 8 * n.cells
    assert w.evaluations == n.evaluations == w.validated and w.outcomes == n.outcomes
    assert wu.evaluations > nu.evaluations and wu.validated == wu.evaluations
