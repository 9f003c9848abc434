"""The default class space of `seoib matrix`: which stacks and VM classes get a cell.

The full cross product (every stack class against every stack class for every
VM class) is far too big to read, so the matrix keeps what a reviewer needs:

* stacks: every kernel class x every QEMU release x every design in the rules;
  per VM class, QEMU releases that give the VM identical input facts (they
  differ only in machine types this VM does not use) merge into one range;
* migration VM classes: per machine family, the newest machine class every
  QEMU release registers (what a mixed fleet can live-migrate) and the newest
  class of all (the alias target, the only one past a design's gate), each
  with the irqchip default and split, one IOAPIC 0x11 variant, and the guests
  that differ (unknown, one that uses SEOIB, one that does not);
* policy VM classes: every machine class with both irqchip modes, the same
  variant and guests - a power-on is cheap, so nothing is left out there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from ..query.classes import (
    KernelClass,
    MachineClass,
    StackClass,
    VMClass,
    kernel_classes,
    label_runs,
    machine_classes,
)
from ..rules.ruleset import RuleSet

__all__ = ["GUESTS", "IRQCHIPS", "Space", "Stack", "default_space", "qemu_groups"]

# Guest profiles that span the behaviours: unknown (worst case), one that sets
# SVR bit 12 and EOIs early, one that does neither. Profile ids, not versions.
GUESTS = ("any", "windows-hyperv", "linux")
IRQCHIPS: tuple[str | None, ...] = (None, "split")  # None: the machine type's default
OLD_IOAPIC = "0x11"


@dataclass(frozen=True)
class Stack:
    """A stack class as one VM class sees it: QEMU releases it cannot tell apart merged."""

    kernel: KernelClass
    qemus: tuple[str, ...]
    qemu_label: str
    design: str

    @property
    def label(self) -> str:
        return f"kernel {self.kernel.label} | QEMU {self.qemu_label} | {self.design}"

    @cached_property
    def rep(self) -> StackClass:
        # The newest release stands for the range; all give the same input facts. One
        # object per stack: its key and label are computed once, on the hot path.
        return StackClass(self.kernel, self.qemus[-1], self.design)


@dataclass(frozen=True)
class Space:
    kernels: tuple[KernelClass, ...]
    qemus: tuple[str, ...]
    designs: tuple[str, ...]
    policy_vms: tuple[VMClass, ...]
    migration_vms: tuple[VMClass, ...]
    notes: tuple[str, ...] = field(default=())


def _version(mc: MachineClass, rs: RuleSet) -> tuple[int, ...]:
    v = rs.resolver.machines.parse(mc.machine).version
    return v.parts if v is not None else ()


def _vm_configs(machines: Sequence[MachineClass], rs: RuleSet) -> list[VMClass]:
    """Each machine class with the irqchip default and split (once where they coincide)."""
    out: list[VMClass] = []
    for mc in machines:
        default = rs.resolver.machines.defaults(rs.resolver.machines.parse(mc.machine))[0]["irqchip"]
        for irqchip in IRQCHIPS:
            if irqchip is not None and irqchip == default:
                continue  # identical to the default VM class
            out.append(VMClass(mc, irqchip))
    return out


def _with_guests(configs: Sequence[VMClass], guests: Sequence[str]) -> tuple[VMClass, ...]:
    return tuple(VMClass(c.machine, c.irqchip, c.ioapic, c.x2apic, g, c.seoib_policy)
                 for c in configs for g in guests)


def default_space(rs: RuleSet, *, qemus: Sequence[str] | None = None,
                  designs: Sequence[str] | None = None,
                  guests: Sequence[str] | None = None) -> Space:
    r = rs.resolver
    qemu_list = tuple(qemus or [str(x.version) for x in r.qemu.releases.values()])
    design_list = tuple(designs or r.designs)
    guest_list = tuple(g for g in (guests or GUESTS) if g in r.guests)
    releases = [r.qemu.resolve(q) for q in qemu_list]
    classes = machine_classes(rs, qemu_list)

    families: dict[str, list[MachineClass]] = {}
    for mc in classes:
        families.setdefault(r.machines.parse(mc.machine).family.id, []).append(mc)
    # Per family the newest class every QEMU release registers (live-migratable across
    # a mixed fleet); the last versioned family also gets its newest class (past every
    # design gate) and the IOAPIC 0x11 variant. The other versioned families have the
    # same defaults there, so repeating those tables for them would add no verdict.
    common: dict[str, MachineClass] = {}
    newest: dict[str, MachineClass] = {}
    for fam, members in families.items():
        members = sorted(members, key=lambda m: _version(m, rs))
        everywhere = [m for m in members
                      if all(r.qemu.registers(q, r.machines.parse(m.machine)) for q in releases)]
        common[fam] = everywhere[-1] if everywhere else members[-1]
        newest[fam] = members[-1]
    versioned = [f for f in families if r.machines.families[f].versioned]
    migration_machines = list(common.values())
    variant: list[VMClass] = []
    if versioned:
        lead = versioned[-1]
        if newest[lead] != common[lead]:
            migration_machines.insert(migration_machines.index(common[lead]) + 1, newest[lead])
        variant = [VMClass(common[lead], "split", OLD_IOAPIC)]
    configs = _vm_configs(migration_machines, rs)
    migration_vms = _with_guests(configs + variant, guest_list)
    policy_vms = _with_guests(_vm_configs(classes, rs) + variant, guest_list)
    return Space(tuple(kernel_classes(rs)), qemu_list, design_list, policy_vms, migration_vms)


def qemu_groups(rs: RuleSet, space: Space, vmc: VMClass) -> list[tuple[tuple[str, ...], str]]:
    """QEMU releases grouped by the input facts they give this VM class, in release order."""
    r = rs.resolver
    kernel = space.kernels[0]
    groups: dict[tuple, list[str]] = {}
    for q in space.qemus:
        sig = []
        for d in space.designs:
            host = r.host(StackClass(kernel, q, d).spec())
            vm = r.vm(vmc.spec(), host)
            sig.append(tuple(sorted(r.inputs({"h": host}, vm).items())))
        groups.setdefault(tuple(sig), []).append(q)
    return [(tuple(g), label_runs(g, space.qemus)) for g in groups.values()]
