"""Hold a QEMU binary's machine facts against what the rules predict for them.

Contract: :func:`predict` resolves a machine type name and a kernel-irqchip value the
way a VM spec ``machine=<type>,irqchip=<mode>`` resolves (explicit mode, else the
machine type's compat rules, else its family default; rules/machines.yaml), and
:func:`compare` lists every difference from a :class:`MachineObservation` as one
readable line naming the rules behind the prediction. The rules describe the
userspace IOAPIC's version; with irqchip=on the guest gets KVM's in-kernel IOAPIC,
always version 0x11 and without a version property in QEMU (docs/domain.md, "IOAPIC
device and machine types"): the prediction says 0x11 there, keeps the machine type's
own version as ``userspace_ioapic``, and only the device is compared. A board the rules
give no interrupt controller (isapc) predicts no LAPIC and no IOAPIC in every mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from ..rules.catalog import MachineCatalog
from ..rules.resolve import Resolver
from .qemu_machines import KVM_IOAPIC, KVM_LAPIC, USER_IOAPIC, MachineObservation

__all__ = ["MachinePrediction", "compare", "predict", "registration_differences", "relevant_types",
           "rule_types", "split_known"]


# KVM's in-kernel IOAPIC: arch/x86/kvm/ioapic.h IOAPIC_VERSION_ID, whatever the machine type.
KVM_IOAPIC_VERSION = "0x11"


@dataclass(frozen=True)
class MachinePrediction:
    machine: str
    option: str | None  # the kernel-irqchip value given; None: the machine type's default
    irqchip: str  # on | split | off
    ioapic: str  # the userspace IOAPIC version the rules give the machine type
    rules: tuple[str, ...]  # ids of the rule data behind the values
    apic: bool = True  # False: the rules say the board builds no LAPIC or IOAPIC at all

    def describe(self) -> str:
        if not self.apic:
            return "no LAPIC and no IOAPIC"
        return f"irqchip {self.irqchip}, IOAPIC {self.device()} {self.guest_ioapic()}"

    def device(self) -> str | None:
        if not self.apic:
            return None
        return KVM_IOAPIC if self.irqchip == "on" else USER_IOAPIC

    def guest_ioapic(self) -> str | None:
        """The IOAPIC version the guest sees: KVM's 0x11 in-kernel, else the machine type's."""
        if not self.apic:
            return None
        return KVM_IOAPIC_VERSION if self.irqchip == "on" else self.ioapic

    def as_json(self) -> dict[str, Any]:
        return {"irqchip": self.irqchip if self.apic else None, "ioapic": self.guest_ioapic(),
                "userspace_ioapic": self.ioapic if self.apic else None, "device": self.device(),
                "rules": list(self.rules), "apic": self.apic}


def predict(catalog: MachineCatalog, machine: str, option: str | None) -> MachinePrediction:
    """What the rules say ``-machine machine -accel kvm,kernel-irqchip=option`` builds.

    SpecError where the rules do not know the machine type.
    """
    parsed = catalog.parse(machine)
    values, because = catalog.defaults(parsed)
    family = f"machine.{parsed.family.id}"
    def origin(key: str) -> tuple[str, ...]:
        hits = tuple(c.rule for c, rule in zip(because, _compat(catalog, parsed), strict=True)
                     if key in rule.set)
        return hits or (family,)

    rules = (("spec",) if option else origin("irqchip")) + origin("ioapic")
    if not parsed.family.apic:
        rules = (family,)
    return MachinePrediction(machine, option, option or values["irqchip"], values["ioapic"],
                             tuple(dict.fromkeys(rules)), parsed.family.apic)


def _compat(catalog: MachineCatalog, parsed: Any) -> list[Any]:
    return [c for c in catalog.compat if c.applies(parsed.family.id, parsed.version)]


def compare(pred: MachinePrediction, obs: MachineObservation) -> list[str]:
    """Differences between the prediction and what QEMU built; empty when they agree."""
    mode = f"kernel-irqchip={obs.option}" if obs.option else "default irqchip"
    head = f"{obs.machine} ({mode}): rules ({', '.join(pred.rules)}) say"
    out: list[str] = []
    if not pred.apic:  # no interrupt controller for kernel-irqchip to place
        if obs.lapic is not None or obs.ioapics:
            out.append(f"{head} no LAPIC and no IOAPIC; QEMU built {obs.describe()}")
        return out
    if obs.irqchip != pred.irqchip:
        out.append(f"{head} irqchip {pred.irqchip}; QEMU built {obs.irqchip or 'no LAPIC'} "
                   f"({obs.describe()})")
        return out
    wanted_lapic = KVM_LAPIC if pred.irqchip in ("on", "split") else "apic"
    if obs.lapic != wanted_lapic:
        out.append(f"{head} LAPIC {wanted_lapic}; QEMU built {obs.describe()}")
    users = [d for d in obs.ioapics if d.type == USER_IOAPIC]
    if not obs.ioapics:
        out.append(f"{head} IOAPIC {pred.device()}; QEMU built none")
    if pred.irqchip != "on" and not users:
        out.append(f"{head} a userspace IOAPIC; QEMU built {obs.describe()}")
    # Every userspace IOAPIC (microvm has a second one even with irqchip=on) carries
    # the machine type's version.
    for dev in users:
        if dev.version != pred.ioapic:
            out.append(f"{head} IOAPIC version {pred.ioapic}; QEMU's {dev.type} is "
                       f"{dev.version or 'unversioned'}")
    return out


def split_known(catalog: MachineCatalog, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(types the rules know, types they do not) among ``names``."""
    known, unknown = [], []
    for name in names:
        try:
            catalog.parse(name)
        except SpecError:
            unknown.append(name)
        else:
            known.append(name)
    return known, unknown


def relevant_types(catalog: MachineCatalog, names: Iterable[str], default: str | None) -> list[str]:
    """A cheap sample: the default type and the newest known type of each compat class.

    Types whose compat values are equal cannot disagree differently with the rules;
    one per class (plus the binary's default) covers every value the rules predict.
    """
    known, _ = split_known(catalog, names)
    newest: dict[tuple, tuple[tuple[int, ...], str]] = {}
    for name in known:
        parsed = catalog.parse(name)
        values, _ = catalog.defaults(parsed)
        key = (parsed.family.id, tuple(sorted(values.items())))
        order = parsed.version.parts if parsed.version else ()
        if key not in newest or order > newest[key][0]:
            newest[key] = (order, name)
    picked = [name for _, name in newest.values()]
    if default in known and default not in picked:
        picked.insert(0, default)
    return sorted(picked)


def rule_types(catalog: MachineCatalog) -> list[str]:
    """Every concrete machine type name the rules know."""
    out = []
    for fam in catalog.families.values():
        if not fam.versioned:
            out.append(fam.id)
            continue
        for parts, fams in sorted(catalog.versions.items()):
            if fams is None or fam.id in fams:
                out.append(f"{fam.id}-{'.'.join(map(str, parts))}")
    return out


def registration_differences(resolver: Resolver, qemu_version: str, names: Iterable[str],
                             aliases: dict[str, str]) -> list[str]:
    """Known machine types and alias targets the rules give a QEMU release, vs a binary's.

    SpecError where the rules do not know the release.
    """
    release = resolver.qemu.resolve(qemu_version)
    catalog, qemu = resolver.machines, resolver.qemu
    registered = sorted(set(names))
    out = []
    for name in dict.fromkeys(split_known(catalog, registered)[0] + rule_types(catalog)):
        says = qemu.registers(release, catalog.parse(name))
        if says != (name in registered):
            out.append(f"{name}: the rules say QEMU {release.version} "
                       f"{'registers' if says else 'does not register'} it; the binary "
                       f"{'does' if name in registered else 'does not'}")
    for alias, target in sorted(aliases.items()):
        if alias in catalog.aliases and qemu.alias_target(release, alias) != target:
            out.append(f"alias {alias}: the rules say {qemu.alias_target(release, alias)} on QEMU "
                       f"{release.version}; the binary says {target}")
    return out
