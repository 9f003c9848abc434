"""Compare libvirt domain XMLs with the QEMU command lines libvirt generated from them.

libvirt's test suite keeps, for many domain XMLs, the command line its QEMU driver
builds (tests/qemuxml2argvdata, tests/qemuxmlconfdata in newer trees: NAME.xml
beside NAME.args or NAME.x86_64-VERSION.args). Both readers must resolve such a
pair to the same VM: machine type, irqchip, IOAPIC version and x2APIC. An alias in
the XML (`pc`, `q35`) that libvirt expanded to a versioned type is alias drift, not
a disagreement: the XML side is then judged with the expanded type.

Run by hand over an unpacked libvirt source tree:

    python tests/inputs/libvirt_corpus.py libvirt-9.0.0/tests/qemuxml2argvdata

It prints the corpus size and the agreement rate, and each disagreement.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from seoib.errors import BadInput, SpecError
from seoib.inputs.domain_xml import parse_domain_xml
from seoib.inputs.qemu_cmdline import parse_qemu_cmdline_file
from seoib.inputs.vminput import VMInput
from seoib.rules.ruleset import RuleSet, load_rules
from seoib.rules.specs import parse_host_spec, parse_vm_spec

__all__ = ["HOST", "Pair", "compare", "pairs", "resolved"]

# Judged on the newest QEMU of the rules: libvirt's tests use the latest capabilities.
HOST = "kernel=7.0.3,qemu=11.0.0"
KEYS = ("machine", "irqchip", "ioapic", "x2apic")
_OUTPUT_XML = re.compile(r"\.[a-z0-9_]+-(latest|[0-9][0-9.]*)(\.[a-z-]+)?$")


@dataclass(frozen=True)
class Pair:
    xml: Path
    args: Path


def pairs(folder: Path) -> list[Pair]:
    """Every domain XML with an x86_64 (or unversioned) .args file beside it."""
    out = []
    for xml in sorted(folder.glob("*.xml")):
        stem = xml.name[: -len(".xml")]
        if _OUTPUT_XML.search(stem):
            continue  # libvirt's expected output XML (NAME.ARCH-VERSION.xml), not an input
        candidates = [folder / f"{stem}.args",
                      *sorted(folder.glob(f"{stem}.x86_64-latest.args")),
                      *sorted(folder.glob(f"{stem}.x86_64-*.args"))]
        found = next((c for c in candidates if c.exists()), None)
        if found is not None:
            out.append(Pair(xml, found))
    return out


def resolved(rs: RuleSet, vm: VMInput, machine: str | None = None) -> dict[str, object]:
    """Machine, irqchip, IOAPIC and x2APIC of a VM as the engine resolves it."""
    spec = dict(vm.spec)
    if machine is not None:
        spec["machine"] = machine
    host = rs.resolver.host(parse_host_spec(HOST, vm_location(vm)))
    v = rs.resolver.vm(parse_vm_spec(spec, vm_location(vm)), host)
    return {"machine": v.machine.name, "irqchip": v.irqchip,
            "ioapic": v.ioapic if v.irqchip != "on" else "in-kernel", "x2apic": v.x2apic}


def vm_location(vm: VMInput):  # type: ignore[no-untyped-def]
    from seoib.errors import Location

    return Location(vm.source)


def compare(rs: RuleSet, pair: Pair) -> tuple[str, dict[str, object], dict[str, object]]:
    """('agree' | 'drift' | 'differ' | 'skip', xml side, args side)."""
    try:
        xml = parse_domain_xml(str(pair.xml))
    except BadInput as exc:
        return "skip", {"error": exc.message}, {}
    try:
        args = parse_qemu_cmdline_file(str(pair.args))
        a = resolved(rs, args)
    except (BadInput, SpecError) as exc:
        return "skip", {}, {"error": exc.message}
    requested = xml.spec.get("machine")
    drift = requested in rs.resolver.machines.aliases and requested != args.spec.get("machine")
    try:
        x = resolved(rs, xml, str(a["machine"]) if drift else None)
    except SpecError as exc:
        return "skip", {"error": exc.message}, a
    if x == a:
        return ("drift" if drift else "agree"), x, a
    return "differ", x, a


def main(argv: list[str]) -> int:
    rs = load_rules()
    folder = Path(argv[0])
    tally: dict[str, int] = {}
    for pair in pairs(folder):
        verdict, x, a = compare(rs, pair)
        tally[verdict] = tally.get(verdict, 0) + 1
        if verdict == "differ":
            diff = {k: (x.get(k), a.get(k)) for k in KEYS if x.get(k) != a.get(k)}
            print(f"differ {pair.xml.name} / {pair.args.name}: {diff}")
    judged = tally.get("agree", 0) + tally.get("drift", 0) + tally.get("differ", 0)
    same = judged - tally.get("differ", 0)
    print(f"pairs {sum(tally.values())}, x86 pairs judged {judged}, skipped (non-x86 or refused) "
          f"{tally.get('skip', 0)}; agree {tally.get('agree', 0)}, alias drift "
          f"{tally.get('drift', 0)}, differ {tally.get('differ', 0)}; agreement "
          f"{100.0 * same / max(judged, 1):.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
