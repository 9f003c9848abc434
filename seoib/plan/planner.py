"""`seoib plan`: waves that bring a fleet towards a target host spec, fixing the most VMs
without introducing a block.

Model. Each host entry's upgrade splits into a kernel step (kernel, x2apic-api) and
a QEMU step (qemu, seoib, machines); a strategy fixes the order inside every entry
(kernel first, QEMU first, or both at once; or, quiet-kernel, the QEMU build parked on
a design that boots VMs quirked yet accepts every state - the first such design in
rules/designs.yaml - while the kernel rolls, so VMs booted on hosts a kernel wave has
already reached carry nothing their not-yet-upgraded peers would abort on, then the
target's QEMU step). An entry then passes through states
s0 -> s1 -> ... Two states conflict when a VM living on one (booted on it or on any
earlier state of its entry, at any moment) migrating to the other aborts or breaks
(refusals and unsupported moves are left to the scheduler and to the check).
Conflicting states must never coexist, which orders steps: either the first
entry leaves its state before the second enters its own, or the other way round.
When only one way exists it is forced; otherwise the less advanced entry goes
first. The ordering graph's topological generations become waves (one wave per
kind of change, at most --max-batch entries each). Every candidate plan is then
run through ``seoib check``, which separates what the fleet suffers before the
first wave (reported, never a reason to refuse) from what the rollout causes.
Where a strategy cannot avoid causing a block (an entry whose own upgrade conflicts
with itself, a cycle, a check that blocks), the entry whose steps bring it is left
as it is and the rest is planned again. Among the plans that cause no block, the
one that fixes the most VMs wins, then the fewest warnings, waves and entries left
out; a plan that leaves entries out and fixes nothing is no proposal.

Cost. Whether two entries conflict depends only on their kinds: the stacks they pass
through and the VMs they carry (by content, with the moves those already fail
today). Conflicts are judged once per pair of kinds and named per pair of entries
only where they exist, so a fleet written host by host costs what its grouped form
costs until it has conflicts to report.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import networkx as nx
import yaml

from ..errors import Location
from ..rules.ruleset import RuleSet
from .checker import CheckReport, check_plan
from .findings import engine_rules
from .fleetclasses import FleetClasses, HostClass, spec_content
from .planfile import Plan, VMEntry, apply_set, loads_plan
from .rollout import harmful

__all__ = ["PlanResult", "Strategy", "dump_plan", "left_text", "plan_rollout"]

KERNEL_KEYS = ("kernel", "x2apic-api")
QEMU_KEYS = ("qemu", "seoib", "machines")
STRATEGIES = {"kernel-first": ("kernel", "qemu"), "qemu-first": ("qemu", "kernel"),
              "together": ("kernel+qemu",), "quiet-kernel": ("quiet", "kernel", "qemu")}


def _quiet_design(fleet: FleetClasses) -> str | None:
    """A SEOIB design that knows the migration section yet boots VMs quirked unless they
    opt in: hosts on it accept VMs of every state and give new ones nothing to carry."""
    for design in fleet.rs.resolver.designs.values():
        if (design.facts.get("qemu.selection") == "property" and design.default_policy == "quirked"
                and design.facts.get("qemu.knows_section") is True):
            return design.id
    return None


@dataclass
class Strategy:
    name: str
    constraints: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why this strategy has no safe order
    plan: Plan | None = None
    text: str | None = None
    report: CheckReport | None = None
    left: dict[int, tuple[int, str]] = field(default_factory=dict)  # entry -> steps kept, why
    blamed: list[tuple[int, int]] = field(default_factory=list)  # (entry, step) bringing problems

    def score(self) -> tuple[int, int, int, int]:
        if self.report is None:
            return (1 << 30, 0, 0, 0)
        warns = sum(1 for f in self.report.introduced() if f.severity == "warn")
        return (-self.report.fixed_vms, warns, len(self.report.waves), len(self.left))


@dataclass
class PlanResult:
    chosen: Strategy | None
    strategies: list[Strategy]


def _changes(spec: Mapping[str, Any], target: Mapping[str, Any], keys: tuple[str, ...]
             ) -> dict[str, Any]:
    return {k: target[k] for k in keys if k in target and spec.get(k) != target[k]}


@dataclass(frozen=True)
class _Step:
    entry: int
    index: int  # 1-based position in the entry's chain
    kind: str
    change: tuple[tuple[str, Any], ...]


class _Builder:
    def __init__(self, fleet_plan: Plan, target: Mapping[str, Any], fleet: FleetClasses,
                 chain: tuple[str, ...], left: Mapping[int, tuple[int, str]] | None = None
                 ) -> None:
        self.p, self.fleet = fleet_plan, fleet
        self.where = Location("--target")
        self.steps: list[list[_Step]] = []
        self.states: list[list[HostClass]] = []
        for e, h in enumerate(fleet_plan.hosts):
            keep = left[e][0] if left and e in left else len(chain)  # steps kept
            first = fleet.host_class(h.spec, Location(fleet_plan.source, h.line))
            parts = {"kernel": _changes(h.spec, target, KERNEL_KEYS),
                     "qemu": _changes(h.spec, target, QEMU_KEYS), "quiet": {}}
            parts["kernel+qemu"] = {**parts["kernel"], **parts["qemu"]}
            quiet = _quiet_design(fleet)
            if ("quiet" in chain and quiet and parts["kernel"]
                    and first.host.facts.get("qemu.selection") == "automatic"):
                # Park the build on a design that boots VMs quirked while the kernel rolls,
                # then return to the design the target (or the host) runs.
                parts["quiet"] = {"seoib": quiet}
                parts["qemu"] = {**parts["qemu"],
                                 "seoib": target.get("seoib", first.host.design.id)}
            spec: dict[str, Any] = dict(h.spec)
            states = [first]
            steps = []
            for kind in chain:
                if parts[kind] and len(steps) < keep:
                    spec = apply_set(spec, parts[kind])
                    states.append(fleet.host_class(spec, self.where))
                    steps.append(_Step(e, len(steps) + 1, kind, tuple(parts[kind].items())))
            self.steps.append(steps)
            self.states.append(states)
        self.hazards = self._today()
        self.vms_at: dict[int, list[VMEntry]] = {}  # host entry -> its VM entries, in plan order
        for v in fleet_plan.vms:
            self.vms_at.setdefault(fleet_plan.host_index(v.host), []).append(v)
        own: dict[Any, set[tuple]] = {}  # VM spec -> the moves it already fails today
        for spec, *move in self.hazards:
            own.setdefault(spec, set()).add(tuple(move))
        # An entry's kind: its stacks, and its VMs by content with their failures today.
        self.kind = [(tuple(s.id for s in self.states[e]),
                      tuple((spec_content(v.spec),
                             frozenset(own.get(v.spec, ()))) for v in self.vms_at.get(e, ())))
                     for e in range(len(self.states))]
        self._firsts: dict[tuple, tuple[int, HostClass, dict[str, Any]] | None] = {}

    def _today(self) -> set[tuple]:
        """Harmful moves the fleet already has: (VM spec, boot policy, destination, outcome)."""
        out: set[tuple] = set()
        dsts = {s[0].id: s[0] for s in self.states}
        for v in self.p.vms:
            vmc = self.fleet.vm_class(v.spec, self.states[self.p.host_index(v.host)][0])
            for dst in dsts.values():
                verdict = self.fleet.migrate(vmc, dst)
                if harmful(self.fleet, vmc, verdict):
                    out.add((v.spec, self.fleet.boot(vmc)["policy"], dst.id, verdict["outcome"]))
        return out

    def _first(self, a: int, ai: int, dst: HostClass
               ) -> tuple[int, HostClass, dict[str, Any]] | None:
        """The first VM of entry ``a`` in state ``ai`` that ``dst`` harms: (its position,
        boot, verdict). The same for every entry of ``a``'s kind."""
        key = (self.kind[a], ai, dst.id)
        if key in self._firsts:
            return self._firsts[key]
        hit = None
        # VMs boot at any moment: on every state their entry has had so far, including
        # a new one its running wave has only partly reached.
        for pos, v in enumerate(self.vms_at.get(a, ())):
            for boot in dict.fromkeys(self.states[a][:ai + 1]):
                vmc = self.fleet.vm_class(v.spec, boot)
                verdict = self.fleet.migrate(vmc, dst)
                known = (v.spec, self.fleet.boot(vmc)["policy"], dst.id, verdict["outcome"])
                # A move that already fails today is reported by the check, not avoidable.
                if harmful(self.fleet, vmc, verdict) and known not in self.hazards:
                    hit = (pos, boot, verdict)
                    break
            if hit is not None:
                break
        self._firsts[key] = hit
        return hit

    def _clash(self, g: int, i: int, h: int, j: int) -> bool:
        return (self._first(g, i, self.states[h][j]) is not None
                or self._first(h, j, self.states[g][i]) is not None)

    def _conflict(self, g: int, i: int, h: int, j: int) -> str | None:
        """Why VMs of entry g in state i and entry h in state j must not coexist, if so."""
        for a, ai, b, bj in ((g, i, h, j), (h, j, g, i)):
            dst = self.states[b][bj]
            hit = self._first(a, ai, dst)
            if hit is not None:
                pos, boot, verdict = hit
                v = self.vms_at[a][pos]
                rules = ", ".join(engine_rules([verdict])[-2:])
                return (f"VMs of {v.name} booted on {boot.label} ({self.p.hosts[a].name}) "
                        f"-> {dst.label} ({self.p.hosts[b].name}): {verdict['outcome']} "
                        f"[{rules}]")
        return None

    def _state(self, e: int, i: int) -> str:
        name = self.p.hosts[e].name
        if i == 0:
            return f"{name} as it is"
        return f"{name} after its {self.steps[e][i - 1].kind} step"

    def graph(self, strategy: Strategy) -> nx.DiGraph:
        g = nx.DiGraph()
        for steps in self.steps:
            g.add_nodes_from(steps)
            for a, b in pairwise(steps):
                g.add_edge(a, b, why="same entry, strategy order")
        # Entry pairs (a <= b) in order, state pairs (i, j) in order, judged per pair of
        # kinds: only the entry pairs of clashing kinds are listed one by one.
        kinds: dict[tuple, list[int]] = {}
        for e, kind in enumerate(self.kind):
            kinds.setdefault(kind, []).append(e)
        clashes: list[tuple[int, int, int, int]] = []
        for xs in kinds.values():
            for ys in kinds.values():
                a, b = xs[0], ys[-1]
                ma, mb = len(self.steps[a]), len(self.steps[b])
                if xs is ys:  # an entry's states coexist only while it is being upgraded
                    clashes.extend((e, e, i, i + 1) for i in range(ma)
                                   for e in xs if self._clash(e, i, e, i + 1))
                if a >= b:
                    continue  # no entry of xs comes before one of ys
                # (0, 0): as the fleet stands today, which the check reports.
                ij = [(i, j) for i in range(ma + 1) for j in range(mb + 1)
                      if (i, j) != (0, 0) and self._clash(a, i, b, j)]
                if ij:
                    clashes.extend((x, y, i, j) for x in xs for y in ys if x < y for i, j in ij)
        for a, b, i, j in sorted(clashes):
            why = self._conflict(a, i, b, j)
            assert why is not None
            self._order(g, strategy, a, i, b, j, why)
        return g

    def _order(self, g: nx.DiGraph, strategy: Strategy, a: int, i: int, b: int, j: int,
               why: str) -> None:
        ma, mb = len(self.steps[a]), len(self.steps[b])
        first = (self.steps[a][i], self.steps[b][j - 1]) if i < ma and j >= 1 else None
        second = (self.steps[b][j], self.steps[a][i - 1]) if j < mb and i >= 1 else None
        if a == b or (first is None and second is None):
            strategy.problems.append(f"{self._state(a, i)} and {self._state(b, j)} cannot be "
                                     f"avoided at the same time: {why}")
            strategy.blamed.append((b, j) if j > 0 else (a, i))
            return
        # When both orders would do, the less advanced entry leaves its state first.
        choose = (first if i / ma <= j / mb else second) if first and second else first or second
        assert choose is not None
        g.add_edge(*choose, why=why)
        before, after = choose
        strategy.constraints.append(
            f"{self.p.hosts[before.entry].name} {before.kind} before "
            f"{self.p.hosts[after.entry].name} {after.kind}: {why}")


def _waves(fleet_plan: Plan, g: nx.DiGraph, max_batch: int | None) -> list[dict[str, Any]]:
    waves: list[dict[str, Any]] = []
    for generation in nx.topological_generations(g):
        by_change: dict[tuple, list[_Step]] = {}
        for step in sorted(generation, key=lambda s: (s.entry, s.index)):
            by_change.setdefault((step.kind, step.change), []).append(step)
        for (_, change), steps in by_change.items():
            size = max_batch or len(steps)
            for start in range(0, len(steps), size):
                chunk = steps[start:start + size]
                keys = {k for k, _ in change}
                label = ("kernel" if keys <= set(KERNEL_KEYS) else
                         "qemu" if keys <= set(QEMU_KEYS) else "kernel+qemu")
                waves.append({"name": f"w{len(waves) + 1}-{label}",
                              "hosts": [fleet_plan.hosts[s.entry].name for s in chunk],
                              "set": dict(change)})
    return waves


def dump_plan(data: dict[str, Any], header: list[str],
              shared: dict[str, list[str]] | None = None) -> str:
    """YAML a person can read: one flow mapping per host, VM and wave.

    Candidates of one fleet differ only in their rollout: ``shared`` keeps the hosts
    and vms sections written for the first one (section -> lines) for the others.
    """
    lines = [f"# {h}" for h in header]
    for section in ("hosts", "vms", "rollout"):
        lines.append(f"{section}:" + ("" if data.get(section) else " []"))
        body = shared.get(section) if shared is not None else None
        if body is None:
            body = [f"  - {_flow(item)}" for item in data.get(section) or []]
            if shared is not None and section != "rollout":
                shared[section] = body
        lines.extend(body)
    return "\n".join(lines) + "\n"


def _flow(item: Any) -> str:
    return yaml.safe_dump(item, default_flow_style=True, sort_keys=False, width=1 << 16).strip()


def left_text(fleet_plan: Plan, e: int, keep: int) -> str:
    name = fleet_plan.hosts[e].name
    return f"{name} stays as it is" if keep == 0 else f"{name} stops after {keep} step(s)"


def _candidate(fleet_plan: Plan, target: Mapping[str, Any], rs: RuleSet, fleet: FleetClasses,
               name: str, chain: tuple[str, ...], left: dict[int, str], max_batch: int | None,
               source: str, shared: dict[str, list[str]] | None = None) -> Strategy:
    """One strategy with the steps ``left`` names (entry -> steps kept, why) left out."""
    strategy = Strategy(name, left=dict(left))
    builder = _Builder(fleet_plan, target, fleet, chain, left)
    g = builder.graph(strategy)
    if strategy.problems:
        return strategy
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        for a, b in cycle:
            strategy.problems.append(
                f"{fleet_plan.hosts[a.entry].name} {a.kind} must come before "
                f"{fleet_plan.hosts[b.entry].name} {b.kind}: {g.edges[a, b]['why']}")
            strategy.blamed.append((b.entry, b.index))
        return strategy
    data = fleet_plan.as_data()
    data["rollout"] = _waves(fleet_plan, g, max_batch)
    header = ([f"seoib plan: strategy {name}"]
              + [f"constraint: {c}" for c in strategy.constraints]
              + [f"left out: {left_text(fleet_plan, e, keep)}: {why}"
                 for e, (keep, why) in left.items()])
    strategy.text = dump_plan(data, header, shared)
    strategy.plan = loads_plan(strategy.text, source)
    strategy.report = check_plan(strategy.plan, rs, fleet=fleet)
    for f in strategy.report.introduced():
        if f.severity == "block":
            strategy.problems.append(f"{f.check} ({f.wave}): {f.message}")
            wave = strategy.plan.rollout[f.wave_index - 1] if f.wave_index else None
            # Leave out the step that brought the problem: the host the VMs sit on if the
            # wave upgrades it, else every host of the wave.
            hosts = ([f.host] if wave and f.host in wave.hosts else list(wave.hosts) if wave
                     else [])
            for h in hosts:  # the wave is this entry's n-th step
                n = sum(1 for w in strategy.plan.rollout[:f.wave_index] if h in w.hosts)
                strategy.blamed.append((fleet_plan.host_index(h), n))
    return strategy


def plan_rollout(fleet_plan: Plan, target: Mapping[str, Any], rs: RuleSet, *,
                 max_batch: int | None = None, source: str = "<plan>") -> PlanResult:
    """The order that fixes the most VMs without introducing a block.

    What the fleet suffers before the first wave is reported, never a reason to
    refuse. Where every order of a strategy introduces a block, the host entries
    whose steps bring it are left out one at a time (each with its reason) and the
    rest is planned again; among the plans left, the one that fixes the most VMs
    wins, then the fewest warnings, waves and left-out entries.
    """
    fleet = FleetClasses(rs)
    shared: dict[str, list[str]] = {}  # the fleet's hosts and vms, written once
    tried: list[Strategy] = []
    for name, chain in STRATEGIES.items():
        left: dict[int, tuple[int, str]] = {}
        while True:
            strategy = _candidate(fleet_plan, target, rs, fleet, name, chain, left, max_batch,
                                  source, shared)
            tried.append(strategy)
            blamed = [(e, n) for e, n in dict.fromkeys(strategy.blamed)
                      if n >= 1 and n - 1 < left.get(e, (len(chain), ""))[0]]
            if not strategy.problems or not blamed:
                break
            e, n = blamed[-1]
            left[e] = (n - 1, strategy.problems[0])
    ok = [s for s in tried if s.report is not None and not s.problems
          and (s.report.waves or not s.left)]
    chosen = min(ok, key=Strategy.score) if ok else None
    if chosen is not None and chosen.left and not chosen.report.fixed_vms:  # type: ignore[union-attr]
        chosen = None  # a partial rollout that fixes nothing is no proposal
    return PlanResult(chosen, tried)
