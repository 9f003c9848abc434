"""Can every population leave its host at a moment: destinations judged, problems merged.

At every moment a host can fail, so every population must have a destination with
a non-blocking live-migration verdict, and no destination a scheduler could pick
may abort or break it (refusals and unsupported moves are the scheduler's to
filter). A population on a drained host is judged against the hosts in service; one
at rest with its own host out of service (a stack only its host runs is no
destination for it).

Problems are gathered per population and context over the moments of a step and
reported when the step ends: one ``check.no-evacuation-target`` (with the phases
where it happened) and one ``check.unsafe-targets`` (with every failing destination
stack and the blocks that ran it), deduplicated across steps. Whether a problem is
the rollout's is decided against the fleet before any wave: the same VMs (spec and
SEOIB state) failing the same way towards hosts that already failed them is
pre-existing, whatever stack those hosts have moved to since. VMs restarted on the
host a drain moved them to are held to what any drain risks before the rollout (its
VMs restarted where they could go, then moved on), VMs restarted at home to what the
VMs running before it already suffer.

Verdicts are asked once per (VM class, set of destination stacks) and once per
look of a moment, so a moment costs its stacks and looks, never its host entries.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .findings import Finding, Target
from .fleetclasses import BootedVMClass, FleetClasses, spec_content
from .fleetstate import FleetState, Moment
from .populations import Pop, Populations

__all__ = ["BAD_STATES", "CLEAN_FAILURES", "NOT_PICKABLE", "Acc", "Evacuations", "Walk", "no_worse"]

NOT_PICKABLE = {"unsupported"}  # schedulers filter on machine type and irqchip support
CLEAN_FAILURES = {"refused"}  # the source keeps running; the scheduler retries elsewhere
BAD_STATES = {"storm", "stuck", "start-fails"}
_PHASES = 8  # phases a finding lists; more are counted


def no_worse(fleet: FleetClasses, vmc: BootedVMClass, v: dict[str, Any]) -> bool:
    """A migration that lands the guest in the storm or stuck state it already had at
    its source is no failure of the move; check.initial-state reports the guest."""
    return v["outcome"] in BAD_STATES and v["outcome"] == fleet.boot(vmc)["outcome"]


class Walk(Protocol):
    """What judging needs from the rollout walking the waves (seoib.plan.rollout.Rollout)."""

    fleet: FleetClasses
    state: FleetState
    pops: Populations
    origin: Sequence[int]  # each block's stack before any wave

    def kind(self, pop: Pop) -> str: ...
    def who(self, pop: Pop, kind: str | None = None) -> str: ...
    def block_names(self, blocks: frozenset[int] | set[int]) -> str: ...
    def finding(self, check: str, severity: str, wave: Any, k: int, context: str, pop: Pop,
                line: int, message: str, verdicts: list[dict[str, Any]],
                kind: str | None = None, **extra: Any) -> Finding: ...
    def add(self, f: Finding, dedupe: tuple | None = None,
            problem: tuple | None = None) -> None: ...
    def end_of_wave_hosts(self) -> dict[int, int]: ...
    def end_stack(self, b: int) -> int: ...


@dataclass
class _Target:
    """A destination stack over the moments of a step: the blocks that ran it."""

    cid: int
    outcome: str
    severity: str
    blocks: set[int] = field(default_factory=set)
    labels: dict[str, None] = field(default_factory=dict)


@dataclass
class Acc:
    """One population's evacuation problems over the moments of one step."""

    pop: Pop
    kind: str
    context: str
    line: int
    stuck: dict[str, None] = field(default_factory=dict)  # phases, in order
    more: int = 0  # phases beyond the ones listed
    stuck_targets: dict[int, _Target] = field(default_factory=dict)
    stuck_verdicts: list[dict[str, Any]] = field(default_factory=list)
    unsafe: dict[tuple[int, str], _Target] = field(default_factory=dict)
    unsafe_verdicts: list[dict[str, Any]] = field(default_factory=list)
    transient: bool = True  # only in the middle of a wave, before more hosts are upgraded
    merged: set[tuple] = field(default_factory=set)  # (moment signature, stacks) already merged


class Evacuations:
    """Judges populations at moments and turns what fails into findings."""

    def __init__(self, walk: Walk) -> None:
        self.walk = walk
        self.fleet = walk.fleet
        self._acc: dict[tuple, Acc] = {}
        self._looked: set[tuple] = set()  # moment signatures already judged in this step
        self._judged: dict[tuple, tuple[list[int], list[tuple[int, dict[str, Any]]]]] = {}
        # (VM class, destination stacks) -> a safe one exists and every failing one is
        # filtered by schedulers: nothing to report for that look.
        self._fine: dict[tuple[int, frozenset[int]], bool] = {}
        self.hazards: set[tuple] = set()  # (VM spec, boot policy, origin stack, outcome) today
        self.initial_problems: set[tuple] = set()
        self.seen: set[tuple] = set()
        self.step = 0  # bumped at every flush: accumulators of an earlier step are gone

    def fork(self, walk: Walk) -> Evacuations:
        """A copy for a copy of the rollout, between two steps (verdict memos shared)."""
        assert not self._acc, "a fork between two steps"
        new = copy.copy(self)
        new.walk, new.seen, new._looked = walk, set(self.seen), set()
        return new

    # -- verdicts --------------------------------------------------------------------

    def judge(self, vmc: BootedVMClass, ids: frozenset[int]
              ) -> tuple[list[int], list[tuple[int, dict[str, Any]]]]:
        """Safe destination stacks, and the blocking ones with their verdicts."""
        key = (vmc.id, ids)
        hit = self._judged.get(key)
        if hit is None:
            safe, blocked = [], []
            for cid in sorted(ids):
                v = self.fleet.migrate(vmc, self.fleet.hosts[cid])
                if v["severity"] != "block" or no_worse(self.fleet, vmc, v):
                    safe.append(cid)
                else:
                    blocked.append((cid, v))
            hit = self._judged[key] = (safe, blocked)
        return hit

    def _ok(self, vmc: BootedVMClass, ids: frozenset[int]) -> bool:
        hit = self._fine.get((vmc.id, ids))
        if hit is None:
            safe, blocked = self.judge(vmc, ids)
            hit = self._fine[(vmc.id, ids)] = bool(safe) and all(
                v["outcome"] in NOT_PICKABLE for _, v in blocked)
        return hit

    # -- one population at one moment ------------------------------------------------

    def evacuate(self, pop: Pop, m: Moment, phase: str, context: str, line: int,
                 transient: bool = False, ids: frozenset[int] | None = None) -> Acc | None:
        """Judge ``pop`` leaving at ``m``; the accumulator it got stuck in, if it did."""
        if ids is None:
            ids = m.ids
        safe, blocked = self.judge(pop.vmc, ids)
        pickable = [(c, v) for c, v in blocked if v["outcome"] not in NOT_PICKABLE]
        if safe and not pickable:
            return None
        acc = self._acc.get((pop.key(), context))
        if acc is None:
            acc = self._acc[(pop.key(), context)] = Acc(pop, self.walk.kind(pop), context, line)
        if not safe:
            acc.transient = acc.transient and transient
            self.note(acc, phase)
        # The same destinations, run by the same blocks, were merged at an earlier moment.
        mark = (m.signature, ids, not safe)
        if mark in acc.merged:
            return None if safe else acc
        acc.merged.add(mark)
        if not safe:
            for cid, v in blocked:
                self._merge(acc.stuck_targets, cid, (cid, v), m)
                if not any(x is v for x in acc.stuck_verdicts):
                    acc.stuck_verdicts.append(v)
        for cid, v in pickable:
            self._merge(acc.unsafe, (cid, v["outcome"]), (cid, v), m)
            if not any(x is v for x in acc.unsafe_verdicts):
                acc.unsafe_verdicts.append(v)
        return None if safe else acc

    @staticmethod
    def note(acc: Acc, phase: str) -> None:
        """``acc``'s VMs had nowhere to go ``phase`` too."""
        if phase not in acc.stuck:
            if len(acc.stuck) < _PHASES:
                acc.stuck[phase] = None
            else:
                acc.more += 1

    def _merge(self, into: dict[Any, _Target], key: Any, found: tuple[int, dict[str, Any]],
               m: Moment) -> None:
        """The blocks running the stack at ``m`` join the target."""
        cid, v = found
        target = into.get(key)
        if target is None:
            target = into[key] = _Target(cid, v["outcome"], v["severity"])
        for b in m.blocks(cid):
            if b not in target.blocks:
                target.blocks.add(b)
                target.labels.setdefault(self.walk.state.label(b, cid), None)

    def steady(self, m: Moment, phase: str, context: str, line: int) -> None:
        """Every population, each with its own host out of service."""
        state = self.walk.state
        pops = self.walk.pops
        # Most moments of a wave look alike to every population: judge each look once.
        signature = (m.signature, pops.version, state.splits, context)
        if signature in self._looked:
            return
        self._looked.add(signature)
        base, lonely = m.ids, m.lonely
        alone = {c: base - {c} for c in lonely}  # a host's only peer of its stack is itself
        # Populations on a block that a wave has split are judged one by one (its old and
        # upgraded hosts run different stacks), the rest by look.
        bad: list[tuple[Pop, frozenset[int]]] = []
        splits = state.splits
        for (_, stack), group in pops.looks.items():
            ids = alone.get(stack, base)
            if self._ok(next(iter(group.values())).vmc, ids):
                continue  # the look is fine: none of its populations needs a look of its own
            bad.extend((p, ids) for p in group.values() if p.where not in splits)
        for b in splits:
            for pop in pops.at(b):
                ids = alone.get(state.stack(b, pop.upgraded), base)
                if not self._ok(pop.vmc, ids):
                    bad.append((pop, ids))
        bad.sort(key=lambda b: b[0].seq)
        for pop, ids in bad:
            if pops.count(pop) == 0:
                continue
            self.evacuate(pop, m, phase, context, line, context == "during-wave", ids)

    # -- findings ----------------------------------------------------------------------

    def flush(self, wave: Any, k: int, initial: bool = False) -> None:
        for acc in self._acc.values():
            if initial:
                acc.line = acc.pop.item.line
            self._emit(acc, wave, k)
        self._acc.clear()
        self._looked.clear()
        self.step += 1

    def _state(self, pop: Pop) -> tuple:
        return self._booted(pop.item.spec, pop.vmc, pop.away)

    def _booted(self, spec: Any, vmc: BootedVMClass, away: bool) -> tuple:
        """VMs by what they are: their spec's content and the SEOIB state of their boot; and
        whether they got it restarted where a drain moved them (what any drain risks
        today), not at home (what the rollout does to its own hosts)."""
        return (spec_content(spec), self.fleet.boot(vmc)["policy"], away)

    def restarted_hazards(self, pops: list[Pop], m: Moment) -> None:
        """What the fleet already risks before any wave when a host is drained: its VMs
        restarted where they were moved, then moved on. Known, so not the rollout's."""
        origin, fleet = self.walk.origin, self.fleet
        for pop in pops:
            for cid in self.judge(pop.vmc, m.ids)[0]:
                vmc = fleet.vm_class(pop.item.spec, fleet.hosts[cid])
                if not fleet.registers(fleet.hosts[cid], vmc):
                    continue
                state = self._booted(pop.item.spec, vmc, True)
                for dst in m.ids:
                    v = fleet.migrate(vmc, fleet.hosts[dst])
                    if v["severity"] == "block" and not no_worse(fleet, vmc, v):
                        self.hazards.update((state, origin[b], v["outcome"]) for b in m.blocks(dst))

    def known(self, pop: Pop, blocks: list[int], outcome: str) -> bool:
        """Whether moving ``pop`` onto ``blocks`` failed this way before any wave."""
        state, origin = self._state(pop), self.walk.origin
        return all((state, origin[b], outcome) in self.hazards for b in blocks)

    def _pairs(self, pop: Pop, targets: list[_Target]) -> set[tuple]:
        """What the problem is, by the hosts' origin: (VM state, origin stack, outcome)."""
        origin = self.walk.origin
        state = self._state(pop)
        return {(state, origin[b], t.outcome) for t in targets for b in t.blocks}

    def _emit(self, acc: Acc, wave: Any, k: int) -> None:
        walk, pop, dedupe = self.walk, acc.pop, acc.context != "draining"
        who = walk.who(pop, acc.kind)
        hazards = self._pairs(pop, [*acc.stuck_targets.values(), *acc.unsafe.values()])
        if acc.context == "initial":
            self.hazards |= hazards
        # The same VMs in the same state already fail on the same hosts before any wave.
        known = bool(hazards) and hazards <= self.hazards
        cause = "pre-existing" if known else "rollout"
        if acc.stuck:
            targets = list(acc.stuck_targets.values())
            outcomes = ", ".join(f"{t.outcome} on {self._label(t)}" for t in targets)
            phases = list(acc.stuck) + ([f"and {acc.more} more moments"] if acc.more else [])
            msg = (f"{who}: no destination with a non-blocking verdict {'; '.join(phases)}"
                   + (f" ({outcomes})" if outcomes else " (no other host)"))
            key = ("evac", pop.key(), tuple(sorted(acc.stuck_targets)))
            # VMs booted on the first upgraded hosts of a group wait for upgraded peers; if
            # every other host merely refuses them, nothing breaks meanwhile: a warning.
            clean = all(t.outcome in CLEAN_FAILURES | NOT_PICKABLE for t in targets)
            transient = acc.transient and clean and bool(targets) and self._resolved(pop)
            if transient:
                msg += "; until more hosts of the wave are upgraded, do not drain these hosts"
            walk.add(walk.finding(
                "check.no-evacuation-target", "warn" if transient else "block", wave, k,
                acc.context, pop, acc.line, msg, acc.stuck_verdicts, acc.kind,
                targets=[self._public(t) for t in targets], phases=phases, cause=cause),
                key if dedupe else None, ("evac", pop.key()))
        if acc.unsafe:
            targets = sorted(acc.unsafe.values(), key=lambda t: (t.severity, self._label(t)))
            sev = "warn" if all(t.outcome in CLEAN_FAILURES for t in targets) else "block"
            outcomes = "; ".join(f"{self._label(t)} [{walk.block_names(t.blocks)}]: {t.outcome}"
                                 for t in targets)
            msg = f"{who}: a scheduler could pick destinations that fail: {outcomes}"
            key = ("unsafe", pop.key(), tuple(sorted(acc.unsafe)))
            walk.add(walk.finding(
                "check.unsafe-targets", sev, wave, k, acc.context, pop, acc.line, msg,
                acc.unsafe_verdicts, acc.kind, targets=[self._public(t) for t in targets],
                cause=cause), key if dedupe else None, ("unsafe", pop.key()))

    @staticmethod
    def _label(t: _Target) -> str:
        return " / ".join(t.labels)

    def _public(self, t: _Target) -> Target:
        return Target(self._label(t), frozenset(t.blocks), t.outcome, t.severity)

    def _resolved(self, pop: Pop) -> bool:
        """Whether ``pop`` has a safe destination once the running wave is complete."""
        hosts = self.walk.end_of_wave_hosts()
        own = self.walk.end_stack(pop.where)
        hosts[own] = hosts.get(own, 0) - 1
        ids = frozenset(c for c, n in hosts.items() if n > 0)
        return bool(self.judge(pop.vmc, ids)[0])

