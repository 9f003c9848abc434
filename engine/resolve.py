"""Turn specs into the input facts of a query, with the rules that justify each.

Precedence for a VM's irqchip and IOAPIC version: explicit spec value, then the
machine type's compat rules, then the family default. For a host: a probed
x2apic-api mask decides the bits it covers; the kernel lineage decides the rest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .catalog import Machine, MachineCatalog, QemuCatalog
from .errors import SpecError
from .lineage import KernelLineage
from .model import Citation, Design, Guest, QemuRelease
from .specs import HostSpec, VMSpec

__all__ = ["ResolvedHost", "ResolvedVM", "Resolver"]


@dataclass(frozen=True)
class ResolvedHost:
    spec: HostSpec
    label: str
    kernel: str | None
    x2apic_api: int  # probed, or inferred from the kernel's capabilities
    mask_probed: bool
    qemu: QemuRelease
    qemu_text: str
    design: Design
    capabilities: frozenset[str]
    facts: dict[str, Any]
    because: dict[str, tuple[Citation, ...]]  # input fact -> the rule data behind it
    machines: frozenset[str] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.spec.name, "kernel": self.kernel,
                "x2apic_api": f"{self.x2apic_api:#x}", "x2apic_api_probed": self.mask_probed,
                "qemu": self.qemu_text, "seoib": self.design.id,
                "capabilities": sorted(self.capabilities)}


@dataclass(frozen=True)
class ResolvedVM:
    spec: VMSpec
    machine: Machine
    requested_machine: str
    irqchip: str
    ioapic: str
    ioapic_global: bool
    x2apic: bool
    guest: Guest
    seoib_policy: str
    facts: dict[str, Any]
    because: dict[str, tuple[Citation, ...]]
    notes: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {"name": self.spec.name, "machine": self.machine.name,
                "requested_machine": self.requested_machine, "irqchip": self.irqchip,
                "ioapic": self.ioapic, "ioapic_from": "spec" if self.ioapic_global else "machine",
                "x2apic": self.x2apic, "guest": self.guest.id, "seoib_policy": self.seoib_policy}


class Resolver:
    def __init__(self, kernels: KernelLineage, qemu: QemuCatalog, machines: MachineCatalog,
                 designs: dict[str, Design], guests: dict[str, Guest]) -> None:
        self.kernels = kernels
        self.qemu = qemu
        self.machines = machines
        self.designs = designs
        self.guests = guests

    def host(self, spec: HostSpec) -> ResolvedHost:
        where = spec.origin
        caps: set[str] = set()
        changes: list[Citation] = []
        cap_because: dict[str, list[Citation]] = {}
        res = None
        if spec.kernel is not None:
            try:
                res = self.kernels.resolve(spec.kernel, where)
            except SpecError:
                # A probed mask makes the release informational: a distribution
                # build the rules do not know must not block the verdict.
                if spec.x2apic_api is None:
                    raise
        if res is not None:
            caps |= res.capabilities
            for ch in res.because:
                for c in ch.capabilities:
                    cap_because.setdefault(c, []).append(ch.citation())
            changes = []
        if spec.x2apic_api is not None:
            covered = {c for c, m in self.kernels.mask_covers().items() if m}
            proven = self.kernels.capabilities_from_mask(spec.x2apic_api)
            caps = (caps - covered) | proven
            probe = Citation("probe.x2apic-api", "probed KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) = "
                             f"{spec.x2apic_api:#x}", "host probe (overrides version inference)")
            for c in covered | proven:
                cap_because[c] = [probe]
            changes = [probe]
        mask = spec.x2apic_api
        if mask is None:
            mask = 0
            for c in caps:
                mask |= self.kernels.capabilities[c].mask
        qemu = self.qemu.resolve(spec.qemu or "", where)
        design_id = spec.seoib or qemu.seoib or "none"
        design = self.designs.get(design_id)
        if design is None:
            raise SpecError(f"seoib={design_id} is not a known design "
                            f"({'|'.join(self.designs)})", where)
        facts: dict[str, Any] = {}
        because: dict[str, tuple[Citation, ...]] = {}
        lineage = f"{os.path.basename(self.kernels.source)} lineage"
        for cap in self.kernels.capabilities.values():
            facts[cap.fact] = cap.id in caps
            absent = Citation(f"kernel.{spec.kernel}", f"kernel {spec.kernel}: no release, "
                              f"backport or build in its lineage brings {cap.id}",
                              lineage, cap.location)
            because[cap.fact] = tuple(cap_because.get(cap.id) or changes or [absent])
        facts.update(design.facts)
        for name in design.facts:
            because[name] = (design.citation(),)
        because["qemu.registers_machine"] = (qemu.citation(),)
        because["qemu.gate_ok"] = (design.citation(),)
        return ResolvedHost(spec, spec.label(), spec.kernel, mask, spec.x2apic_api is not None,
                            qemu, spec.qemu or "", design, frozenset(caps), facts, because,
                            frozenset(spec.machines) if spec.machines is not None else None)

    def vm(self, spec: VMSpec, host: ResolvedHost) -> ResolvedVM:
        where = spec.origin
        requested = spec.machine or ""
        notes = list(spec.notes)
        name = requested
        if requested in self.machines.aliases:
            target = self.qemu.alias_target(host.qemu, requested)
            if target is None:
                raise SpecError(f"alias {requested!r} has no target on QEMU {host.qemu_text}", where)
            name = target
            notes.append(f"alias {requested} resolves to {target} on QEMU {host.qemu_text}; an "
                         f"alias floats to a newer machine type when QEMU is upgraded")
        machine = self.machines.parse(name, where)
        defaults, compat = self.machines.defaults(machine)
        family = Citation(f"machine.{machine.family.id}", f"{machine.family.id} defaults: "
                          f"irqchip {machine.family.defaults['irqchip']}, IOAPIC "
                          f"{machine.family.defaults['ioapic']}", machine.family.source,
                          machine.family.location)
        def given(key: str, value: object) -> tuple[Citation, ...]:
            return (Citation("spec", f"{key}={value} given in the VM spec", "VM spec"),)
        irqchip = spec.irqchip or defaults["irqchip"]
        ioapic = spec.ioapic or defaults["ioapic"]
        guest_id = spec.guest or "any"
        guest = self.guests.get(guest_id)
        if guest is None:
            raise SpecError(f"guest={guest_id} is not a known profile "
                            f"({'|'.join(self.guests)})", where)
        x2apic = True if spec.x2apic is None else spec.x2apic
        policy = spec.seoib_policy or host.design.default_policy
        facts: dict[str, Any] = {
            "vm.irqchip": irqchip, "vm.ioapic": ioapic, "vm.ioapic_global": spec.ioapic is not None,
            "vm.x2apic": x2apic, "vm.seoib_policy": policy, **guest.facts}
        def origin(key: str, explicit: object) -> tuple[Citation, ...]:
            if explicit is not None:
                return given(key, explicit)
            rules = self._compat_for(machine)
            hits = tuple(c for c, rule in zip(compat, rules, strict=True) if key in rule.set)
            return hits or (family,)

        because = {"vm.irqchip": origin("irqchip", spec.irqchip),
                   "vm.ioapic": origin("ioapic", spec.ioapic),
                   "vm.ioapic_global": origin("ioapic", spec.ioapic),
                   "vm.x2apic": given("x2apic", "on" if x2apic else "off")
                   if spec.x2apic is not None else (),
                   "vm.seoib_policy": given("seoib-policy", policy) if spec.seoib_policy else (),
                   **{k: (guest.citation(),) for k in guest.facts}}
        return ResolvedVM(spec, machine, requested, irqchip, ioapic, spec.ioapic is not None,
                          x2apic, guest, policy, facts, because, tuple(notes))

    def _compat_for(self, machine: Machine) -> list[Any]:
        return [c for c in self.machines.compat if c.applies(machine.family.id, machine.version)]

    def machine_facts(self, host: ResolvedHost, vm: ResolvedVM) -> dict[str, Any]:
        """Host facts that depend on the VM's machine type."""
        if host.machines is not None:
            registered = vm.machine.name in host.machines
        else:
            registered = self.qemu.registers(host.qemu, vm.machine)
        gate = host.design.gate
        gate_ok = gate is None or (vm.machine.version is not None
                                   and vm.machine.version.parts >= gate.parts)
        return {"qemu.registers_machine": registered, "qemu.gate_ok": gate_ok}

    def inputs(self, hosts: dict[str, ResolvedHost], vm: ResolvedVM) -> dict[str, Any]:
        """Input facts of a query whose host roles are ``hosts``."""
        facts = dict(vm.facts)
        for role, host in hosts.items():
            for k, v in host.facts.items():
                facts[f"{role}.{k}"] = v
            for k, v in self.machine_facts(host, vm).items():
                facts[f"{role}.{k}"] = v
        return facts

