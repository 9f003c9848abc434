"""Wave simulation over host and VM classes, following every VM population through time.

Semantics (the contract ``seoib check`` documents):
- Waves run in order. Within a wave each listed host entry is taken in order, and
  the hosts of a group one at a time: a host is drained (its VMs live-migrate to any
  host not being drained, at that host's versions of the moment), upgraded with the
  wave's ``set``, and refilled (its VMs migrate back).
- A group of n hosts passes through these moments: draining the first host (the
  rest still old), one host upgraded, draining a middle host (old and upgraded
  peers), all but one upgraded, draining the last host (all peers upgraded), done.
  Hosts of other entries are as the rollout has left them at that moment.
- Populations (seoib.plan.populations): the VMs running since before the rollout,
  and VMs cold-booted at any moment on any stack their home host runs: the stack of
  the last boundary (fresh), a host the running wave already upgraded (in-wave), a
  stack a later wave replaced (intermediate). VMs whose drain cannot be undone (their
  machine type is gone, the refill is blocked) stay where the drain put them
  (stranded) and are counted there. A VM keeps the SEOIB state of its boot.
- At every moment every population must have a destination with a non-blocking
  live-migration verdict (a host can fail at any time), and a safe boot. Findings
  at a moment without a drain are reported once, when they first appear.
- With ``capacity`` (VMs per host) a drain must also fit where its VMs may go; with
  ``snapshots: true`` a VM entry's snapshots taken before each wave are restored into
  the VM as it runs after (cold-booted on the new stack) and judged like
  ``seoib migrate --snapshot``.

Cost follows classes, not entries: a moment is judged per look (VM class, stack
it sits on), populations are found through their indexes, and only findings and
capacity list the host entries one by one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..errors import Location
from .capacity import Bucket, Demand, StackRoom, buckets, place, unplaced
from .endstate import EndState
from .findings import Finding, Target, engine_rules
from .fleetclasses import BootedVMClass, FleetClasses, HostClass
from .moments import HostPart, Moment, merge_targets, part_name, without
from .planfile import Plan, VMEntry, Wave, apply_set
from .populations import Pop, Populations

__all__ = ["Rollout", "RolloutResult", "harmful", "no_worse"]

_NOT_PICKABLE = {"unsupported"}  # schedulers filter on machine type and irqchip support
_CLEAN_FAILURES = {"refused"}  # the source keeps running; the scheduler retries elsewhere
_BAD_STATES = {"storm", "stuck", "start-fails"}


def no_worse(fleet: FleetClasses, vmc: BootedVMClass, v: dict[str, Any]) -> bool:
    """A migration that lands the guest in the storm or stuck state it already had at
    its source is no failure of the move; check.initial-state reports the guest."""
    return v["outcome"] in _BAD_STATES and v["outcome"] == fleet.boot(vmc)["outcome"]


def harmful(fleet: FleetClasses, vmc: BootedVMClass, v: dict[str, Any]) -> bool:
    """Blocking in a way no scheduler filters and no retry undoes: aborts, broken guests."""
    return (v["severity"] == "block" and v["outcome"] not in _NOT_PICKABLE | _CLEAN_FAILURES
            and not no_worse(fleet, vmc, v))


@dataclass
class RolloutResult:
    findings: list[Finding]
    final: list[HostClass]
    waves: list[dict[str, Any]]
    fixed_vms: int = 0  # VMs that storm, get stuck or fail before and boot fine at the end
    broken_vms: int = 0  # VMs fine before whose cold boot at the end is bad


@dataclass
class _Acc:
    """One population's evacuation problems over the moments of one step."""

    pop: Pop
    kind: str
    context: str
    line: int
    stuck: list[str] = field(default_factory=list)
    stuck_targets: dict[int, Target] = field(default_factory=dict)
    stuck_verdicts: list[dict[str, Any]] = field(default_factory=list)
    unsafe: dict[tuple[int, str], Target] = field(default_factory=dict)
    unsafe_verdicts: list[dict[str, Any]] = field(default_factory=list)
    transient: bool = True  # only in the middle of a wave, before more hosts are upgraded
    last: dict[tuple, Target] = field(default_factory=dict)  # the moment's target merged last


class Rollout:
    def __init__(self, plan: Plan, fleet: FleetClasses) -> None:
        self.plan = plan
        self.fleet = fleet
        src = plan.source
        where = [Location(src, h.line) for h in plan.hosts]
        self.specs: list[dict[str, Any]] = [dict(h.spec) for h in plan.hosts]
        self.initial = [fleet.host_class(h.spec, w) for h, w in zip(plan.hosts, where, strict=True)]
        self.cur = list(self.initial)
        self.labels = [fleet.label(h.spec, w) for h, w in zip(plan.hosts, where, strict=True)]
        self.pops = Populations(lambda where: self.cur[where].id)
        self._vms_at: dict[int, list[VMEntry]] = {}  # host entry -> its VM entries, in plan order
        for v in plan.vms:
            idx = plan.host_index(v.host)
            self._vms_at.setdefault(idx, []).append(v)
            vmc = fleet.vm_class(v.spec, self.initial[idx])
            self.pops.add(Pop(v, idx, vmc, idx, 0, self.labels[idx]), v.count)
        self.last_wave: list[int | None] = [None] * len(plan.hosts)
        self.findings: list[Finding] = []
        self._seen: set[tuple] = set()
        self._initial_problems: set[tuple] = set()
        self._hazards: set[tuple] = set()  # (VM spec and boot policy, (stack, outcome)) today
        self._acc: dict[tuple, _Acc] = {}
        self._looked: set[tuple] = set()  # fleet looks already judged in this step
        self._targets: dict[tuple, Target] = {}
        self._targets_of: Moment | None = None
        self._inside: dict[tuple[int, int], tuple[Target, Target, bool]] = {}
        self._judged: dict[tuple, tuple[list[int], list[tuple[int, dict[str, Any]]]]] = {}
        # (VM class, destination stacks) -> a safe one exists and every failing one is
        # filtered by schedulers: nothing to report for that look.
        self._fine: dict[tuple[int, frozenset[int]], bool] = {}
        self._upgrading: tuple[int, HostClass] | None = None  # entry under upgrade, new class
        self._capacity = any(h.capacity is not None for h in plan.hosts)
        self._room = StackRoom(plan.hosts, self.pops.load)
        self._wave = 0  # the wave running now (0: before the rollout or at a boundary)
        # Every entry as it stands between upgrades, and hosts per stack over them.
        self._still = [HostPart(i, h.name, self.cur[i], h.count, self.labels[i])
                       for i, h in enumerate(plan.hosts)]
        self._stacks: Counter[int] = Counter()
        for p in self._still:
            self._stacks[p.hc.id] += p.hosts
        self._moment: Moment | None = None  # the moment between upgrades, once built
        for p in self._still:
            self._room.set(p)
        self._wave_hosts: set[int] = set()
        self._wave_end: dict[int, tuple[HostClass, str]] = {}  # entry -> stack after the wave
        self._new_label = ""

    # -- who, where ----------------------------------------------------------------

    def _kind(self, pop: Pop) -> str:
        if pop.where != pop.home:
            return "stranded"
        if pop.born == 0 and pop.vmc.boot is self.initial[pop.home]:
            return "original"
        if self._wave and pop.born == self._wave:
            return "in-wave"
        return "fresh" if pop.vmc.boot is self.cur[pop.home] else "intermediate"

    def _who(self, pop: Pop, kind: str | None = None) -> str:
        host = self.plan.hosts[pop.where]
        kind = kind or self._kind(pop)
        n = self.pops.count(pop)
        vms = f"{pop.entry.name} ({n} VM{'s' if n != 1 else ''}"
        if kind == "stranded":
            return (f"{vms} of {self.plan.hosts[pop.home].name}, stranded) on {host.describe()}, "
                    f"booted on {pop.booted_on}")
        return f"{vms}, {kind}) on {host.describe()}, booted on {pop.booted_on}"

    def _booted(self, pop: Pop) -> dict[str, Any]:
        wave = self.plan.rollout[pop.born - 1].name if pop.born else None
        return {"host": self.plan.hosts[pop.home].name, "stack": pop.booted_on, "wave": wave}

    def _finding(self, check: str, severity: str, wave: Wave | None, k: int, context: str,
                 pop: Pop, line: int, message: str, verdicts: list[dict[str, Any]],
                 kind: str | None = None, **extra: Any) -> Finding:
        host = self.plan.hosts[pop.where]
        return Finding(check, severity, wave.name if wave else None, k, context, host.name,
                       host.count, pop.entry.name, max(self.pops.count(pop), 1),
                       kind or self._kind(pop),
                       line, pop.entry.line, message, engine_rules(verdicts),
                       booted=self._booted(pop), **extra)

    # -- the fleet at a moment -----------------------------------------------------

    def _parts(self, idx: int | None = None, old: int = 0, new: int = 0) -> Moment:
        """Every entry as it stands; entry ``idx`` (under upgrade) split into old and new."""
        if idx is None or self._upgrading is None:
            if self._moment is None:
                self._moment = Moment(self._still, self._stacks)
            return self._moment
        h = self.plan.hosts[idx]
        return Moment(self._still, self._stacks, (
            HostPart(idx, h.name, self.cur[idx], old, self.labels[idx]),
            HostPart(idx, h.name, self._upgrading[1], new, self._new_label, True)))

    def _judge(self, vmc: BootedVMClass, ids: frozenset[int]
               ) -> tuple[list[int], list[tuple[int, dict[str, Any]]]]:
        """Safe destination classes, and the blocking ones with their verdicts."""
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

    def _target(self, m: Moment, cid: int, v: dict[str, Any]) -> Target:
        """A destination stack at this moment, named by the host entries that run it."""
        if self._targets_of is not m:  # one moment's parts at a time
            self._targets_of, self._targets = m, {}
        key = (cid, v["outcome"])
        hit = self._targets.get(key)
        if hit is None:
            own = [p for p in m.parts if p.hc.id == cid and p.hosts > 0]
            labels = " / ".join(dict.fromkeys(p.label for p in own))
            hit = self._targets[key] = Target(
                labels, tuple(dict.fromkeys(part_name(p) for p in own)), v["outcome"],
                v["severity"])
        return hit

    # -- evacuation ----------------------------------------------------------------

    def _evacuate(self, pop: Pop, parts: Moment, phase: str, context: str, line: int,
                  transient: bool = False, ids: frozenset[int] | None = None) -> None:
        if ids is None:
            ids = parts.ids
        safe, blocked = self._judge(pop.vmc, ids)
        pickable = [(c, v) for c, v in blocked if v["outcome"] not in _NOT_PICKABLE]
        if safe and not pickable:
            return
        acc = self._acc.get((pop.key(), context))
        if acc is None:
            acc = self._acc[(pop.key(), context)] = _Acc(pop, self._kind(pop), context, line)
        if not safe:
            acc.transient = acc.transient and transient
            acc.stuck.append(phase)
            for cid, v in blocked:
                acc.stuck_targets[cid] = self._merge(acc, ("stuck", cid),
                                                     acc.stuck_targets.get(cid),
                                                     self._target(parts, cid, v))
                if not any(x is v for x in acc.stuck_verdicts):
                    acc.stuck_verdicts.append(v)
        for cid, v in pickable:
            acc.unsafe[(cid, v["outcome"])] = self._merge(acc, ("unsafe", cid, v["outcome"]),
                                                          acc.unsafe.get((cid, v["outcome"])),
                                                          self._target(parts, cid, v))
            if not any(x is v for x in acc.unsafe_verdicts):
                acc.unsafe_verdicts.append(v)

    def _merge(self, acc: _Acc, key: tuple, seen: Target | None, now: Target) -> Target:
        """``merge_targets(seen, now)``, without comparing host lists where it is known.

        ``seen`` holds every target merged into it, the last one too; when that one
        holds ``now`` (asked once per pair of moments, for every population alike),
        so does ``seen``, and the merge keeps ``seen``.
        """
        last = acc.last.get(key)
        acc.last[key] = now
        if seen is not None and last is not None and (last is now or self._within(now, last)):
            return seen
        return merge_targets(seen, now)

    def _within(self, now: Target, last: Target) -> bool:
        hit = self._inside.get((id(now), id(last)))
        if hit is None:  # the value keeps both targets alive: their ids stay theirs
            hit = self._inside[(id(now), id(last))] = (now, last, now.host_set <= last.host_set)
        return hit[2]

    def _flush(self, wave: Wave | None, k: int) -> None:
        for acc in self._acc.values():
            self._emit(acc, wave, k)
        self._acc.clear()
        self._looked.clear()
        self._inside.clear()

    def _emit(self, acc: _Acc, wave: Wave | None, k: int) -> None:
        pop, dedupe = acc.pop, acc.context != "draining"
        who = self._who(pop, acc.kind)
        state = (pop.entry.spec, self.fleet.boot(pop.vmc)["policy"])
        stuck = {(cid, t.outcome) for cid, t in acc.stuck_targets.items()}
        hazards = {(state, pair) for pair in stuck | set(acc.unsafe)}
        if acc.context == "initial":
            self._hazards |= hazards
        # The same VMs in the same state already fail on the same stacks before any wave.
        known = bool(hazards) and hazards <= self._hazards
        if acc.stuck:
            outcomes = ", ".join(f"{t.outcome} on {t.label}" for t in acc.stuck_targets.values())
            msg = (f"{who}: no destination with a non-blocking verdict {'; '.join(acc.stuck)}"
                   + (f" ({outcomes})" if outcomes else " (no other host)"))
            key = ("evac", pop.key(), tuple(sorted(acc.stuck_targets)))
            # VMs booted on the first upgraded hosts of a group wait for upgraded peers; if
            # every other host merely refuses them, nothing breaks meanwhile: a warning.
            clean = all(t.outcome in _CLEAN_FAILURES | _NOT_PICKABLE
                        for t in acc.stuck_targets.values())
            transient = (acc.transient and clean and bool(acc.stuck_targets)
                         and self._resolved(pop))
            if transient:
                msg += "; until more hosts of the wave are upgraded, do not drain these hosts"
            self._add(self._finding(
                "check.no-evacuation-target",
                "warn" if transient else "block", wave, k, acc.context, pop, acc.line, msg,
                acc.stuck_verdicts, acc.kind, targets=list(acc.stuck_targets.values()),
                phases=acc.stuck, cause="pre-existing" if known else "rollout"),
                key if dedupe else None, ("evac", pop.key()))
        if acc.unsafe:
            targets = sorted(acc.unsafe.values(), key=lambda t: (t.severity, t.label))
            sev = "warn" if all(t.outcome in _CLEAN_FAILURES for t in targets) else "block"
            outcomes = "; ".join(f"{t.label} [{', '.join(t.hosts)}]: {t.outcome}" for t in targets)
            msg = f"{who}: a scheduler could pick destinations that fail: {outcomes}"
            key = ("unsafe", pop.key(), tuple(sorted(acc.unsafe)))
            self._add(self._finding(
                "check.unsafe-targets", sev, wave, k, acc.context, pop, acc.line, msg,
                acc.unsafe_verdicts, acc.kind, targets=targets,
                cause="pre-existing" if known else "rollout"), key if dedupe else None,
                ("unsafe", pop.key()))

    def _resolved(self, pop: Pop) -> bool:
        """Whether ``pop`` has a safe destination once the running wave is complete."""
        parts = []
        for p in self._parts().parts:
            if p.entry in self._wave_hosts:
                hc, label = self._wave_end[p.entry]
                p = HostPart(p.entry, p.name, hc, p.hosts, label)
            parts.append(p)
        ids = frozenset(p.hc.id for p in without(parts, pop.where, False) if p.hosts > 0)
        return bool(self._judge(pop.vmc, ids)[0])

    def _add(self, f: Finding, dedupe: tuple | None = None, problem: tuple | None = None) -> None:
        if dedupe is not None:
            if dedupe in self._seen:
                return
            self._seen.add(dedupe)
        if problem is not None:
            if f.wave_index == 0:
                self._initial_problems.add(problem)
            elif problem in self._initial_problems:
                f.cause = "pre-existing"  # the VMs had this problem before any wave
        if f.wave_index == 0:
            f.cause = "pre-existing"
        self.findings.append(f)

    def _steady(self, m: Moment, phase: str, context: str, line: int) -> None:
        """Every population, each with its own host out of service."""
        base, lonely = m.ids, m.lonely
        # Most moments of a wave look alike to every population: judge each look once.
        signature = (base, lonely, self.pops.version, context)
        if signature in self._looked:
            return
        self._looked.add(signature)
        fine = self._fine
        alone = {c: base - {c} for c in lonely}  # a host's only peer of its stack is itself

        def ok(vmc: BootedVMClass, ids: frozenset[int]) -> bool:
            hit = fine.get((vmc.id, ids))
            if hit is None:
                safe, blocked = self._judge(vmc, ids)
                hit = fine[(vmc.id, ids)] = bool(safe) and all(
                    v["outcome"] in _NOT_PICKABLE for _, v in blocked)
            return hit

        # Populations away from the entry under upgrade are judged by look, those on it
        # one by one (its old and upgraded hosts run different stacks).
        split = m.entry
        bad: list[tuple[Pop, frozenset[int]]] = []
        for (_, stack), group in self.pops.looks.items():
            pops = group.values()
            if split is not None and all(p.where == split for p in pops):
                continue
            ids = alone.get(stack, base)
            if not ok(next(iter(pops)).vmc, ids):
                bad.extend((p, ids) for p in pops if p.where != split)
        if split is not None:
            for pop in self.pops.at(split):
                ids = alone.get(m.stack(pop.where, pop.upgraded), base)
                if not ok(pop.vmc, ids):
                    bad.append((pop, ids))
        bad.sort(key=lambda b: b[0].seq)
        for pop, ids in bad:
            if self.pops.count(pop) == 0:
                continue
            self._evacuate(pop, m, phase, context, line, context == "during-wave", ids)

    # -- the rollout's steps -------------------------------------------------------

    def _initial(self) -> None:
        parts = self._parts()
        self._steady(parts, "before the rollout", "initial", 0)
        for acc in self._acc.values():
            acc.line = acc.pop.entry.line
        self._flush(None, 0)
        for pop in self.pops.pops:
            v = self.fleet.boot(pop.vmc)
            if v["outcome"] in _BAD_STATES:
                msg = f"{self._who(pop)}: {v['outcome']} at power-on, before any wave"
                self._add(self._finding("check.initial-state", "block", None, 0, "initial", pop,
                                        pop.entry.line, msg, [v], outcome=v["outcome"]))
        for idx, h in enumerate(self.plan.hosts):
            load = self.pops.load(idx)
            if h.capacity is not None and load > h.capacity * h.count:
                pop = next(self.pops.at(idx))
                msg = (f"{h.describe()} holds {load} VMs, more than its capacity "
                       f"({h.capacity} per host, {h.capacity * h.count} in all), before any wave")
                self._add(self._finding("check.capacity", "block", None, 0, "initial", pop,
                                        h.line, msg, [self.fleet.boot(pop.vmc)]))

    def _drain(self, wave: Wave, k: int, j: int, idx: int) -> None:
        host = self.plan.hosts[idx]
        line = wave.host_lines[j]
        where = Location(self.plan.source, wave.line)
        spec = apply_set(self.specs[idx], wave.set)
        new = self.fleet.host_class(spec, where)
        self._upgrading, self._new_label = (idx, new), self.fleet.label(spec, where)
        n = host.count
        drained = [p for p in self.pops.at(idx) if self.pops.count(p)]
        old = self.cur[idx]
        name = host.name
        # (hosts still old, hosts upgraded, a host drained?, what happens)
        moments: list[tuple[int, int, bool, str]] = [
            (n - 1, 0, True, f"while draining {'the first host of ' if n > 1 else ''}{name}")]
        if n >= 2:
            moments.append((n - 1, 1, False, f"with 1 of {n} hosts of {name} upgraded"))
        if n >= 3:
            moments.append((1, 1, True, f"while draining a middle host of {name}"))
            moments.append((1, n - 1, False, f"with {n - 1} of {n} hosts of {name} upgraded"))
        if n >= 2:
            moments.append((0, n - 1, True, f"while draining the last host of {name}"))
        last: Moment | None = None
        for i, (o, u, draining, phase) in enumerate(moments):
            parts = self._parts(idx, o, u)
            if i == 1:
                self._boot_on_upgraded(idx, new, wave, k, line)
            if draining:
                for pop in drained:
                    self._evacuate(pop, parts, phase, "draining", line)
                if self._capacity:
                    self._fits(idx, drained, parts, phase, wave, k, line)
                last = parts
            else:
                self._steady(parts, phase, "during-wave", line)
        self._refill(idx, drained, new, last, wave, k, line)
        if n == 1:
            self._boot_on_upgraded(idx, new, wave, k, line)
        self.specs[idx] = spec
        self.cur[idx] = new
        self.labels[idx] = self._new_label
        self._upgrading = None
        # New objects, not edits: a moment already built keeps the fleet it was built on.
        self._still = list(self._still)
        self._still[idx] = HostPart(idx, name, new, n, self._new_label)
        self.pops.touched.add(idx)  # its part in the room per stack
        self._stacks = Counter(self._stacks)
        self._stacks[old.id] -= n
        self._stacks[new.id] += n
        self._moment = None
        self.pops.restack(idx)
        for pop in self.pops.at(idx):  # the only entry with upgraded populations
            pop.upgraded = False
        self.pops.version += 1
        self.last_wave[idx] = k

    def _boot_on_upgraded(self, idx: int, new: HostClass, wave: Wave, k: int, line: int) -> None:
        """VMs start (or restart) on the hosts of ``idx`` already upgraded."""
        for v in self._vms_at.get(idx, ()):
            if not any(p.entry is v and self.pops.count(p) for p in self.pops.at(idx)):
                continue  # nothing of this entry runs here any more
            vmc = self.fleet.vm_class(v.spec, new)
            if not self.fleet.registers(new, vmc):
                continue  # the machine type is gone: check.machine-removed says so
            pop = Pop(v, idx, vmc, idx, k, self._new_label, upgraded=True)
            if not self.pops.add(pop):
                existing = self.pops.get(pop.key())
                existing.upgraded = True
                self.pops.version += 1
                continue
            before = self.fleet.boot(self.fleet.vm_class(v.spec, self.cur[idx]))
            after = self.fleet.boot(vmc)
            if after["outcome"] in _BAD_STATES and after["outcome"] != before["outcome"]:
                msg = (f"{self._who(pop)}: a cold boot on the upgraded stack gives "
                       f"{after['outcome']} (before: {before['outcome']})")
                self._add(self._finding("check.post-wave-state", "block", wave, k, "during-wave",
                                        pop, line, msg, [after], outcome=after["outcome"]))

    def _safe_stacks(self, pops: list[Pop], parts: Moment) -> set[int]:
        """Stacks every one of ``pops`` may go to (any of them, if they share none)."""
        ids = parts.ids
        sets = [set(self._judge(p.vmc, ids)[0]) for p in pops]
        sets = [s for s in sets if s] or [set()]
        return set.intersection(*sets) or set.union(*sets)

    def _fits(self, idx: int, drained: list[Pop], parts: Moment, phase: str, wave: Wave,
              k: int, line: int) -> None:
        host = self.plan.hosts[idx]
        groups: dict[tuple[str, int], list[Pop]] = {}
        for pop in drained:
            groups.setdefault((pop.entry.name, pop.home), []).append(pop)
        # Room summed per stack: a VM may go to any host of a stack it is safe on.
        for e in self.pops.touched:
            self._room.set(self._still[e])
        self.pops.touched.clear()
        room = (self._room.room() if parts.split is None
                else self._room.room(parts.split[0].entry, parts.split))
        stacks = sorted(room)
        demands = [Demand(key[0], -(-self.pops.count(ps[0]) // host.count),
                          frozenset(stacks.index(c) for c in self._safe_stacks(ps, parts)))
                   for key, ps in groups.items()]
        # VMs with nowhere safe to go at all are check.no-evacuation-target's, not room's.
        demands = [d for d in demands if d.allowed]
        common = frozenset.intersection(*(d.allowed for d in demands)) if demands else frozenset()
        spare = [room[stacks[i]] for i in common]
        if None in spare or sum(d.count for d in demands) <= sum(r or 0 for r in spare):
            return  # everything fits where every VM may go: no flow to solve
        missing = unplaced(demands, [Bucket(-1, 1, room[c]) for c in stacks])
        if missing:
            biggest = max(groups.values(), key=lambda ps: self.pops.count(ps[0]))[0]
            moved = sum(d.count for d in demands)
            each = ", ".join(f"{d.count} {d.key}" for d in demands)
            msg = (f"{phase}: the {moved} VMs of one host ({each}) need room where they may go; "
                   f"{missing} find none within capacity")
            self._add(self._finding("check.capacity", "block", wave, k, "draining", biggest, line,
                                    msg, [self.fleet.boot(biggest.vmc)]),
                      ("capacity", wave.name, idx))

    def _refill(self, idx: int, drained: list[Pop], new: HostClass, last: Moment | None,
                wave: Wave, k: int, line: int) -> None:
        failed: list[Pop] = []
        for pop in drained:
            if pop.where == pop.home and pop.entry.snapshots:
                self._snapshots(pop, new, wave, k, line)
            v = self.fleet.migrate(pop.vmc, new)
            if not self.fleet.registers(new, pop.vmc):
                msg = (f"{self._who(pop)}: QEMU {new.host.qemu_text} no longer registers machine "
                       f"type {pop.vmc.vm.machine.name}; the VMs cannot come back or be restarted "
                       "there")
                self._add(self._finding("check.machine-removed", "block", wave, k, "refill", pop,
                                        line, msg, [v], outcome=v["outcome"]),
                          ("removed", pop.key(), new.id))
                failed.append(pop)
            elif v["severity"] == "block" and not no_worse(self.fleet, pop.vmc, v):
                check = ("check.post-wave-state" if v["outcome"] in _BAD_STATES
                         else "check.refill-blocked")
                msg = (f"{self._who(pop)}: migrating back onto the upgraded host "
                       f"({self._new_label}) gives {v['outcome']}")
                self._add(self._finding(check, "block", wave, k, "refill", pop, line, msg, [v],
                                        outcome=v["outcome"]))
                if check == "check.refill-blocked":
                    failed.append(pop)
        self._strand(idx, failed, last if last is not None else self._parts(idx, 0, 0), wave, k,
                     line)

    def _strand(self, idx: int, failed: list[Pop], parts: Moment, wave: Wave, k: int,
                line: int) -> None:
        """VMs that cannot come back stay where the last drain of ``idx`` put them."""
        groups: dict[tuple[str, int], list[Pop]] = {}
        for pop in failed:
            groups.setdefault((pop.entry.name, pop.home), []).append(pop)
        for (name, home), pops in groups.items():
            count = self.pops.count(pops[0])
            safe = self._safe_stacks(pops, parts)
            room = [b if p.hc.id in safe and p.hosts else Bucket(b.entry, 0, 0)
                    for p, b in zip(parts.parts, buckets(parts.parts, self.plan.hosts,
                                                         self.pops.load),
                                    strict=True)]
            shares, left = place(count, [b for b in room if b.entry != idx])
            if not shares:
                continue  # nowhere to go: check.no-evacuation-target says so
            everyone = len(pops) == len([p for p in self.pops.at(idx)
                                         if (p.entry.name, p.home) == (name, home)])
            for pop in pops:
                for target, n in shares.items():
                    self.pops.move(pop, target, n if pop is pops[0] else None)
                if everyone:
                    self.pops.remove(pop)
            if everyone:
                self.pops.leave(name, home, idx, count - left)
            if left:
                host = self.plan.hosts[idx]
                msg = (f"{self._who(pops[0])}: {count} VMs cannot return to {host.describe()} and "
                       f"{left} of them find no room within capacity elsewhere")
                self._add(self._finding("check.capacity", "block", wave, k, "refill", pops[0],
                                        line, msg, [self.fleet.boot(pops[0].vmc)]))

    def _snapshots(self, pop: Pop, new: HostClass, wave: Wave, k: int, line: int) -> None:
        """Snapshots taken before the wave, restored into the VM as it runs after it."""
        fresh = self.fleet.vm_class(pop.entry.spec, new)
        if not self.fleet.registers(new, fresh):
            return
        v = self.fleet.snapshot(pop.vmc, new)
        boot = self.fleet.boot(fresh)
        if v["severity"] == "ok" or (v["severity"] == "warn" and v["outcome"] == boot["outcome"]):
            return
        msg = (f"{self._who(pop)}: a loadvm of a snapshot taken before wave {wave.name} into the "
               f"VM cold-booted on {self._new_label} gives {v['outcome']}")
        self._add(self._finding("check.snapshot-restore", v["severity"], wave, k, "after-wave",
                                pop, line, msg, [v], outcome=v["outcome"]),
                  ("snapshot", pop.key(), new.id))

    def _after(self, wave: Wave, idx: int) -> tuple[HostClass, str]:
        spec, where = apply_set(self.specs[idx], wave.set), Location(self.plan.source, wave.line)
        return self.fleet.host_class(spec, where), self.fleet.label(spec, where)

    def _boundary(self, wave: Wave, k: int) -> None:
        self._steady(self._parts(), f"after wave {wave.name}", "after-wave", wave.line)
        self._flush(wave, k)

    def run(self) -> RolloutResult:
        self._initial()
        summary = []
        for k, wave in enumerate(self.plan.rollout, start=1):
            before = len(self.findings)
            self._wave = k
            self._wave_hosts = {self.plan.host_index(n) for n in wave.hosts}
            self._wave_end = {i: self._after(wave, i) for i in self._wave_hosts}
            for j, name in enumerate(wave.hosts):
                self._drain(wave, k, j, self.plan.host_index(name))
                if j + 1 < len(wave.hosts):
                    self._steady(self._parts(), f"once {name} is upgraded", "during-wave",
                                 wave.host_lines[j])
            self._flush(wave, k)
            self._wave = 0
            self._boundary(wave, k)
            summary.append({"name": wave.name, "index": k, "line": wave.line,
                            "hosts": [{"name": n, "count": self.plan.hosts[
                                self.plan.host_index(n)].count} for n in wave.hosts],
                            "set": dict(wave.set), "findings": len(self.findings) - before})
        end = EndState(self.plan, self.fleet, self.initial, self.cur, self.labels, self.last_wave)
        for f in end.stays_quirked():
            self._add(f)
        fixed, broken = end.tally()
        return RolloutResult(self.findings, list(self.cur), summary, fixed, broken)

