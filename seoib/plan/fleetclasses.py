"""Hosts and VMs collapsed into the classes the rules can tell apart, with memoized verdicts.

Two hosts whose resolved facts, QEMU release and probed machine list agree are
one class; two VMs with the same machine type and resolved facts, booted on the
same host class, are one class. Verdicts are cached by class pair and, below
that, in an ``seoib.query.verdict_cache.VerdictCache`` by the query's class (the key
every verdict memo uses), so a fleet of a million VMs costs what its few dozen
classes cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from ..errors import Location
from ..query.verdict_cache import HostPart, VerdictCache, class_key
from ..query.verdict_types import DisagreementRecord
from ..query.verdicts import migrate_verdict, policy_verdict
from ..rules.resolve import ResolvedHost, ResolvedVM
from ..rules.ruleset import RuleSet
from ..rules.specs import VMSpec, parse_host_spec

__all__ = ["BootedVMClass", "FleetClasses", "HostClass", "host_label", "spec_content"]


@dataclass(frozen=True, eq=False)  # one object per class: identity is equality
class HostClass:
    id: int
    host: ResolvedHost
    label: str


@dataclass(frozen=True, eq=False)
class BootedVMClass:
    id: int
    vm: ResolvedVM
    boot: HostClass  # where it was cold-booted: that decides its SEOIB state for good


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


# A VM spec's content: every field but the name and where it was written.
spec_content = attrgetter(*(f.name for f in fields(VMSpec) if f.name not in ("name", "origin")))


def host_label(h: ResolvedHost) -> str:
    """A stack as a person names it: its own kernel (or probed mask), QEMU and design."""
    kernel = h.kernel or f"x2apic-api {h.x2apic_api:#x}"
    probed = f" (x2apic-api {h.x2apic_api:#x})" if h.mask_probed and h.kernel else ""
    return f"kernel {kernel}{probed}, QEMU {h.qemu_text} ({h.design.id})"


@dataclass
class FleetClasses:
    """Class registry and verdict cache for one rule set."""

    rs: RuleSet
    validate: bool = True
    hosts: list[HostClass] = field(default_factory=list)
    _by_spec: dict[tuple, HostClass] = field(default_factory=dict)
    _by_facts: dict[tuple, HostClass] = field(default_factory=dict)
    _labels: dict[tuple, str] = field(default_factory=dict)
    _vms: dict[tuple, BootedVMClass] = field(default_factory=dict)
    _vm_keys: dict[tuple, BootedVMClass] = field(default_factory=dict)
    _pairs: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    cache: VerdictCache = field(default_factory=VerdictCache)

    @property
    def validated(self) -> int:
        return self.cache.validated

    @property
    def disagreements(self) -> list[DisagreementRecord]:
        return self.cache.disagreements

    def host_class(self, spec: Mapping[str, Any], where: Location) -> HostClass:
        skey = tuple(sorted((k, _freeze(v)) for k, v in spec.items()))
        hit = self._by_spec.get(skey)
        if hit is not None:
            return hit
        host = self.rs.resolver.host(parse_host_spec(spec, where))
        # Hosts merged by capability keep their own names, not the first kernel seen.
        self._labels[skey] = host_label(host)
        # Facts alone miss what depends on the QEMU build: machine registration and aliases.
        fkey = (tuple(sorted(host.facts.items())), host.qemu.id, host.machines)
        hc = self._by_facts.get(fkey)
        if hc is None:
            hc = HostClass(len(self.hosts), host, host_label(host))
            self.hosts.append(hc)
            self._by_facts[fkey] = hc
        self._by_spec[skey] = hc
        return hc

    def label(self, spec: Mapping[str, Any], where: Location) -> str:
        """The stack of ``spec`` labelled by its own versions, not its class's first member."""
        self.host_class(spec, where)
        return self._labels[tuple(sorted((k, _freeze(v)) for k, v in spec.items()))]

    def vm_class(self, spec: VMSpec, boot: HostClass) -> BootedVMClass:
        # A VM's name and line decide nothing the resolver derives (only where an error
        # points, and the first spec of its content raises first): one resolution per
        # content, however many VM entries share it.
        key = (spec_content(spec), boot.id)
        hit = self._vms.get(key)
        if hit is not None:
            return hit
        # Aliases resolve where the VM boots: q35 on a newer QEMU is a newer machine type.
        vm = self.rs.resolver.vm(spec, boot.host)
        vkey = (vm.machine.name, tuple(sorted(vm.facts.items())), vm.guest.id, boot.id)
        vmc = self._vm_keys.get(vkey)
        if vmc is None:
            vmc = self._vm_keys[vkey] = BootedVMClass(len(self._vm_keys), vm, boot)
        self._vms[key] = vmc
        return vmc

    def registers(self, host: HostClass, vmc: BootedVMClass) -> bool:
        return bool(self.rs.resolver.machine_facts(host.host, vmc.vm)["qemu.registers_machine"])

    def boot(self, vmc: BootedVMClass) -> dict[str, Any]:
        """The power-on verdict of a VM class on its boot host."""
        pair = ("policy", vmc.id)
        hit = self._pairs.get(pair)
        if hit is None:
            host, vm = vmc.boot.host, vmc.vm
            key = class_key("policy", self.cache.vm_part(vm), self._host_part(host, vm))
            hit = self.cache.get(key)
            if hit is None:
                hit = self.cache.add(key, policy_verdict(self.rs, host, vm, witness=self.validate))
            self._pairs[pair] = hit
        return hit

    def migrate(self, vmc: BootedVMClass, dst: HostClass) -> dict[str, Any]:
        """Live migration of a VM class, wherever it runs now, to ``dst``.

        The source is the boot host: a VM keeps the SEOIB state it got at power-on
        across migrations (quirked stays quirked, a sent section restores the rest),
        so a chain of completed migrations ends where a direct one from boot would.
        """
        return self._moved("migrate", vmc, dst)

    def snapshot(self, vmc: BootedVMClass, dst: HostClass) -> dict[str, Any]:
        """A loadvm of a snapshot taken on the VM's boot stack into a VM cold-booted on ``dst``
        (``seoib migrate --snapshot``)."""
        return self._moved("snapshot", vmc, dst)

    def _moved(self, kind: str, vmc: BootedVMClass, dst: HostClass) -> dict[str, Any]:
        pair = (kind, vmc.id, dst.id)
        hit = self._pairs.get(pair)
        if hit is None:
            src, vm = vmc.boot.host, vmc.vm
            key = class_key(kind, self.cache.vm_part(vm), self._host_part(src, vm),
                            self._host_part(dst.host, vm))
            hit = self.cache.get(key)
            if hit is None:
                hit = self.cache.add(key, migrate_verdict(
                    self.rs, src, dst.host, vm, snapshot=kind == "snapshot", witness=self.validate))
            self._pairs[pair] = hit
        return hit

    def _host_part(self, host: ResolvedHost, vm: ResolvedVM) -> HostPart:
        return self.cache.host_part(host, self.rs.resolver.machine_facts(host, vm))

    def evaluations(self) -> int:
        return len(self.cache)

    def vm_classes(self) -> int:
        return len(self._vm_keys)
