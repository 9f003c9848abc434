"""Equivalence classes of host stacks and VM configurations, and memoized verdicts.

Releases the rules cannot tell apart collapse into one class: two kernels with
the same input facts, two machine types with the same compat values, QEMU
registration and gate results. Cost then grows with classes, not with fleet
size or the number of releases listed. Each class is labelled by the version
ranges it covers, and carries a representative spec that resolves to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..errors import Location
from ..rules.resolve import ResolvedHost, ResolvedVM
from ..rules.ruleset import RuleSet
from ..rules.specs import HostSpec, VMSpec
from ..rules.versions import Release, parse_release
from .verdict_cache import HostPart, VerdictCache, VMPart, class_key
from .verdict_types import DisagreementRecord
from .verdicts import migrate_verdict, policy_verdict

__all__ = [
    "ClassSolver",
    "KernelClass",
    "MachineClass",
    "SpaceTally",
    "StackClass",
    "VMClass",
    "kernel_classes",
    "label_runs",
    "machine_classes",
    "stack_classes",
    "validate_space",
    "vm_classes",
]


@dataclass(frozen=True)
class KernelClass:
    label: str  # e.g. "6.18.17+ (6.18.y), 6.19.7+ (6.19.y), 7.0"
    release: str  # a representative release
    facts: tuple[tuple[str, Any], ...]
    members: tuple[str, ...]


@dataclass(frozen=True)
class StackClass:
    kernel: KernelClass
    qemu: str  # a QEMU feature release or build version from rules/qemu.yaml
    design: str

    # Labels and keys are dictionary keys on hot paths: compute them once.
    @cached_property
    def label(self) -> str:
        return f"kernel {self.kernel.label} | QEMU {self.qemu} | {self.design}"

    @cached_property
    def key(self) -> str:
        return f"k:{self.kernel.release}|q:{self.qemu}|d:{self.design}"

    def spec(self) -> HostSpec:
        return HostSpec(kernel=self.kernel.release, qemu=self.qemu, seoib=self.design,
                        origin=Location(f"class {self.key}"))


@dataclass(frozen=True)
class MachineClass:
    label: str  # e.g. "pc-q35-5.1..9.2"
    machine: str  # representative concrete machine type
    members: tuple[str, ...]


@dataclass(frozen=True)
class VMClass:
    machine: MachineClass
    irqchip: str | None = None  # None: the machine type's default
    ioapic: str | None = None
    x2apic: bool = True
    guest: str = "any"
    seoib_policy: str | None = None

    @cached_property
    def label(self) -> str:
        parts = [self.machine.label]
        parts.append(f"irqchip={self.irqchip}" if self.irqchip else "irqchip=default")
        if self.ioapic:
            parts.append(f"ioapic={self.ioapic}")
        if not self.x2apic:
            parts.append("x2apic=off")
        parts.append(f"guest={self.guest}")
        if self.seoib_policy:
            parts.append(f"seoib-policy={self.seoib_policy}")
        return ",".join(parts)

    def spec(self) -> VMSpec:
        return VMSpec(machine=self.machine.machine, irqchip=self.irqchip, ioapic=self.ioapic,
                      x2apic=self.x2apic, guest=self.guest, seoib_policy=self.seoib_policy,
                      origin=Location(f"class {self.label}"))


def _ranges(members: Sequence[str]) -> str:
    """Label consecutive runs of mainline releases as ranges: 4.8..6.17."""
    return f"{members[0]}..{members[-1]}" if len(members) > 1 else members[0]


def kernel_classes(rs: RuleSet) -> list[KernelClass]:
    """Kernel releases grouped by the input facts they give, in lineage order.

    Each mainline release is one point; each stable backport splits its series
    into "before" (X.Y.0..since-1) and "from" (since+) points.
    """
    lineage = rs.kernels
    points: list[tuple[str, str, str]] = []  # (label piece, representative, group key)
    for series in lineage.mainline:
        rel = parse_release(series)
        assert rel is not None
        cuts = lineage.known_points(rel.series)
        if not cuts:
            points.append((series, series, series))
            continue
        prev = f"{series}.0"
        for since in cuts:
            last = Release((*since.parts[:2], since.parts[2] - 1))
            points.append((f"{prev}..{last}" if prev != str(last) else prev, prev, series))
            prev = str(since)
        points.append((f"{prev}+", prev, series))
    groups: dict[tuple, list[tuple[str, str]]] = {}
    for piece, release, _ in points:
        facts = tuple(sorted(rs.resolver.host(HostSpec(kernel=release, qemu=_any_qemu(rs)))
                             .facts.items()))
        kernel_facts = tuple((k, v) for k, v in facts if k.startswith("kernel."))
        groups.setdefault(kernel_facts, []).append((piece, release))
    out = []
    for facts, members in groups.items():
        mainline_run = [p for p, _ in members if "." in p and ".." not in p and "+" not in p
                        and p.count(".") == 1]
        others = [p for p, _ in members if p not in mainline_run]
        label_parts = []
        if mainline_run:
            label_parts.append(_ranges(mainline_run))
        label_parts += others
        out.append(KernelClass(", ".join(label_parts), members[-1][1], facts,
                               tuple(p for p, _ in members)))
    return out


def _any_qemu(rs: RuleSet) -> str:
    return str(next(iter(rs.resolver.qemu.releases.values())).version)


def machine_classes(rs: RuleSet, qemus: Iterable[str] | None = None) -> list[MachineClass]:
    """Machine types grouped by compat values, QEMU registration and design gates."""
    r = rs.resolver
    qemu_list = [r.qemu.resolve(q) for q in (qemus or [str(x.version) for x in
                                                       r.qemu.releases.values()])]
    gates = sorted({d.gate.parts for d in r.designs.values() if d.gate is not None}
                   | ({q.machines_max.parts for q in qemu_list if q.machines_max is not None}
                      if any(d.gate_from_build for d in r.designs.values()) else set()))
    names: list[str] = []
    for fam in r.machines.families.values():
        if not fam.versioned:
            names.append(fam.id)
            continue
        for parts, fams in sorted(r.machines.versions.items()):
            if fams is None or fam.id in fams:
                names.append(f"{fam.id}-{'.'.join(map(str, parts))}")
    groups: dict[tuple, list[str]] = {}
    for name in names:
        machine = r.machines.parse(name)
        if not any(r.qemu.registers(q, machine) for q in qemu_list):
            continue  # no QEMU in scope runs it: nothing to compare
        defaults, _ = r.machines.defaults(machine)
        sig = (machine.family.id, tuple(sorted(defaults.items())),
               tuple(r.qemu.registers(q, machine) for q in qemu_list),
               tuple(machine.version is not None and machine.version.parts >= g for g in gates))
        groups.setdefault(sig, []).append(name)
    out = []
    for members in groups.values():
        out.append(MachineClass(label_runs(members, names, _version_of), members[-1],
                                tuple(members)))
    return out


def label_runs(items: Iterable[str], order: Sequence[str],
               short: Callable[[str], str] = lambda x: x) -> str:
    """Label a subset of an ordered list by its runs: ``10.0..10.2, 11.0``.

    ``short`` trims every name after the first (``pc-q35-4.0.1`` -> ``4.0.1``).
    """
    index = {x: i for i, x in enumerate(order)}
    runs: list[list[str]] = []
    for x in sorted(items, key=index.__getitem__):
        if runs and index[runs[-1][-1]] + 1 == index[x]:
            runs[-1].append(x)
        else:
            runs.append([x])
    labels = []
    for i, run in enumerate(runs):
        first = run[0] if i == 0 else short(run[0])
        labels.append(first if len(run) == 1 else f"{first}..{short(run[-1])}")
    return ", ".join(labels)


def _version_of(name: str) -> str:
    return name.rsplit("-", 1)[-1]


def stack_classes(rs: RuleSet, *, qemus: Iterable[str] | None = None,
                  designs: Iterable[str] | None = None) -> list[StackClass]:
    r = rs.resolver
    qemu_list = list(qemus or [str(x.version) for x in r.qemu.releases.values()])
    design_list = list(designs or r.designs)
    return [StackClass(k, q, d) for k in kernel_classes(rs) for q in qemu_list
            for d in design_list]


def vm_classes(rs: RuleSet, *, machines: Iterable[MachineClass] | None = None,
               guests: Iterable[str] | None = None, irqchips: Sequence[str | None] = (None, "split"),
               ioapics: Sequence[str | None] = (None, "0x11"), x2apic: Sequence[bool] = (True,),
               policies: Sequence[str | None] = (None,)) -> list[VMClass]:
    ms = list(machines or machine_classes(rs))
    gs = list(guests or rs.resolver.guests)
    return [VMClass(m, i, a, x, g, p) for m in ms for i in irqchips for a in ioapics
            for x in x2apic for g in gs for p in policies]


_Sig = tuple[VMPart, HostPart, tuple]  # see ClassSolver._sig


@dataclass
class ClassSolver:
    """Memoized, simulator-validated verdicts over classes.

    Verdicts are cached by the query's input facts, so every class pair that the
    rules cannot tell apart is evaluated (and simulated) once.
    """

    rs: RuleSet
    validate: bool = True
    _hosts: dict[str, ResolvedHost] = field(default_factory=dict)
    _vms: dict[tuple[str, str], ResolvedVM] = field(default_factory=dict)
    cache: VerdictCache = field(default_factory=VerdictCache)
    _sigs: dict[tuple[str, str, str], _Sig] = field(default_factory=dict)

    @property
    def validated(self) -> int:
        return self.cache.validated

    @property
    def disagreements(self) -> list[DisagreementRecord]:
        return self.cache.disagreements

    def host(self, stack: StackClass) -> ResolvedHost:
        h = self._hosts.get(stack.key)
        if h is None:
            h = self._hosts[stack.key] = self.rs.resolver.host(stack.spec())
        return h

    def vm(self, vmc: VMClass, stack: StackClass) -> ResolvedVM:
        # A VM reads its host's QEMU (aliases) and design's default policy, which may come
        # from a switch (rules/assumptions.yaml) that the VM's reasons then cite.
        design = self.host(stack).design
        key = (vmc.label, stack.qemu, design.default_policy, design.switches.get("default_policy"))
        v = self._vms.get(key)
        if v is None:
            v = self._vms[key] = self.rs.resolver.vm(vmc.spec(), self.host(stack))
        return v

    def _sig(self, stack: StackClass, vmc: VMClass, vm_on: StackClass) -> _Sig:
        """The VM's part of a query's class key, what the host adds to it, and (meaningful
        when ``stack`` is ``vm_on``) the whole policy key: built once, read per cell."""
        key = (stack.key, vmc.label, vm_on.qemu)
        sig = self._sigs.get(key)
        if sig is None:
            host, vm = self.host(stack), self.vm(vmc, vm_on)
            cache = self.cache
            vm_part = cache.vm_part(vm)
            host_part = cache.host_part(host, self.rs.resolver.machine_facts(host, vm))
            sig = self._sigs[key] = (vm_part, host_part, class_key("policy", vm_part, host_part))
        return sig

    def policy(self, stack: StackClass, vmc: VMClass) -> dict[str, Any]:
        key = self._sig(stack, vmc, stack)[2]
        hit = self.cache.get(key)
        if hit is None:
            host, vm = self.host(stack), self.vm(vmc, stack)
            hit = self.cache.add(key, policy_verdict(self.rs, host, vm, witness=self.validate))
        return hit

    def migrate(self, src: StackClass, dst: StackClass, vmc: VMClass,
                *, snapshot: bool = False) -> dict[str, Any]:
        # The VM's machine type is fixed on the source (aliases resolve there). The key is
        # class_key's shape, built inline: this is the hot path of a class-space sweep.
        vm_part, src_part, _ = self._sig(src, vmc, src)
        key = ("snapshot" if snapshot else "migrate", vm_part, src_part, self._sig(dst, vmc, src)[1])
        hit = self.cache.get(key)
        if hit is None:
            s, d, vm = self.host(src), self.host(dst), self.vm(vmc, src)
            hit = self.cache.add(key, migrate_verdict(self.rs, s, d, vm, snapshot=snapshot,
                                                      witness=self.validate))
        return hit

    def evaluations(self) -> int:
        return len(self.cache)


@dataclass(frozen=True)
class SpaceTally:
    """What validating a class space found: sizes, outcomes reached, disagreements."""

    cells: int
    evaluations: int
    validated: int
    outcomes: frozenset[str]
    disagreements: tuple[DisagreementRecord, ...]


def _validate_chunk(rs: RuleSet, job: tuple[tuple[StackClass, ...], tuple[StackClass, ...],
                                           tuple[VMClass, ...], str]) -> SpaceTally:
    """The cells whose source (or, for policy, host) stack is in ``sources``."""
    sources, stacks, vms, query = job
    solver = ClassSolver(rs)
    outcomes: set[str] = set()
    cells = 0
    snapshot = query == "snapshot"
    for vm in vms:
        if query == "policy":
            for s in sources:
                outcomes.add(solver.policy(s, vm)["outcome"])
                cells += 1
            continue
        # A destination's class key depends on the VM and the source's QEMU only, so the
        # destinations that differ are found once per QEMU, not once per cell.
        distinct: dict[str, list[StackClass]] = {}
        for s in sources:
            reps = distinct.get(s.qemu)
            if reps is None:
                by_sig: dict[tuple, StackClass] = {}
                for d in stacks:
                    by_sig.setdefault(solver._sig(d, vm, s)[1], d)
                reps = distinct[s.qemu] = list(by_sig.values())
            for d in reps:
                outcomes.add(solver.migrate(s, d, vm, snapshot=snapshot)["outcome"])
            cells += len(stacks)
    return SpaceTally(cells, solver.evaluations(), solver.validated, frozenset(outcomes),
                      tuple(solver.disagreements))


def _jobs(stacks: Sequence[StackClass], vms: Sequence[VMClass], query: str, workers: int
          ) -> list[tuple[tuple[StackClass, ...], tuple[StackClass, ...], tuple[VMClass, ...], str]]:
    """Jobs of about equal cost for the cores: each guest's VM classes, times a share of sources.

    Class pairs are shared only within a guest (guest facts are inputs) and only
    between sources with the same kernel facts, so cutting by guest and by kernel
    class keeps every shared pair inside one job. (Cutting a guest's VM classes
    instead would evaluate shared pairs again: measured +38 % for halves.)
    """
    by_guest: dict[str, list[VMClass]] = {}
    for vm in vms:
        by_guest.setdefault(vm.guest, []).append(vm)
    kernels: dict[str, list[StackClass]] = {}
    for s in stacks:
        kernels.setdefault(s.kernel.release, []).append(s)
    groups = max(1, min(workers, len(kernels)))
    shares: list[list[StackClass]] = [[] for _ in range(groups)]
    for members in sorted(kernels.values(), key=len, reverse=True):
        min(shares, key=len).extend(members)  # balance the shares by source count
    return [(tuple(share), tuple(stacks), tuple(group), query)
            for group in by_guest.values() for share in shares if share]


def validate_space(rs: RuleSet, stacks: Sequence[StackClass], vms: Sequence[VMClass],
                   query: str = "migrate") -> SpaceTally:
    """Every cell of ``query`` (policy, migrate, snapshot) over the class space, simulated.

    The space is cut into jobs (see :func:`_jobs`) that run on the cores; the
    tally does not depend on how it was cut.
    """
    from ..parallel import fork_map, jobs_count

    parts = list(fork_map(_validate_chunk, rs, _jobs(stacks, vms, query, jobs_count())))
    return SpaceTally(sum(p.cells for p in parts), sum(p.evaluations for p in parts),
                      sum(p.validated for p in parts),
                      frozenset().union(*(p.outcomes for p in parts)),
                      tuple(d for p in parts for d in p.disagreements))
