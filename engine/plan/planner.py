"""`seoib plan`: waves that bring a fleet to a target host spec safely, or why none exist.

Model. Each host entry's upgrade splits into a kernel step (kernel, x2apic-api) and
a QEMU step (qemu, seoib, machines); a strategy fixes the order inside every entry
(kernel first, QEMU first, or both at once). An entry then passes through states
s0 -> s1 -> ... Two states conflict when a VM living on one (booted there, or
still running from before the rollout) migrating to the other aborts or breaks
(refusals and unsupported moves are left to the scheduler and to the check).
Conflicting states must never coexist, which orders steps: either the first
entry leaves its state before the second enters its own, or the other way round.
When only one way exists it is forced; otherwise the less advanced entry goes
first. The ordering graph's topological generations become waves (one wave per
kind of change, at most --max-batch entries each). Every candidate plan is then
run through ``seoib check``; the first strategy in the order of fewest blocks,
warnings and waves wins. A cycle, or a check that blocks in every strategy, is
reported with its reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import networkx as nx
import yaml

from ..errors import Location
from ..ruleset import RuleSet
from .checker import CheckReport, check_plan
from .findings import engine_rules
from .fleet import Fleet, HostClass
from .model import Plan, apply_set, loads_plan
from .rollout import harmful

__all__ = ["PlanResult", "Strategy", "dump_plan", "plan_rollout"]

KERNEL_KEYS = ("kernel", "x2apic-api")
QEMU_KEYS = ("qemu", "seoib", "machines")
STRATEGIES = {"kernel-first": ("kernel", "qemu"), "qemu-first": ("qemu", "kernel"),
              "together": ("kernel+qemu",)}


@dataclass
class Strategy:
    name: str
    constraints: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why this strategy has no safe order
    plan: Plan | None = None
    text: str | None = None
    report: CheckReport | None = None

    def score(self) -> tuple[int, int, int]:
        if self.report is None:
            return (1 << 30, 0, 0)
        c = self.report.counts()
        return (c["block"], c["warn"], len(self.report.waves))


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
    def __init__(self, fleet_plan: Plan, target: Mapping[str, Any], fleet: Fleet,
                 chain: tuple[str, ...]) -> None:
        self.p, self.fleet = fleet_plan, fleet
        self.where = Location("--target")
        self.steps: list[list[_Step]] = []
        self.states: list[list[HostClass]] = []
        for e, h in enumerate(fleet_plan.hosts):
            parts = {"kernel": _changes(h.spec, target, KERNEL_KEYS),
                     "qemu": _changes(h.spec, target, QEMU_KEYS)}
            parts["kernel+qemu"] = {**parts["kernel"], **parts["qemu"]}
            spec: dict[str, Any] = dict(h.spec)
            states = [fleet.host_class(h.spec, Location(fleet_plan.source, h.line))]
            steps = []
            for kind in chain:
                if parts[kind]:
                    spec = apply_set(spec, parts[kind])
                    states.append(fleet.host_class(spec, self.where))
                    steps.append(_Step(e, len(steps) + 1, kind, tuple(parts[kind].items())))
            self.steps.append(steps)
            self.states.append(states)

    def _conflict(self, g: int, i: int, h: int, j: int) -> str | None:
        """Why VMs of entry g in state i and entry h in state j must not coexist, if so."""
        for a, ai, b, bj in ((g, i, h, j), (h, j, g, i)):
            dst = self.states[b][bj]
            # VMs boot between waves: while an entry is upgraded, none has booted on its
            # new state yet, only on its original and its previous one.
            boot_state = min(i, j) if g == h else ai
            for v in self.p.vms:
                if self.p.host_index(v.host) != a:
                    continue
                for boot in dict.fromkeys((self.states[a][0], self.states[a][boot_state])):
                    vmc = self.fleet.vm_class(v.spec, boot)
                    verdict = self.fleet.migrate(vmc, dst)
                    if harmful(self.fleet, vmc, verdict):
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
        n = len(self.steps)
        pairs = [(a, b) for a in range(n) for b in range(a, n)]
        for a, b in pairs:
            ma, mb = len(self.steps[a]), len(self.steps[b])
            for i in range(ma + 1):
                for j in range(mb + 1):
                    if a == b and j != i + 1:
                        continue  # an entry's states coexist only while it is being upgraded
                    if (i, j) == (0, 0):
                        continue  # as the fleet stands today: the check reports it
                    why = self._conflict(a, i, b, j)
                    if why is None:
                        continue
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


def dump_plan(data: dict[str, Any], header: list[str]) -> str:
    """YAML a person can read: one flow mapping per host, VM and wave."""
    lines = [f"# {h}" for h in header]
    for section in ("hosts", "vms", "rollout"):
        lines.append(f"{section}:" + ("" if data.get(section) else " []"))
        for item in data.get(section) or []:
            flow = yaml.safe_dump(item, default_flow_style=True, sort_keys=False, width=1 << 16)
            lines.append(f"  - {flow.strip()}")
    return "\n".join(lines) + "\n"


def plan_rollout(fleet_plan: Plan, target: Mapping[str, Any], rs: RuleSet, *,
                 max_batch: int | None = None, source: str = "<plan>") -> PlanResult:
    fleet = Fleet(rs)
    tried: list[Strategy] = []
    for name, chain in STRATEGIES.items():
        strategy = Strategy(name)
        tried.append(strategy)
        builder = _Builder(fleet_plan, target, fleet, chain)
        g = builder.graph(strategy)
        if strategy.problems:
            continue
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            for a, b in cycle:
                strategy.problems.append(
                    f"{fleet_plan.hosts[a.entry].name} {a.kind} must come before "
                    f"{fleet_plan.hosts[b.entry].name} {b.kind}: {g.edges[a, b]['why']}")
            continue
        data = fleet_plan.as_data()
        data["rollout"] = _waves(fleet_plan, g, max_batch)
        header = [f"seoib plan: strategy {name}"] + [f"constraint: {c}" for c in
                                                     strategy.constraints]
        strategy.text = dump_plan(data, header)
        strategy.plan = loads_plan(strategy.text, source)
        strategy.report = check_plan(strategy.plan, rs, fleet=fleet)
        if strategy.report.counts()["block"]:
            strategy.problems += [f"{f.check} ({f.wave or 'before the rollout'}): {f.message}"
                                  for f in strategy.report.findings if f.severity == "block"]
    ok = [s for s in tried if s.report is not None and not s.problems]
    chosen = min(ok, key=Strategy.score) if ok else None
    return PlanResult(chosen, tried)
