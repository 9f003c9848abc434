"""The simulator is an independent witness: change one confirmed fact in a copy of the
rules and it disagrees (exit 4) on exactly the cells that fact decides, nowhere else.

The simulator reads nothing from rules/ but the named switches of assumptions.yaml:
each QEMU design and guest is its own code. So a rule set that misreads a design or
a guest outside a switch must lose agreement where, and only where, the misreading
changes a verdict (tests/test_assumptions.py flips the switches themselves).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from seoib.cli import main
from seoib.paths import builtin_rules_dir
from seoib.query.classes import StackClass, VMClass, stack_classes, vm_classes
from seoib.query.verdicts import policy_verdict
from seoib.rules.ruleset import RuleSet, load_rules

STATE = ("outcome", "policy", "kvm_flags", "lvr_seoib", "suppression_honored")

# (id, file, text in the built-in rules, the misreading, the design and guest it concerns)
FLIPS = [
    ("rfc-v2 reads the effective IOAPIC", "designs.yaml",
     "qemu.ioapic_lookup: globals-only", "qemu.ioapic_lookup: effective", "rfc-v2", "windows-hyperv"),
    ("machine-gated gates at the build's own release, past its switch", "designs.yaml",
     "gate: {assume: machine-gated-gate}", "gate: build", "machine-gated", "windows-hyperv"),
    ("Xen writes the EOI register on 0x11 too", "guests.yaml",
     "guest.checks_ioapic_version: \"no\",\n            guest.old_ioapic_eoi: edge-switch}",
     "guest.checks_ioapic_version: \"no\",\n            guest.old_ioapic_eoi: eoir}", "rfc-v2", "xen"),
]


def _flipped(tmp_path: Path, file: str, old: str, new: str) -> Path:
    root = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), root)
    path = root / file
    text = path.read_text()
    assert text.count(old) == 1, f"{file} no longer says {old!r}: update the flip"
    path.write_text(text.replace(old, new))
    return root


def _verdict(rs: RuleSet, stack: StackClass, vmc: VMClass, witness: bool) -> dict[str, Any]:
    host = rs.resolver.host(stack.spec())
    return policy_verdict(rs, host, rs.resolver.vm(vmc.spec(), host), witness=witness)


def _seen(verdict: dict) -> tuple:
    """What a run can show: the outcome, and the KVM state of a VM that started."""
    if verdict["outcome"] == "start-fails":
        return (verdict["outcome"],)
    return tuple(verdict.get(k) for k in STATE)


@pytest.mark.parametrize(("name", "file", "old", "new", "design", "guest"), FLIPS,
                         ids=[f[0] for f in FLIPS])
def test_a_flipped_confirmed_fact_disagrees_exactly_where_it_matters(
        tmp_path: Path, rules: RuleSet, name: str, file: str, old: str, new: str, design: str, guest: str
) -> None:
    wrong = load_rules(str(_flipped(tmp_path, file, old, new)), use_cache=False)
    vms = vm_classes(rules, irqchips=(None, "split"), ioapics=(None, "0x11"), guests=(guest,))
    affected, disagreed = set(), set()
    # Every cell on its own: a cache keyed by the rules' facts would let one run
    # stand for machine types the misread rules lump together.
    for stack in stack_classes(rules, designs=[design]):
        for vmc in vms:
            right, verdict = _verdict(rules, stack, vmc, False), _verdict(wrong, stack, vmc, True)
            cell = (stack.label, vmc.label)
            if _seen(right) != _seen(verdict):
                affected.add(cell)
            if verdict["witness"]["agrees"] is False:
                disagreed.add(cell)
    assert affected, f"flipping {name!r} should change some verdict"
    assert disagreed == affected


def test_the_rfc_lookup_flip_exits_4_on_the_stuck_case_only(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    _, file, old, new, _, _ = FLIPS[0]
    root = str(_flipped(tmp_path, file, old, new))
    host = "kernel=7.0.0,qemu=10.0.0,seoib=rfc-v2"
    assert main(["policy", "--rules", root, "--host", host,
                 "--vm", "machine=pc-q35-2.7,irqchip=split,guest=windows-hyperv"]) == 4
    out = capsys.readouterr().out
    assert "outcome: solver ok vs simulator stuck" in out
    # A user -global makes both lookups see 0x11; a 0x20 machine type is unaffected.
    assert main(["policy", "--rules", root, "--host", host,
                 "--vm", "machine=pc-q35-2.7,irqchip=split,ioapic=0x11,guest=windows-hyperv"]) == 0
    assert main(["policy", "--rules", root, "--host", host,
                 "--vm", "machine=pc-q35-10.0,irqchip=split,guest=windows-hyperv"]) == 0
    # The built-in rules say stuck, and the simulator agrees.
    assert main(["policy", "--host", host,
                 "--vm", "machine=pc-q35-2.7,irqchip=split,guest=windows-hyperv"]) == 2
