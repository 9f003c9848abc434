"""Turn specs into the input facts of a query, with the rules that justify each.

Precedence for a VM's irqchip and IOAPIC version: explicit spec value, then the
machine type's compat rules, then the family default. For a host: a probed
x2apic-api mask decides the bits it covers; the kernel lineage decides the rest.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import Location, SpecError
from ..memo import ENTRY_BYTES, SizedMemo
from ..record import record, replace
from .catalog import MachineCatalog, MachineType, QemuCatalog
from .language import Assumption, Citation, Design, GuestProfile, QemuRelease
from .lineage import KernelLineage
from .specs import HostSpec, VMSpec

__all__ = ["ResolvedHost", "ResolvedVM", "Resolver", "guest_ioapics"]

# Bytes each memo of rule data per release text or machine type name may hold (seoib.memo):
# a service meeting endless distinct (or very long) texts keeps flat memory.
MEMO_BYTES = 4 << 20
PART_BYTES = 1024  # what one kernel or machine-type part adds besides its key (measured: ~0.9 kB)


def _part_cost(key: str, part: Any) -> int:
    return ENTRY_BYTES + PART_BYTES + len(key)


# A VM's machine part: the type, its notes, inferences, defaults, family citation, compat citations.
MachinePart = tuple[MachineType, tuple[str, ...], tuple[str, ...], dict[str, str], Citation,
                    dict[str, tuple[Citation, ...]]]
# A host's kernel part: capabilities, x2apic-api mask, their facts and citations, why inferred.
KernelPart = tuple[frozenset[str], int, dict[str, Any], dict[str, tuple[Citation, ...]], str | None]


@record
class ResolvedHost:
    """A host spec resolved against the rules: its input facts and the data behind each.

    Built by :meth:`Resolver.host` only; frozen. ``facts`` holds the host's input
    facts by their unprefixed names (a query's inputs prefix them with the role,
    ``src.kernel...``); every fact in ``because`` is cited by the rule data (or the
    probe) that set it. A release past the rules is judged by inference along its
    lineage and said so in ``inferred``: a verdict then carries ``inferred: true``.
    """

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
    inferred: tuple[str, ...] = ()  # what was judged by inference along a lineage, and why

    def as_json(self) -> dict[str, Any]:
        return {"name": self.spec.name, "kernel": self.kernel,
                "x2apic_api": f"{self.x2apic_api:#x}", "x2apic_api_probed": self.mask_probed,
                "qemu": self.qemu_text, "seoib": self.design.id,
                "capabilities": sorted(self.capabilities),
                "x2apic_api_ignored": f"{self.spec.ignored_x2apic_bits:#x}"}

    @property
    def notes(self) -> tuple[str, ...]:
        """What the verdict leaves out of this host: mask bits newer than the rules."""
        bits = self.spec.ignored_x2apic_bits
        if not bits:
            return ()
        who = f"{self.spec.name}: " if self.spec.name else ""
        return (f"{who}x2apic-api={self.x2apic_api | bits:#x}: bits {bits:#x} are newer than "
                f"the rules know and were ignored (judged on {self.x2apic_api:#x})",)


def guest_ioapics(count: int, irqchip: str, ioapic: str) -> tuple[tuple[str, str], ...]:
    """The IOAPICs the guest sees, as (device, version): with kernel-irqchip=on the first is
    KVM's in-kernel IOAPIC, always version 0x11 whatever the machine type or a -global says;
    any further one (microvm's second) and every one otherwise is QEMU's, at ``ioapic``.

    >>> guest_ioapics(1, "on", "0x20"), guest_ioapics(2, "split", "0x20"), guest_ioapics(0, "on", "0x11")
    ((('kvm-ioapic', '0x11'),), (('ioapic', '0x20'), ('ioapic', '0x20')), ())
    """
    userspace = ("ioapic", ioapic)
    first = ("kvm-ioapic", "0x11") if irqchip == "on" else userspace
    return ((first,) + (userspace,) * (count - 1)) if count > 0 else ()


@record
class ResolvedVM:
    """A VM spec resolved against its host and the rules: its input facts and why.

    Built by :meth:`Resolver.vm` against one host, whose QEMU resolves a machine-type
    alias (``q35``) and whose design gives the default policy; nothing else of the host
    is read, so one resolved VM serves every host with the same QEMU and design.
    Frozen; ``facts`` are the VM's and its guest's input facts (``vm.*``, ``guest.*``).
    """

    spec: VMSpec
    machine: MachineType
    requested_machine: str
    irqchip: str
    ioapic: str
    ioapic_global: bool
    x2apic: bool
    guest: GuestProfile
    seoib_policy: str
    facts: dict[str, Any]
    because: dict[str, tuple[Citation, ...]]
    notes: tuple[str, ...] = ()
    inferred: tuple[str, ...] = ()
    ioapics: tuple[tuple[str, str], ...] = ()  # what the guest sees: guest_ioapics()

    def as_json(self) -> dict[str, Any]:
        """The verdict's ``vm``: ``ioapic`` is the version of the (first) IOAPIC the guest
        sees - KVM's 0x11 with kernel-irqchip=on, null on a board without one - and
        ``ioapics`` every IOAPIC it sees; the rules' input fact ``vm.ioapic`` stays the
        version QEMU's userspace IOAPIC is configured with."""
        seen = self.ioapics
        return {"name": self.spec.name, "machine": self.machine.name,
                "requested_machine": self.requested_machine, "irqchip": self.irqchip,
                "ioapic": seen[0][1] if seen else None,
                "ioapic_from": "spec" if self.ioapic_global else "machine",
                "ioapics": [{"device": d, "version": v} for d, v in seen],
                "x2apic": self.x2apic, "guest": self.guest.id, "seoib_policy": self.seoib_policy}


class Resolver:
    """Turns specs into input facts: the catalogs of kernels, QEMU builds, machine types,
    designs and guests that the rule files describe.

    Built once per rule set by ``compile_rules`` and held as ``RuleSet.resolver``; it
    keeps no state between calls, so equal specs resolve to equal results.
    :meth:`inputs` is what a query is evaluated on (and the class key of a verdict is
    made of): the VM's facts, and per role its host's facts plus the facts that depend
    on the VM's machine type (:meth:`machine_facts`).
    """

    def __init__(self, kernels: KernelLineage, qemu: QemuCatalog, machines: MachineCatalog,
                 designs: dict[str, Design], guests: dict[str, GuestProfile],
                 assumptions: dict[str, Assumption] | None = None) -> None:
        self.kernels = kernels
        self.qemu = qemu
        self.machines = machines
        self.designs = designs
        self.guests = guests
        self.assumptions = assumptions or {}  # the named switches (rules/assumptions.yaml)

    def host(self, spec: HostSpec) -> ResolvedHost:
        where = spec.origin
        if spec.x2apic_api is not None:
            known = self._known_mask()
            if spec.x2apic_api & ~known:
                # A kernel newer than the rules answers with more bits: keep what we know.
                spec = replace(spec, x2apic_api=spec.x2apic_api & known,
                               ignored_x2apic_bits=spec.x2apic_api & ~known)
        if spec.x2apic_api is None and spec.kernel is not None:
            # The common case, a release without a probe: its part is rule data alone.
            caps, mask, kernel_facts, kernel_because, why = self._kernel_part(spec.kernel, where)
        else:
            caps, mask, kernel_facts, kernel_because, why = self._host_kernel(spec, where)
        inferred = [why] if why else []
        qemu = self.qemu.resolve(spec.qemu or "", where)
        if self.qemu.is_inferred(qemu):
            inferred.append(qemu.description)
        design_id = spec.seoib or qemu.seoib or "none"
        design = self.designs.get(design_id)
        if design is None:
            raise SpecError(f"seoib={design_id} is not a known design "
                            f"({'|'.join(self.designs)})", where)
        facts = dict(kernel_facts)  # copies: the kernel part is shared by every host of its release
        because = dict(kernel_because)
        facts.update(design.facts)
        for name in design.facts:
            because[name] = (design.citation(), *self._switched(design.switches, name))
        because["qemu.registers_machine"] = (qemu.citation(),)
        for cmd in self.qemu.stream_commands:
            because[f"qemu.stream_{cmd.fact}"] = (qemu.citation(), cmd.citation())
        because["qemu.gate_ok"] = (design.citation(), *self._switched(design.switches, "gate",
                                                                       "unversioned"))
        return ResolvedHost(spec, spec.label(), spec.kernel, mask, spec.x2apic_api is not None,
                            qemu, spec.qemu or "", design, caps, facts, because,
                            frozenset(spec.machines) if spec.machines is not None else None,
                            tuple(inferred))

    def _switched(self, switches: dict[str, str], *names: str) -> tuple[Citation, ...]:
        """The citations of the assumptions behind ``names`` (facts or design fields)."""
        return tuple(self.assumptions[switches[n]].citation() for n in names if n in switches)

    def _known_mask(self) -> int:
        """Every x2apic-api bit the rules know (rule data: computed once)."""
        known: int | None = self.__dict__.get("_known")
        if known is None:
            known = 0
            for bit in self.kernels.mask_covers().values():
                known |= bit
            self.__dict__["_known"] = known
        return known

    def _kernel_part(self, kernel: str, where: Location | None) -> KernelPart:
        """:meth:`_host_kernel` of a release without a probed mask, once per release text.

        Like the lineage's own memo of resolutions, a pure function of the rule data
        (kept beside the resolver, never in the rules cache); a release the rules refuse
        raises each time and is not kept. Callers copy the dicts.
        """
        return self._remember("_kernel_parts", kernel,
                              lambda: self._host_kernel(HostSpec(kernel=kernel), where))

    def _remember(self, memo_name: str, key: str, make: Any) -> Any:
        """``make()`` once per key in the memo named ``memo_name``, kept beside the resolver's
        fields (a resolver read from the rules cache has none until first asked). The memo
        holds at most MEMO_BYTES (:class:`seoib.memo.SizedMemo`): a service meeting endless
        distinct releases or type names keeps flat memory."""
        memo: SizedMemo[str, Any] | None = self.__dict__.get(memo_name)
        if memo is None:
            memo = self.__dict__[memo_name] = SizedMemo(MEMO_BYTES, _part_cost)
        hit = memo.get(key)
        if hit is None:
            hit = memo.put(key, make())
        return hit

    def _host_kernel(self, spec: HostSpec, where: Location | None) -> KernelPart:
        """The kernel's part of a host: its capabilities and x2apic-api mask, their facts
        and the citations behind each, and why the release was inferred (or None)."""
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
        why = res.inferred if res is not None and spec.x2apic_api is None else None
        scheme = None
        if res is not None:
            caps |= res.capabilities
            for ch in res.because:
                for c in ch.capabilities:
                    cap_because.setdefault(c, []).append(ch.citation())
            changes = []
            if res.scheme is not None and spec.x2apic_api is None:
                scheme = res.scheme.citation()  # how the vendor's release was read
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
        facts: dict[str, Any] = {}
        because: dict[str, tuple[Citation, ...]] = {}
        for cap in self.kernels.capabilities.values():
            facts[cap.fact] = cap.id in caps
            cited = cap_because.get(cap.id) or changes
            if not cited:  # built only when cited: most capabilities have a change behind them
                lineage = f"{os.path.basename(self.kernels.source)} lineage"
                cited = [Citation(f"kernel.{spec.kernel}", f"kernel {spec.kernel}: no release, "
                                  f"backport or build in its lineage brings {cap.id}",
                                  lineage, cap.location)]
            because[cap.fact] = (*cited, scheme) if scheme is not None else tuple(cited)
        return frozenset(caps), mask, facts, because, why

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
        machine, machine_notes, inferred, defaults, family, by_compat = self._machine_part(name, where)
        notes += machine_notes
        def given(key: str, value: object) -> tuple[Citation, ...]:
            return (Citation("spec", f"{key}={value} given in the VM spec", "VM spec"),)
        irqchip = spec.irqchip or defaults["irqchip"]
        ioapic = spec.ioapic or defaults["ioapic"]
        if irqchip == "on" and spec.ioapic is not None:
            notes.append(f"ioapic={spec.ioapic} (-global ioapic.version) sets QEMU's userspace "
                         "IOAPIC only; with kernel-irqchip=on the guest has KVM's in-kernel "
                         "IOAPIC, version 0x11")
        guest_id = spec.guest or "any"
        guest = self.guests.get(guest_id)
        if guest is None:
            raise SpecError(f"guest={guest_id} is not a known profile "
                            f"({'|'.join(self.guests)})", where)
        # A board without a local APIC (isapc's default CPU) shows the guest no x2APIC.
        x2apic = machine.family.apic if spec.x2apic is None else spec.x2apic
        policy = spec.seoib_policy or host.design.default_policy
        # A board that creates no IOAPIC (isapc) routes its lines to the 8259 PIC only;
        # vm.ioapic keeps the family's value for what a selection's lookup would read.
        has_ioapic = self.machines.ioapics.get(machine.family.id, 1) > 0
        facts: dict[str, Any] = {
            "vm.irqchip": irqchip, "vm.ioapic": ioapic, "vm.ioapic_global": spec.ioapic is not None,
            "vm.has_ioapic": has_ioapic,
            "vm.x2apic": x2apic, "vm.seoib_policy": policy,
            "vm.seoib_policy_given": spec.seoib_policy is not None, **guest.facts}
        def origin(key: str, explicit: object) -> tuple[Citation, ...]:
            return given(key, explicit) if explicit is not None else by_compat[key]

        because = {"vm.irqchip": origin("irqchip", spec.irqchip),
                   "vm.ioapic": origin("ioapic", spec.ioapic),
                   "vm.ioapic_global": origin("ioapic", spec.ioapic),
                   "vm.has_ioapic": () if has_ioapic else (family,),
                   "vm.x2apic": given("x2apic", "on" if x2apic else "off")
                   if spec.x2apic is not None else () if machine.family.apic else (family,),
                   "vm.seoib_policy": given("seoib-policy", policy) if spec.seoib_policy else
                   self._switched(host.design.switches, "default_policy"),
                   "vm.seoib_policy_given": given("seoib-policy", policy) if spec.seoib_policy
                   else (),
                   **{k: (guest.citation(), *self._switched(guest.switches, k)) for k in guest.facts}}
        if machine.downstream is not None:
            for key in ("vm.irqchip", "vm.ioapic"):
                because[key] = (*because[key], machine.downstream.citation())
        self._hold(spec, machine, irqchip)
        seen = guest_ioapics(self.machines.ioapics.get(machine.family.id, 1), irqchip, ioapic)
        return ResolvedVM(spec, machine, requested, irqchip, ioapic, spec.ioapic is not None,
                          x2apic, guest, policy, facts, because, tuple(notes), inferred, seen)

    def _hold(self, spec: VMSpec, machine: MachineType, irqchip: str) -> None:
        """Refuse a VM that QEMU would not start (a command line's requirements)."""
        for what, allowed, refusal, where in spec.requires:
            if what == "irqchip" and irqchip not in allowed:
                why = "" if spec.irqchip else f", the default of {machine.name}"
                raise SpecError(f"{refusal} (kernel-irqchip={irqchip}{why})", where or spec.origin)
            takes = self.machines.sysbus_devices.get(machine.family.id, ())
            if what == "device" and not set(allowed) <= set(takes):
                boards = [f for f, devs in self.machines.sysbus_devices.items() if set(allowed) <= set(devs)]
                raise SpecError(f"{refusal} ({machine.name} is a {machine.family.id} machine; "
                                f"{', '.join(allowed)} needs {' or '.join(boards) or 'another board'})",
                                where or spec.origin)

    def _machine_part(self, name: str, where: Location | None) -> MachinePart:
        """What a VM's machine type alone decides, once per type name (rule data only, like
        :meth:`_kernel_part`): the type, its notes and inferences, its compat-resolved
        defaults, its family's citation and, per key, the citations behind a default."""
        return self._remember("_machine_parts", name, lambda: self._machine_of(name, where))

    def _machine_of(self, name: str, where: Location | None) -> MachinePart:
        machine = self.machines.parse(name, where)
        notes: list[str] = []
        inferred = self._machine_notes(machine, notes)
        defaults, compat = self.machines.defaults(machine)
        family = Citation(f"machine.{machine.family.id}", f"{machine.family.id} defaults: "
                          f"irqchip {machine.family.defaults['irqchip']}, IOAPIC "
                          f"{machine.family.defaults['ioapic']}", machine.family.source,
                          machine.family.location)
        rules = self._compat_for(machine)
        by_compat = {key: tuple(c for c, rule in zip(compat, rules, strict=True)
                                if key in rule.set) or (family,)
                     for key in ("irqchip", "ioapic")}
        return (machine, tuple(notes), inferred, defaults, family, by_compat)

    def _machine_notes(self, machine: MachineType, notes: list[str]) -> tuple[str, ...]:
        """Notes for downstream, family and inferred machine types; the inferred ones."""
        d = machine.downstream
        if d is not None:
            mark = "" if d.confirmed else " (mapping unconfirmed)"
            notes.append(f"{machine.name} is a {d.id} machine type following upstream "
                         f"{machine.follows}{mark}: judged with its IOAPIC and irqchip defaults, "
                         f"and taken as registered wherever {machine.follows} is")
        note = self.machines.notes.get(machine.family.id)
        if note is not None:
            notes.append(note[0] + ("" if note[1] else " (unconfirmed)"))
        if machine.inferred:
            return (f"{machine.follows or machine.name} is newer than every machine version in "
                    f"the rules: judged as a {machine.family.id} type with that family's newest "
                    f"compat values",)
        return ()

    def _compat_for(self, machine: MachineType) -> list[Any]:
        return [c for c in self.machines.compat if c.applies(machine.family.id, machine.version)]

    def machine_facts(self, host: ResolvedHost, vm: ResolvedVM) -> dict[str, Any]:
        """Host facts that depend on the VM's machine type."""
        if host.machines is not None:
            registered = vm.machine.name in host.machines
        else:
            registered = self.qemu.registers(host.qemu, vm.machine)
        return {"qemu.registers_machine": registered, "qemu.gate_ok": self.gate_ok(host, vm),
                **self.qemu.stream_facts(host.qemu, vm.machine)}

    @staticmethod
    def gate_ok(host: ResolvedHost, vm: ResolvedVM) -> bool:
        """Whether the machine type passes the design's gate.

        A gate is a compat property (QEMU's convention): every versioned type from the
        gate on passes in every build from the gate's release on, and a build older than
        the gate has the property for no type at all. Unversioned types (microvm) follow
        the machine class default: they pass where the design says ``unversioned``.
        (``gate: build``, the build's own newest type, is kept for rule sets that say so.)
        """
        design = host.design
        gate = host.qemu.machines_max if design.gate_from_build else design.gate
        if gate is None and not design.gate_from_build:
            return True
        if gate is not None and not design.gate_from_build and \
                host.qemu.version.parts[:2] < gate.parts[:2]:
            return False
        if vm.machine.version is None:
            return design.unversioned
        return gate is not None and vm.machine.version.parts >= gate.parts

    def inputs(self, hosts: dict[str, ResolvedHost], vm: ResolvedVM) -> dict[str, Any]:
        """Input facts of a query whose host roles are ``hosts``."""
        facts = dict(vm.facts)
        for role, host in hosts.items():
            for k, v in host.facts.items():
                facts[f"{role}.{k}"] = v
            for k, v in self.machine_facts(host, vm).items():
                facts[f"{role}.{k}"] = v
        return facts

