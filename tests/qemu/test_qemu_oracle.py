"""The machine rules held against a real QEMU on KVM.

For every machine type the installed QEMU registers and rules/machines.yaml knows,
each kernel-irqchip mode (on, split, off and QEMU's default) is started paused and
the IOAPIC device, its version and the irqchip mode QEMU chose are compared with
what the rules predict for the same VM spec. Types the rules do not know yet are
printed, not failed.

It needs qemu-system-x86_64 (CI installs Debian's) and a /dev/kvm this user can open:
kernel-irqchip=on and split exist only with KVM. Each skip says why.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from seoib.errors import SpecError
from seoib.inputs.machine_check import compare, predict, registration_differences, split_known
from seoib.inputs.probe import parse_qemu_version
from seoib.inputs.qemu_machines import IRQCHIP_MODES, list_machines, observe
from seoib.inputs.qmp import run_bounded
from seoib.rules.ruleset import RuleSet, load_rules

HERE = Path(__file__).parent
MEASURED = yaml.safe_load((HERE / "measured.yaml").read_text(encoding="utf-8"))["cases"]
GAPS = yaml.safe_load((HERE / "registration_gaps.yaml").read_text(encoding="utf-8"))["gaps"]


@pytest.fixture(scope="module")
def qemu(qemu_binary: str) -> str:
    return qemu_binary


@pytest.mark.parametrize("case", MEASURED, ids=lambda c: c["name"])
def test_observer_sees_what_qemu_builds(qemu: str, case: dict[str, Any]) -> None:
    obs = observe(qemu, case["machine"], case.get("kernel_irqchip"), extra=case.get("extra", ()))
    assert obs.irqchip == case["irqchip"]
    seen = sorted(f"{d.type} {d.version}" if d.version else d.type for d in obs.ioapics)
    assert seen == sorted(case["ioapics"])


def test_every_known_machine_type_in_every_irqchip_mode(qemu: str, rules: RuleSet) -> None:
    catalog = rules.resolver.machines
    start = time.monotonic()
    registered = [m.name for m in list_machines(qemu)]
    known, unknown = split_known(catalog, registered)
    print(f"\n{qemu}: {len(registered)} machine types; rules know {len(known)}; "
          f"not in the rules yet: {', '.join(unknown) or 'none'}")
    assert known, "the rules know none of the machine types this QEMU registers"
    differences: list[str] = []
    compared = 0
    for machine in known:
        for option in IRQCHIP_MODES:
            differences += compare(predict(catalog, machine, option), observe(qemu, machine, option))
            compared += 1
    took = time.monotonic() - start
    print(f"compared {compared} starts ({len(known)} types x {len(IRQCHIP_MODES)} modes) "
          f"in {took:.1f} s")
    assert compared == len(known) * len(IRQCHIP_MODES)
    assert not differences, "\n".join(differences)


def test_machine_list_and_aliases_where_the_rules_know_the_release(qemu: str, rules: RuleSet) -> None:
    version, _ = parse_qemu_version(run_bounded([qemu, "--version"])[1])
    entries = list_machines(qemu)
    aliases = {e.alias: e.name for e in entries if e.alias}
    try:
        found = registration_differences(rules.resolver, version, [e.name for e in entries], aliases)
    except SpecError as err:
        pytest.skip(f"QEMU {version} is not in rules/qemu.yaml, nothing to compare ({err.message})")
    series = ".".join(version.split(".")[:2])
    gaps = {m for g in GAPS if g["qemu"] == series for m in g["machines"]}
    known_gap = [f for f in found if f.split(":")[0] in gaps]
    if known_gap:
        print("\nregistration the rules cannot state (registration_gaps.yaml):\n  "
              + "\n  ".join(known_gap))
    unexpected = [f for f in found if f not in known_gap]
    assert not unexpected, "\n".join(unexpected)


def test_the_oracle_catches_a_wrong_rule(qemu: str, tmp_path: Path) -> None:
    """A rule set that moves the 0x11 boundary to 2.6 must disagree on pc-q35-2.7."""
    rules_dir = tmp_path / "rules"
    shutil.copytree(Path(load_rules().root), rules_dir)
    machines = rules_dir / "machines.yaml"
    text = machines.read_text(encoding="utf-8")
    assert 'max: "2.7"' in text
    machines.write_text(text.replace('max: "2.7"', 'max: "2.6"', 1), encoding="utf-8")
    catalog = load_rules(rules_dir, use_cache=False).resolver.machines
    found = compare(predict(catalog, "pc-q35-2.7", "split"), observe(qemu, "pc-q35-2.7", "split"))
    assert len(found) == 1
    assert "IOAPIC version 0x20" in found[0] and "is 0x11" in found[0]
