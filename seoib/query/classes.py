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
from .solver import Evaluation, evaluate
from .verdict_cache import HostPart, VerdictCache, VMPart, class_key
from .verdict_types import DisagreementRecord
from .verdicts import (
    RuleReasons,
    check_migrate,
    check_policy,
    data_reasons,
    migrate_verdict_and_evaluation,
    policy_verdict_and_evaluation,
    rule_reasons,
)

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
    # The longterm (LTS) lines in the class, as its members name them: "6.1", "6.18.0..6.18.16"
    longterm: tuple[str, ...] = ()


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
    lts = {parse_release(s).series for s in lineage.longterm if parse_release(s) is not None}
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
        longterm = tuple(p for p, r in members if _series_of(r) in lts)
        out.append(KernelClass(", ".join(label_parts), members[-1][1], facts,
                               tuple(p for p, _ in members), longterm))
    return out


def _series_of(release: str) -> tuple[int, int] | None:
    rel = parse_release(release)
    return rel.series if rel is not None else None


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


Reasons = list[dict[str, Any]]


@dataclass
class ClassSolver:
    """Memoized, simulator-validated verdicts over classes.

    Verdicts are cached by the query's input facts, so every class pair that the
    rules cannot tell apart is evaluated (and simulated) once, however many stacks,
    releases or machine types share it. A member that is not the class's first gets
    the class's outcome, states and witness with its own reasons: the release,
    design and machine-type data it rests on are its own (as ``Engine`` does).
    ``*_parts`` return the class verdict and the member's reasons apart, so a caller
    that renders many cells builds no dictionary per cell. With ``member_reasons`` off
    every member gets the class's first verdict as it is (a sweep that reads outcomes).
    """

    rs: RuleSet
    validate: bool = True
    member_reasons: bool = True
    _hosts: dict[str, ResolvedHost] = field(default_factory=dict)
    _vms: dict[tuple[str, str, str], ResolvedVM] = field(default_factory=dict)
    cache: VerdictCache = field(default_factory=VerdictCache)
    _sigs: dict[tuple[str, str, str], _Sig] = field(default_factory=dict)
    # class key -> the rules part of its reasons and its evaluation, once a member needs them
    _rules: dict[tuple, tuple[Evaluation, RuleReasons]] = field(default_factory=dict)
    # id of a class's verdict -> hash of its class key: the same in every forked worker
    # (they share the interpreter's hash seed), so callers can count classes across them
    class_ids: dict[int, int] = field(default_factory=dict)

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
        host = self.host(stack)
        design = host.design
        key = (vmc.label, stack.qemu, design.default_policy, design.switches.get("default_policy"))
        v = self._vms.get(key)
        if v is None:
            v = self._vms[key] = self.rs.resolver.vm(vmc.spec(), host)
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
        """The VM class's power-on verdict on ``stack`` (its class's, with its own reasons)."""
        return _whole(*self.policy_parts(stack, vmc))

    def migrate(self, src: StackClass, dst: StackClass, vmc: VMClass,
                *, snapshot: bool = False) -> dict[str, Any]:
        """The live migration (or loadvm) verdict of the VM class from ``src`` to ``dst``."""
        return _whole(*self.migrate_parts(src, dst, vmc, snapshot=snapshot))

    def policy_parts(self, stack: StackClass, vmc: VMClass) -> tuple[dict[str, Any], Reasons]:
        key = self._sig(stack, vmc, stack)[2]
        host, vm = self.host(stack), self.vm(vmc, stack)
        hit = self.cache.get(key)
        if hit is None:
            hit = self._add(key, *policy_verdict_and_evaluation(self.rs, host, vm,
                                                                witness=self.validate))
            return hit, hit["reasons"]
        return hit, self._reasons(key, "policy", {"host": host}, vm, hit)

    def migrate_parts(self, src: StackClass, dst: StackClass, vmc: VMClass,
                      *, snapshot: bool = False) -> tuple[dict[str, Any], Reasons]:
        # The VM's machine type is fixed on the source (aliases resolve there). The key is
        # class_key's shape, built inline: this is the hot path of a class-space sweep.
        vm_part, src_part, _ = self._sig(src, vmc, src)
        query = "snapshot" if snapshot else "migrate"
        key = (query, vm_part, src_part, self._sig(dst, vmc, src)[1])
        s, d, vm = self.host(src), self.host(dst), self.vm(vmc, src)
        hit = self.cache.get(key)
        if hit is None:
            hit = self._add(key, *migrate_verdict_and_evaluation(self.rs, s, d, vm, snapshot=snapshot,
                                                                 witness=self.validate))
            return hit, hit["reasons"]
        return hit, self._reasons(key, query, {"src": s, "dst": d}, vm, hit)

    def _add(self, key: tuple, verdict: Any, ev: Evaluation) -> dict[str, Any]:
        kept = self.cache.add(key, verdict)
        self.class_ids[id(kept)] = hash(key)
        if self.member_reasons:
            self._rules[key] = (ev, rule_reasons(ev))
        return kept

    def _reasons(self, key: tuple, query: str, roles: dict[str, ResolvedHost], vm: ResolvedVM,
                 first: dict[str, Any]) -> Reasons:
        """A member's reasons: the class's rules part (evaluated again on first reuse, as
        ``Engine`` does) and the data its own hosts and VM rest on."""
        if not self.member_reasons:
            return first["reasons"]
        rules = self._rules.get(key)
        if rules is None:  # a class first evaluated before member reasons were asked for
            ev = evaluate(self.rs.query(query), self.rs.resolver.inputs(roles, vm))
            rules = self._rules[key] = (ev, rule_reasons(ev))
        why = data_reasons(rules[1], rules[0], roles, vm)
        return first["reasons"] if _same(why, first["reasons"]) else why

    def evaluations(self) -> int:
        return len(self.cache)


def _same(a: Reasons, b: Reasons) -> bool:
    """Whether two reason lists hold the same citations (each is one shared dict)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _whole(first: dict[str, Any], why: Reasons) -> dict[str, Any]:
    return first if why is first["reasons"] else {**first, "reasons": why}


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
    """The cells whose source (or, for policy, host) stack is in ``sources``.

    Cost follows distinct class pairs, not cells. A stack's part of a class key
    depends on the VM's machine type only (its registration and gate), so per machine
    type the stacks are grouped by that part once; a VM class is then its own facts
    and that grouping, and every class pair not met before is evaluated and simulated
    once (outcome and witness only: a sweep needs no reasons). VM classes that add no
    new pair are skipped whole, and the number of cells is counted, not walked.
    """
    sources, stacks, vms, query = job
    parts = ClassSolver(rs, validate=False)  # resolved hosts and VMs, memoized
    resolver, cache = rs.resolver, parts.cache
    own = set(map(id, sources))
    # A VM's facts also take its host design's default policy: one stack per policy.
    by_policy = {parts.host(s).design.default_policy: s for s in stacks}
    groups: dict[tuple, int] = {}  # (source parts, stack parts) -> group id
    by_machine: dict[str, tuple[int, dict[tuple, StackClass], dict[int, ResolvedHost]]] = {}
    met: set[tuple] = set()  # (VM parts, group id) already swept
    done: dict[tuple, str] = {}  # class key, its parts as numbers -> outcome
    # Each distinct part gets a number once: a class key is then three small ints, not
    # nested tuples of facts hashed again for every pair.
    numbers: dict[tuple, int] = {}
    number = numbers.setdefault
    validated = 0
    disagreements: list[DisagreementRecord] = []
    snapshot = query == "snapshot"

    def tally(outcome: str, witness: dict[str, Any]) -> str:
        nonlocal validated
        validated += bool(witness.get("ran"))
        if witness.get("agrees") is False:
            disagreements.append({"command": "policy" if query == "policy" else "migrate",
                                  "outcome": outcome,
                                  "differences": list(witness.get("differences", []))})
        return outcome

    for vm in vms:
        name = vm.machine.machine
        grouped = by_machine.get(name)
        if grouped is None:
            resolved = parts.vm(vm, stacks[0])
            src: dict[tuple[int, str], StackClass] = {}
            every: dict[int, ResolvedHost] = {}  # a part's first host
            for s in stacks:
                host = parts.host(s)
                part = cache.host_part(host, resolver.machine_facts(host, resolved))
                n = number(part, len(numbers))
                every.setdefault(n, host)
                if id(s) in own:
                    src.setdefault((n, host.design.default_policy), s)
            group = groups.setdefault((frozenset(src), frozenset(every)), len(groups))
            grouped = by_machine[name] = (group, src, every)
        group, src, every = grouped
        vm_parts = {p: number(cache.vm_part(parts.vm(vm, s)), len(numbers))
                    for p, s in by_policy.items()}
        swept = (tuple(vm_parts.items()), group)
        if swept in met:
            continue
        met.add(swept)
        for (src_part, policy), s in src.items():
            vm_part = vm_parts[policy]
            # A pair met before costs two lookups: the source is resolved only for a new one.
            if query == "policy":
                key = (query, vm_part, src_part)
                if key not in done:
                    done[key] = tally(*check_policy(rs, parts.host(s), parts.vm(vm, s)))
                continue
            host = resolved = None
            for dst_part, d in every.items():
                key = (query, vm_part, src_part, dst_part)
                if key not in done:
                    if host is None:
                        host, resolved = parts.host(s), parts.vm(vm, s)
                    done[key] = tally(*check_migrate(rs, host, d, resolved, snapshot=snapshot))
    cells = len(sources) * len(vms) * (1 if query == "policy" else len(stacks))
    return SpaceTally(cells, len(done), validated, frozenset(done.values()), tuple(disagreements))


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
