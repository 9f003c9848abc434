"""The observer's parsing and the comparison with the rules, without starting QEMU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from seoib.errors import SpecError
from seoib.inputs.machine_check import compare, predict, relevant_types, split_known
from seoib.inputs.qemu_machines import IoapicDevice, MachineObservation, parse_qtree_ioapics
from seoib.rules.ruleset import RuleSet

HERE = Path(__file__).parent
CASES = yaml.safe_load((HERE / "compare_cases.yaml").read_text(encoding="utf-8"))["cases"]


def device(text: str) -> IoapicDevice:
    kind, _, version = text.partition(" ")
    return IoapicDevice(kind, version or None)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_compare(rules: RuleSet, case: dict[str, Any]) -> None:
    option = case.get("kernel_irqchip")
    built = MachineObservation(case["machine"], option, case["built"]["lapic"],
                               tuple(device(d) for d in case["built"]["ioapics"]))
    found = compare(predict(rules.resolver.machines, case["machine"], option), built)
    assert len(found) == len(case["differences"]), found
    for line, expected in zip(found, case["differences"], strict=True):
        assert expected in line


def test_qtree_of_microvm_in_kernel_has_both_ioapics() -> None:
    text = (HERE / "qtree-microvm-7.2-on.txt").read_text(encoding="utf-8")
    assert parse_qtree_ioapics(text) == (IoapicDevice("ioapic", "0x20"), IoapicDevice("kvm-ioapic", None))


def test_qtree_version_belongs_to_its_own_device() -> None:
    # hpet's and vmport's numbers must not be read as an IOAPIC version.
    text = ("  dev: kvm-ioapic, id \"\"\n    gsi_base = 0 (0x0)\n  dev: vmport, id \"\"\n"
            "    version = 6 (0x6)\n  dev: ioapic, id \"\"\n    version = 17 (0x11)\n"
            "    bus: x\n      version = 32 (0x20)\n")
    assert parse_qtree_ioapics(text) == (IoapicDevice("kvm-ioapic", None), IoapicDevice("ioapic", "0x11"))


def test_prediction_names_its_rules(rules: RuleSet) -> None:
    pred = predict(rules.resolver.machines, "pc-q35-2.7", None)
    assert (pred.irqchip, pred.ioapic, pred.device()) == ("on", "0x11", "kvm-ioapic")
    assert pred.rules == ("machine.pc-q35", "machine.ioapic-0x11-upto-2.7")
    assert predict(rules.resolver.machines, "pc-q35-2.7", "split").rules[0] == "spec"
    board = predict(rules.resolver.machines, "isapc", None)  # no LAPIC, no IOAPIC at all
    assert (board.apic, board.describe()) == (False, "no LAPIC and no IOAPIC")
    with pytest.raises(SpecError):
        predict(rules.resolver.machines, "x-remote", None)


def test_sample_is_one_type_per_compat_class_plus_the_default(rules: RuleSet) -> None:
    names = [f"pc-q35-{v}" for v in ("2.6", "2.7", "2.8", "4.0", "4.0.1", "7.1", "7.2")]
    names += ["pc-i440fx-7.2", "microvm", "x-remote"]
    catalog = rules.resolver.machines
    assert split_known(catalog, names)[1] == ["x-remote"]
    assert relevant_types(catalog, names, "pc-q35-7.1") == [
        "microvm", "pc-i440fx-7.2", "pc-q35-2.7", "pc-q35-4.0", "pc-q35-7.1", "pc-q35-7.2"]


@pytest.mark.parametrize(("machine", "option", "ioapic", "userspace", "device"), [
    ("pc-q35-7.2", "on", "0x11", "0x20", "kvm-ioapic"),
    ("pc-q35-7.2", None, "0x11", "0x20", "kvm-ioapic"),
    ("pc-q35-7.2", "split", "0x20", "0x20", "ioapic"),
    ("pc-q35-2.7", "on", "0x11", "0x11", "kvm-ioapic"),
    ("isapc", "on", None, None, None),
    ("isapc", "split", None, None, None),
], ids=["q35 on", "q35 default (on)", "q35 split", "2.7 on", "isapc on", "isapc split"])
def test_the_prediction_gives_the_ioapic_the_guest_sees(rules: RuleSet, machine: str, option: str | None,
                                                        ioapic: str | None, userspace: str | None,
                                                        device: str | None) -> None:
    # With kernel-irqchip=on the guest has KVM's IOAPIC, version 0x11 whatever the machine
    # type's own; isapc has none in any mode.
    shown = predict(rules.resolver.machines, machine, option).as_json()
    assert (shown["ioapic"], shown["userspace_ioapic"], shown["device"]) == (ioapic, userspace, device)
    assert shown["apic"] is (machine != "isapc")
