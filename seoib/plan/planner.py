"""`seoib plan`: waves that bring a fleet towards a target host spec, fixing the most VMs
without causing a block.

Alike host entries form blocks (seoib.plan.blocks), so a fleet written host by host
is planned as its grouped form. Each block has its ways to the target
(seoib.plan.chains); the search (seoib.plan.search) runs their steps one block at a
time through the same rollout `seoib check` runs, refuses any step that causes a
block, and keeps the order whose cold boots fix the most VMs. What the fleet suffers
before the first wave is reported, never a reason to refuse. Consecutive steps that
set the same versions are then merged into one wave wherever the check still passes
(at most --max-batch host entries each), and the plan is written out and checked once
more from its own text, as a user will check it.

Where no order fixes VMs without causing a block, the reasons say why: the first
step of every way, and the finding that refused it. A plan that leaves blocks out
names them and the finding that stopped their next step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import Location, SeoibError, SpecError
from ..rules.ruleset import RuleSet
from .blocks import Layout, Run, compress
from .chains import Chain, chains
from .checker import CheckReport, check_plan
from .fleetclasses import FleetClasses
from .planfile import Plan, Wave, apply_set, loads_plan
from .rollout import Rollout
from .search import Move, Outcome, search

__all__ = ["PlanResult", "Proposal", "dump_plan", "plan_rollout"]


@dataclass
class Proposal:
    """A plan that causes no block: its text, its check, and what it leaves out."""

    name: str  # the way every block takes, or "mixed: ..." when they differ
    text: str
    plan: Plan
    report: CheckReport
    left: dict[str, str] = field(default_factory=dict)  # block -> why it stops short
    constraints: list[str] = field(default_factory=list)


@dataclass
class PlanResult:
    chosen: Proposal | None
    reasons: list[str]  # why there is no proposal (or what limits it)
    outcome: Outcome | None = None


def dump_plan(data: dict[str, Any], header: list[str]) -> str:
    """YAML a person can read: one flow mapping per host, VM and wave."""
    lines = [f"# {h}" for h in header]
    for section in ("hosts", "vms", "rollout"):
        lines.append(f"{section}:" + ("" if data.get(section) else " []"))
        lines.extend(f"  - {_flow(item)}" for item in data.get(section) or [])
    return "\n".join(lines) + "\n"


def _flow(item: Any) -> str:
    return yaml.safe_dump(item, default_flow_style=True, sort_keys=False, width=1 << 16).strip()


def _bound(layout: Layout, ways: Sequence[Sequence[Chain]], fleet: FleetClasses,
           initial: Sequence[Any]) -> int:
    """VMs a cold boot could fix on some stack a block's ways reach: no order fixes more."""
    total = 0
    where = Location("--target")
    for block in layout.blocks:
        stacks = [initial[block.id]]
        for way in ways[block.id]:
            spec = dict(block.spec)
            for step in way.steps:
                spec = apply_set(spec, step.set)
                stacks.append(fleet.host_class(spec, where))
        for item in block.items:
            before = fleet.boot(fleet.vm_class(item.spec, initial[block.id]))
            if before["severity"] == "ok":
                continue
            for hc in stacks:
                vmc = fleet.vm_class(item.spec, hc)
                if fleet.registers(hc, vmc) and fleet.boot(vmc)["severity"] == "ok":
                    total += item.count
                    break
    return total


class _Writer:
    """Turns the chosen order into waves, merged where the check allows, and plan text."""

    def __init__(self, fleet_plan: Plan, layout: Layout, ways: Sequence[Sequence[Chain]],
                 root: Rollout, max_batch: int | None) -> None:
        self.p, self.layout, self.ways, self.root = fleet_plan, layout, ways, root
        self.max_batch = max_batch
        self.cut = False  # a block's step written as more than one wave

    def _wave(self, moves: Sequence[Move], k: int) -> tuple[Wave, tuple[Run, ...]]:
        step = self.ways[moves[0].block][moves[0].way].steps[moves[0].step]
        names: list[str] = []
        runs = []
        for m in moves:
            block = self.layout.blocks[m.block]
            names.extend(block.names)
            runs.append(Run(block.id, 0, block.hosts, 1, block.names))
        return (Wave(f"w{k}-{step.kind}", tuple(names), step.set, 1, (1,) * len(names)),
                tuple(runs))

    def merged(self, path: Sequence[Move]) -> list[list[Move]]:
        """Consecutive steps that set the same versions in one wave, where the check passes."""
        if not path:
            return []
        waves: list[list[Move]] = []
        walk = self.root.fork()
        i = 0
        while i < len(path):
            group, trial = [path[i]], walk.fork()
            if _causes(trial.wave(*self._wave(group, len(waves) + 1))):
                return [[m] for m in path]  # merging changed what came before: keep them apart
            j = i + 1
            while j < len(path) and self._same(path[i], path[j]) and self._fits([*group, path[j]]):
                attempt = walk.fork()
                if _causes(attempt.wave(*self._wave([*group, path[j]], len(waves) + 1))):
                    break
                group, trial = [*group, path[j]], attempt
                j += 1
            waves.append(group)
            walk, i = trial, j
        return waves

    def _same(self, a: Move, b: Move) -> bool:
        sa = self.ways[a.block][a.way].steps[a.step]
        sb = self.ways[b.block][b.way].steps[b.step]
        return sa.change == sb.change and sa.kind == sb.kind

    def _fits(self, group: Sequence[Move]) -> bool:
        entries = sum(len(self.layout.blocks[m.block].names) for m in group)
        return self.max_batch is None or entries <= self.max_batch

    def rollout(self, waves: Sequence[Sequence[Move]]) -> list[dict[str, Any]]:
        """The waves as plan data; a wave over more entries than --max-batch is cut up."""
        out: list[dict[str, Any]] = []
        for group in waves:
            step = self.ways[group[0].block][group[0].way].steps[group[0].step]
            names = [n for m in group for n in self.layout.blocks[m.block].names]
            size = self.max_batch or len(names)
            self.cut = self.cut or any(len(self.layout.blocks[m.block].names) > size for m in group)
            for start in range(0, len(names), size):
                out.append({"name": f"w{len(out) + 1}-{step.kind}",
                            "hosts": names[start:start + size], "set": step.set})
        return out


def _causes(findings: Sequence[Any]) -> bool:
    return any(f.severity == "block" and f.cause == "rollout" for f in findings)


def _describe(layout: Layout, ways: Sequence[Sequence[Chain]], move: Move) -> str:
    step = ways[move.block][move.way].steps[move.step]
    return f"{layout.blocks[move.block].name} {step.kind}"


def _name(layout: Layout, ways: Sequence[Sequence[Chain]], path: Sequence[Move]) -> str:
    taken: dict[int, str] = {}
    for m in path:
        taken[m.block] = ways[m.block][m.way].name
    names = set(taken.values())
    if len(names) <= 1:
        return next(iter(names), "kernel-first")
    return "mixed: " + ", ".join(f"{layout.blocks[b].name} {n}" for b, n in sorted(taken.items()))


def _constraints(layout: Layout, ways: Sequence[Sequence[Chain]], outcome: Outcome) -> list[str]:
    """Why the plan is ordered as it is: steps refused before the step that let them
    through, and ways a block did not take because their step was refused."""
    taken = {m.block: m.way for m in outcome.path}
    last: dict[Move, Any] = {}
    for r in outcome.refusals:
        last[r.move] = r
    out = []
    for j, move in enumerate(outcome.path):
        r = last.get(move)
        if r is not None and r.at < j:
            out.append(f"{_describe(layout, ways, move)} after "
                       f"{_describe(layout, ways, outcome.path[r.at])}: before it, {r.reason}")
    for move, r in last.items():
        way = taken.get(move.block)
        if way is not None and way != move.way and move.step == 0:
            out.append(f"{layout.blocks[move.block].name} not "
                       f"{ways[move.block][move.way].name}: {r.reason}")
    return out


def _left(layout: Layout, ways: Sequence[Sequence[Chain]], outcome: Outcome) -> dict[str, str]:
    """Blocks short of their target, and why."""
    taken: dict[int, tuple[int, int]] = {}
    for m in outcome.path:
        taken[m.block] = (m.way, m.step + 1)
    why = {r.move.block: r.reason for r in outcome.refusals if r.at == len(outcome.path)}
    out = {}
    for block in layout.blocks:
        options = ways[block.id]
        if not options:
            continue
        way, done = taken.get(block.id, (-1, 0))
        if way >= 0 and done == len(options[way].steps):
            continue
        state = "stays as it is" if done == 0 else f"stops after {done} step(s)"
        reason = why.get(block.id) or ("no more VMs are fixed by going further"
                                       if outcome.exhausted else "the search stopped first")
        out[block.name] = f"{state}: {reason}"
    return out


def plan_rollout(fleet_plan: Plan, target: Mapping[str, Any], rs: RuleSet, *,
                 max_batch: int | None = None, source: str = "<plan>",
                 budget: int = 4000, seconds: float = 120.0) -> PlanResult:
    """The order that fixes the most VMs without causing a block, as a checked plan."""
    fleet = FleetClasses(rs)
    bare = Plan(fleet_plan.source, fleet_plan.hosts, fleet_plan.vms, (),
                {h.name: i for i, h in enumerate(fleet_plan.hosts)})
    layout = compress(bare)
    root = Rollout(bare, fleet, layout)
    try:
        ways = [chains(b.spec, target, fleet) for b in layout.blocks]
        bound = _bound(layout, ways, fleet, root.initial)
    except SpecError as err:
        raise SpecError(f"the target gives a host spec the rules refuse: {err.message}",
                        Location("--target")) from None
    root.start()
    outcome = search(root, layout, ways, bound, budget=budget, seconds=seconds)
    reasons = [f"{_describe(layout, ways, r.move)} first: {r.reason}" for r in outcome.first]
    if not outcome.complete and outcome.fixed == 0:
        if outcome.path:
            reasons.append("the orders that cause no block fix no VM")
        return PlanResult(None, reasons, outcome)
    writer = _Writer(fleet_plan, layout, ways, root, max_batch)
    data = fleet_plan.as_data()
    data["rollout"] = writer.rollout(writer.merged(outcome.path))
    name = _name(layout, ways, outcome.path)
    constraints = _constraints(layout, ways, outcome)
    left = _left(layout, ways, outcome)
    header = ([f"seoib plan: strategy {name}"]
              + [f"constraint: {c}" for c in constraints]
              + [f"left out: {b} {why}" for b, why in left.items()])
    text = dump_plan(data, header)
    try:
        plan = loads_plan(text, source)
    except SeoibError as err:  # the plan we wrote must read back: anything else is a bug
        raise AssertionError(f"seoib plan wrote a plan it cannot read: {err}") from err
    report = check_plan(plan, rs, fleet=fleet)
    caused = [f for f in report.introduced() if f.severity == "block"]
    if caused and writer.cut:
        # A block cut into waves of --max-batch entries stands half upgraded between two
        # waves, a moment the search (one wave per block) did not see.
        return PlanResult(None, [*reasons, f"with --max-batch {max_batch}, "
                                 f"{caused[0].check}: {caused[0].message}"], outcome)
    if caused:  # the search ran the same check; a difference is a bug, never a proposal
        raise AssertionError(f"the planned rollout fails its own check: {caused[0].message}")
    return PlanResult(Proposal(name, text, plan, report, left, constraints), reasons, outcome)
