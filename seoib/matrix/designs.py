"""Compare the QEMU SEOIB designs on a fleet: the RFC's question, answered with counts.

Every design in the rules is put in the QEMU builds that carry SEOIB support
(hosts whose plan entry names ``seoib:``; every host when none does), plus,
for designs chosen by an explicit property, a column where each VM opts in
where that is safe. Every count comes from verdicts the simulator reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import Disagreement
from ..query.classes import label_runs, stack_classes
from ..query.verdict_cache import VerdictCache
from ..query.verdicts import migrate_verdict, policy_verdict
from ..rules.resolve import ResolvedHost
from ..rules.ruleset import RuleSet
from ..rules.specs import HostSpec, VMSpec
from ..vocabulary import SEOIB_POLICIES, SEVERITY_RANK
from .fleet import Fleet, FleetHost, FleetVM

__all__ = ["METRICS", "Column", "compare_designs", "lookup_findings"]

PROTECTED = ("respected", "not-advertised")
EXPOSED = ("storm", "storm-risk")

# (key, row title) in report order; counts of VMs unless the title says pairs.
METRICS: tuple[tuple[str, str], ...] = (
    ("protected", "VMs protected (respected or not-advertised at power-on)"),
    ("exposed", "VMs left storm-exposed (storm or storm-risk at power-on)"),
    ("broken_boot", "VMs that break at power-on (stuck, start-fails)"),
    ("visible_changes", "VMs whose policy changes without opt-in on an existing machine type"),
    ("refused", "migrations refused (VM x allowed destination host)"),
    ("dest_abort", "migrations that abort the destination (VM x allowed destination host)"),
    ("migration_other_block", "other migrations that break the guest (e.g. cpu-model-change, stuck)"),
    ("cold_restart", "VMs that need a cold restart to get the fix"),
)


@dataclass
class Column:
    design: str
    opt_in: bool
    counts: dict[str, int] = field(default_factory=dict)
    opted_in: int = 0

    @property
    def label(self) -> str:
        return f"{self.design} + opt-in where safe" if self.opt_in else self.design


class _Judge:
    """Memoized, simulator-validated verdicts for concrete fleet specs.

    Keyed by spec (where each spec was written aside), not by class: a count reads
    the VM's own resolved machine type, and the tally counts distinct specs.
    """

    def __init__(self, rs: RuleSet) -> None:
        self.rs = rs
        self.hosts: dict[HostSpec, ResolvedHost] = {}
        self.cache = VerdictCache(keep=None)

    def host(self, spec: HostSpec) -> ResolvedHost:
        key = replace(spec, origin=None)
        h = self.hosts.get(key)
        if h is None:
            h = self.hosts[key] = self.rs.resolver.host(spec)
        return h

    def policy(self, h: HostSpec, v: VMSpec) -> dict[str, Any]:
        key = ("p", replace(h, origin=None), replace(v, origin=None))
        hit = self.cache.get(key)
        if hit is None:
            host = self.host(h)
            hit = self.cache.add(key, policy_verdict(self.rs, host, self.rs.resolver.vm(v, host)))
        return hit

    def migrate(self, s: HostSpec, d: HostSpec, v: VMSpec) -> dict[str, Any]:
        key = ("m", replace(s, origin=None), replace(d, origin=None), replace(v, origin=None))
        hit = self.cache.get(key)
        if hit is None:
            src, dst = self.host(s), self.host(d)
            hit = self.cache.add(key, migrate_verdict(self.rs, src, dst,
                                                      self.rs.resolver.vm(v, src)))
        return hit


def _host_spec(h: FleetHost, design: str, candidates: set[str]) -> HostSpec:
    return replace(h.spec, seoib=design) if h.name in candidates else h.spec


def _existing_machines(rs: RuleSet, baseline: str) -> set[str]:
    """Machine types some QEMU release of the rules registers without SEOIB support."""
    r = rs.resolver
    return {m for q in r.qemu.releases.values() if (q.seoib or baseline) == baseline
            for m in _registered(rs, q)}


def _registered(rs: RuleSet, q: Any) -> list[str]:
    r = rs.resolver
    out = list(q.unversioned)
    for fam in r.machines.families.values():
        if fam.versioned:
            for parts, fams in r.machines.versions.items():
                if fams is not None and fam.id not in fams:
                    continue
                name = f"{fam.id}-{'.'.join(map(str, parts))}"
                if r.qemu.registers(q, r.machines.parse(name)):
                    out.append(name)
    return out


@dataclass
class _Placement:
    vm: FleetVM
    host: FleetHost
    count: int


def _pairs(fleet: Fleet, p: _Placement) -> list[tuple[FleetHost, int]]:
    """The hosts a VM may move to: those its plan entry places it on, itself excluded.

    A VM group spread over host groups is scheduled among them, so they are its
    migration domain; a VM pinned to one host has no destination.
    """
    out = []
    for name, _ in p.vm.placement:
        h = fleet.host(name)
        n = h.count - (h.name == p.host.name)
        if n > 0:
            out.append((h, n))
    return out


class _Compare:
    def __init__(self, rs: RuleSet, fleet: Fleet) -> None:
        self.rs, self.fleet = rs, fleet
        self.judge = _Judge(rs)
        named = {h.name for h in fleet.hosts if h.candidate}
        self.candidates = named or {h.name for h in fleet.hosts}
        self.placements = [_Placement(vm, fleet.host(n), c) for vm in fleet.vms
                           for n, c in vm.placement]
        designs = rs.resolver.designs
        self.baseline = next((d for d, x in designs.items()
                              if x.facts.get("qemu.selection") == "none"), next(iter(designs)))
        self.existing = _existing_machines(rs, self.baseline)
        # A pair is allowed when the VM could migrate there at all today: the
        # destination registers the machine type and runs its irqchip mode.
        self.allowed = {id(p): [(h, n) for h, n in _pairs(fleet, p)
                                if self._migrate(p, h, self.baseline, p.vm.spec)["outcome"]
                                != "unsupported"]
                        for p in self.placements}

    def _spec(self, h: FleetHost, design: str) -> HostSpec:
        return _host_spec(h, design, self.candidates)

    def _boot(self, p: _Placement, design: str, vm: VMSpec) -> dict[str, Any]:
        return self.judge.policy(self._spec(p.host, design), vm)

    def _migrate(self, p: _Placement, dst: FleetHost, design: str, vm: VMSpec) -> dict[str, Any]:
        return self.judge.migrate(self._spec(p.host, design), self._spec(dst, design), vm)

    def _opt_in(self, p: _Placement, design: str) -> VMSpec:
        """The first non-default policy that boots ok and keeps every allowed migration safe.

        Safe: no refused or aborting migration, and none worse than with the default.
        """
        vm = p.vm.spec
        if vm.seoib_policy is not None or p.host.name not in self.candidates:
            return vm  # the plan chose, or the host's QEMU cannot take the property
        default = self.rs.resolver.designs[design].default_policy
        for policy in (x for x in SEOIB_POLICIES if x != default):
            chosen = replace(vm, seoib_policy=policy)
            if self._boot(p, design, chosen)["severity"] != "ok":
                continue
            if all(self._no_worse(self._migrate(p, h, design, chosen),
                                  self._migrate(p, h, design, vm))
                   for h, _ in self.allowed[id(p)]):
                return chosen
        return vm

    @staticmethod
    def _no_worse(chosen: dict[str, Any], default: dict[str, Any]) -> bool:
        if chosen["outcome"] in ("refused", "dest-abort", "unsupported"):
            return False  # an evacuation that fails is never safe
        return SEVERITY_RANK[chosen["severity"]] <= SEVERITY_RANK[default["severity"]]

    def column(self, design: str, opt_in: bool) -> Column:
        col = Column(design, opt_in, {k: 0 for k, _ in METRICS})
        c = col.counts
        for p in self.placements:
            vm = self._opt_in(p, design) if opt_in else p.vm.spec
            col.opted_in += p.count if vm is not p.vm.spec else 0
            boot = self._boot(p, design, vm)
            base = self._boot(p, self.baseline, p.vm.spec)
            policy = boot.get("policy")
            c["protected"] += p.count * (policy in PROTECTED)
            exposed = boot["outcome"] in EXPOSED
            c["exposed"] += p.count * exposed
            c["broken_boot"] += p.count * (boot["severity"] == "block" and not exposed)
            machine = boot["vm"]["machine"]
            c["visible_changes"] += p.count * (machine in self.existing and vm is p.vm.spec
                                               and policy != base.get("policy"))
            c["cold_restart"] += p.count * (base["outcome"] in EXPOSED
                                            and boot["severity"] == "ok")
            for h, n in self.allowed[id(p)]:
                outcome = self._migrate(p, h, design, vm)
                pairs = p.count * n
                if outcome["outcome"] == "refused":
                    c["refused"] += pairs
                elif outcome["outcome"] == "dest-abort":
                    c["dest_abort"] += pairs
                elif outcome["severity"] == "block" and outcome["outcome"] not in EXPOSED:
                    # A storm after the move is the exposure counted above, not a new harm.
                    c["migration_other_block"] += pairs
        return col


def lookup_findings(rs: RuleSet, judge: _Judge) -> list[dict[str, Any]]:
    """Where a design's globals-only IOAPIC lookup misjudges a machine type, per QEMU release.

    The lookup sees user ``-global`` options only, so a machine type whose IOAPIC
    version comes from a compat property is judged by the device default. Each hit
    is put to the rules (split irqchip, a guest that uses SEOIB) on every kernel
    class; the verdicts are simulator-validated like every other count.
    """
    r = rs.resolver
    out = []
    for design, d in r.designs.items():
        if d.facts.get("qemu.ioapic_lookup") != "globals-only":
            continue
        for q in r.qemu.releases.values():
            names = _registered(rs, q)
            hits = [n for n in names if _compat_ioapic(rs, n)]
            if not hits:
                continue
            qemu = str(q.version)
            stuck = []
            for stack in stack_classes(rs, qemus=[qemu], designs=[design]):
                outcomes = {judge.policy(stack.spec(), VMSpec(
                    machine=n, irqchip="split", guest="windows-hyperv"))["outcome"] for n in hits}
                if "stuck" in outcomes:
                    stuck.append(stack.kernel.label)
            out.append({"design": design, "qemu": qemu, "machines": hits,
                        "machines_label": _label(rs, hits, names),
                        "ioapic": sorted({_compat_ioapic(rs, n) or "" for n in hits}),
                        "stuck_on_kernels": stuck})
    return out


def _label(rs: RuleSet, hits: list[str], names: list[str]) -> str:
    """``pc-i440fx-2.4..2.7, pc-q35-2.4..2.7``: runs labelled per machine family."""
    by_family: dict[str, list[str]] = {}
    for n in hits:
        by_family.setdefault(rs.resolver.machines.parse(n).family.id, []).append(n)
    return ", ".join(label_runs(members, names, lambda x: x.rsplit("-", 1)[-1])
                     for members in by_family.values())


def _compat_ioapic(rs: RuleSet, name: str) -> str | None:
    """The IOAPIC version a compat property gives the machine type, if it differs from
    its family's (device) default: a value no globals-only lookup can see."""
    machine = rs.resolver.machines.parse(name)
    defaults, _ = rs.resolver.machines.defaults(machine)
    value = defaults["ioapic"]
    return value if value != machine.family.defaults["ioapic"] else None


def compare_designs(rs: RuleSet, fleet: Fleet) -> dict[str, Any]:
    """Side-by-side counts per design, the recommendation and the simulator tally."""
    cmp = _Compare(rs, fleet)
    columns = []
    for design, d in rs.resolver.designs.items():
        columns.append(cmp.column(design, False))
        if d.facts.get("qemu.selection") == "property":
            columns.append(cmp.column(design, True))
    findings = lookup_findings(rs, cmp.judge)
    tally = cmp.judge.cache
    if tally.disagreements:
        first = tally.disagreements[0]
        raise Disagreement(f"the solver and the simulator disagree on "
                           f"{len(tally.disagreements)} fleet verdict(s); nothing was "
                           f"reported (first: {'; '.join(first['differences']) or first['outcome']})")
    vms = sum(v.count for v in fleet.vms)
    pairs = sum(p.count * n for p in cmp.placements for _, n in cmp.allowed[id(p)])
    return {
        "command": "designs",
        "rules": {"digest": rs.digest},
        "fleet": {"hosts": [{"name": h.name, "count": h.count, "kernel": h.spec.kernel,
                             "qemu": h.spec.qemu, "gets_design": h.name in cmp.candidates}
                            for h in fleet.hosts],
                  "vms": [{"name": v.name, "count": v.count, "machine": v.spec.machine,
                           "irqchip": v.spec.irqchip, "ioapic": v.spec.ioapic,
                           "guest": v.spec.guest or "any",
                           "hosts": [n for n, _ in v.placement]} for v in fleet.vms],
                  "vm_count": vms, "migration_pairs": pairs},
        "baseline": cmp.baseline,
        "metrics": [{"key": k, "title": t} for k, t in METRICS],
        "designs": [{"design": c.design, "label": c.label, "opt_in": c.opt_in,
                     "opted_in": c.opted_in, **c.counts} for c in columns],
        "recommendation": _recommend(columns),
        "lookup_findings": findings,
        "unconfirmed_designs": [d for d, x in rs.resolver.designs.items() if not x.confirmed],
        "tally": {"evaluations": len(tally), "validated": tally.validated,
                  "disagreements": len(tally.disagreements)},
    }


def _harm(c: Column) -> int:
    k = c.counts
    return (k["broken_boot"] + k["refused"] + k["dest_abort"] + k["migration_other_block"]
            + k["visible_changes"])


def _recommend(columns: list[Column]) -> dict[str, Any]:
    """Fewest harmful effects first, then the fewest storm-exposed, then the most protected."""
    best = min(columns, key=lambda c: (_harm(c), c.counts["exposed"], -c.counts["protected"]))
    return {"label": best.label, "design": best.design, "opt_in": best.opt_in,
            "harmful": _harm(best), "exposed": best.counts["exposed"],
            "protected": best.counts["protected"],
            "rule": "fewest harmful effects (broken boots, refused, aborting or otherwise blocked "
                    "migrations, policy changes on existing machine types), then fewest "
                    "storm-exposed VMs, then most protected VMs"}
