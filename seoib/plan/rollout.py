"""Wave simulation over blocks of alike hosts, following every VM population through time.

Semantics (the contract ``seoib check`` documents):
- Waves run in order. Within a wave each listed host entry is taken in order, and
  the hosts of a group one at a time: a host is drained (its VMs live-migrate to any
  host in service, at that host's versions of the moment), upgraded with the wave's
  ``set``, and refilled (its VMs migrate back).
- Alike entries form blocks (seoib.plan.blocks); a wave is a sequence of runs over
  them. Draining host ``i`` of a block of ``n``, its other hosts are ``i`` upgraded
  and ``n - 1 - i`` not, beside every other block as the rollout has left it. Of
  those moments the ones where the set of stacks in service, a stack held by one or
  two hosts, or the VMs per host change are judged; between two of them nothing a
  verdict reads changes and room varies linearly, so the worst moment is among them.
- Populations (seoib.plan.populations): the VMs running since before the rollout,
  and VMs cold-booted at any moment on any stack their home host runs: the stack of
  the last boundary (fresh), a host the running wave already upgraded (in-wave), a
  stack a later wave replaced (intermediate), the host a drain moved them to, before
  they return home (drain-booted). VMs whose drain cannot be undone (their machine
  type is gone, the refill is blocked) stay where the drain put them (stranded) and
  are counted there. A VM keeps the SEOIB state of its boot; a VM whose boot fails
  (start-fails) is reported once and not followed: nothing of it runs.
- At every moment every population must have a destination with a non-blocking
  live-migration verdict (a host can fail at any time), and a safe boot
  (seoib.plan.evacuation). Findings at a moment without a drain are reported once,
  when they first appear.
- With ``capacity`` (VMs per host) a drain must also fit, host by host in whole VMs,
  where its VMs may go; with ``snapshots: true`` a VM entry's snapshots taken before
  each wave are restored into the VM as it runs after (cold-booted on the new stack)
  and judged like ``seoib migrate --snapshot``.

Cost follows blocks and classes, not entries: a moment is judged per look (VM
class, stack it sits on), and findings name their host entries by reference.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..errors import Location
from .blocks import Block, Item, Layout, Run, compress
from .capacity import Bucket, place, shortfall
from .endstate import EndState
from .evacuation import BAD_STATES, CLEAN_FAILURES, NOT_PICKABLE, Acc, Evacuations, no_worse
from .findings import Finding, engine_rules
from .fleetclasses import BootedVMClass, FleetClasses, HostClass
from .fleetstate import FleetState, Moment
from .names import compact
from .planfile import Plan, Wave, apply_set
from .populations import Pop, Populations

__all__ = ["Rollout", "RolloutResult", "harmful", "no_worse"]


def harmful(fleet: FleetClasses, vmc: BootedVMClass, v: dict[str, Any]) -> bool:
    """Blocking in a way no scheduler filters and no retry undoes: aborts, broken guests."""
    return (v["severity"] == "block" and v["outcome"] not in NOT_PICKABLE | CLEAN_FAILURES
            and not no_worse(fleet, vmc, v))


@dataclass
class RolloutResult:
    findings: list[Finding]
    final: list[HostClass]
    waves: list[dict[str, Any]]
    layout: Layout
    fixed_vms: int = 0  # VMs that storm, get stuck or fail before and boot fine at the end
    broken_vms: int = 0  # VMs fine before whose cold boot at the end is bad


class Rollout:
    """One walk through a plan's waves (``run``), or through waves given one at a time
    (``start``, ``wave``, ``finish``; ``fork`` copies the walk between two waves)."""

    def __init__(self, plan: Plan, fleet: FleetClasses, layout: Layout | None = None) -> None:
        self.plan = plan
        self.fleet = fleet
        self.layout = layout or compress(plan)
        self.blocks = self.layout.blocks
        where = [Location(plan.source, b.line) for b in self.blocks]
        self.specs: list[dict[str, Any]] = [dict(b.spec) for b in self.blocks]
        self.initial = [fleet.host_class(b.spec, w) for b, w in zip(self.blocks, where, strict=True)]
        self.first_labels = [fleet.label(b.spec, w) for b, w in zip(self.blocks, where, strict=True)]
        self.origin = [hc.id for hc in self.initial]  # each block's stack before any wave
        self.pops = Populations(lambda b: self.state.cur[b].id)
        self.state = FleetState(self.blocks, self.initial, self.first_labels, self.pops.loads)
        self.evac = Evacuations(self)
        self.findings: list[Finding] = []
        self.not_started: list[Pop] = []  # VMs as placed whose boot fails: never running
        for block in self.blocks:
            for item in block.items:
                vmc = fleet.vm_class(item.spec, self.initial[block.id])
                pop = Pop(item, vmc, block.id, 0, self.first_labels[block.id])
                self.pops.reside(item, block.id, item.count)
                if fleet.boot(vmc)["outcome"] == "start-fails":
                    self.not_started.append(pop)
                else:
                    self.pops.add(pop)
        self.last_wave: list[int | None] = [None] * len(self.blocks)
        self.waves: list[Wave] = []  # the waves run so far
        self.summary: list[dict[str, Any]] = []
        self._counts = {h.name: h.count for h in plan.hosts}
        self._wave = 0  # the wave running now (0: before the rollout or at a boundary)
        self._wave_end: dict[int, tuple[HostClass, str, dict[str, Any]]] = {}
        self._failed: dict[int, dict[int, Pop]] = {}  # block -> pops that cannot come back
        self._restarts: dict[tuple, BootedVMClass | None] = {}
        self._refilled: set[tuple] = set()  # (population, stack) already brought back
        self._drains: dict[tuple, list[Acc]] = {}  # drains judged: who had nowhere to go
        self._allowed: dict[tuple, frozenset[int]] = {}
        self._groups: dict[tuple, list[tuple[int, list[Pop]]]] = {}
        self._short: dict[tuple[int, int], tuple[int, Finding]] = {}  # (wave, block) -> worst
        self._drained: dict[tuple, list[Pop]] = {}

    # -- who, where ----------------------------------------------------------------

    def kind(self, pop: Pop) -> str:
        if pop.where != pop.home:
            return "stranded"
        if pop.away:
            return "drain-booted"
        if pop.born == 0 and pop.vmc.boot is self.initial[pop.home]:
            return "original"
        if self._wave and pop.born == self._wave:
            return "in-wave"
        return "fresh" if pop.vmc.boot is self.state.cur[pop.home] else "intermediate"

    def who(self, pop: Pop, kind: str | None = None) -> str:
        block = self.blocks[pop.where]
        kind = kind or self.kind(pop)
        n = self.pops.count(pop)
        vms = f"{pop.item.name} ({n} VM{'s' if n != 1 else ''}"
        if kind == "stranded":
            return (f"{vms} of {self.blocks[pop.home].name}, stranded) on {block.describe()}, "
                    f"booted on {pop.booted_on}")
        return f"{vms}, {kind}) on {block.describe()}, booted on {pop.booted_on}"

    def block_names(self, blocks: frozenset[int] | set[int]) -> str:
        return self.layout.union(blocks).text

    def _booted(self, pop: Pop) -> dict[str, Any]:
        wave = self.waves[pop.born - 1].name if pop.born else None
        return {"host": self.blocks[pop.home].name, "stack": pop.booted_on, "wave": wave}

    def finding(self, check: str, severity: str, wave: Wave | None, k: int, context: str,
                pop: Pop, line: int, message: str, verdicts: list[dict[str, Any]],
                kind: str | None = None, **extra: Any) -> Finding:
        return Finding(check, severity, wave.name if wave else None, k, context,
                       self.layout.hosts_of(pop.where), self.layout.vms_of(pop.item),
                       max(self.pops.count(pop), 1), kind or self.kind(pop), line,
                       pop.item.line, message, engine_rules(verdicts), booted=self._booted(pop),
                       **extra)

    def add(self, f: Finding, dedupe: tuple | None = None, problem: tuple | None = None) -> None:
        if dedupe is not None:
            if dedupe in self.evac.seen:
                return
            self.evac.seen.add(dedupe)
        if problem is not None:
            if f.wave_index == 0:
                self.evac.initial_problems.add(problem)
            elif problem in self.evac.initial_problems:
                f.cause = "pre-existing"  # the VMs had this problem before any wave
        if f.wave_index == 0:
            f.cause = "pre-existing"
        self.findings.append(f)

    def end_of_wave_hosts(self) -> dict[int, int]:
        """Hosts per stack once the running wave is complete."""
        hosts = dict(self.state.hosts)
        for b, (end, _, _) in self._wave_end.items():
            for cid, n in self.state.on_block(b).items():
                hosts[cid] -= n
            hosts[end.id] = hosts.get(end.id, 0) + self.blocks[b].hosts
        return hosts

    def end_stack(self, b: int) -> int:
        hit = self._wave_end.get(b)
        return hit[0].id if hit is not None else self.state.cur[b].id

    # -- the rollout's steps -------------------------------------------------------

    def _initial(self) -> None:
        m = self.state.moment()
        self.evac.steady(m, "before the rollout", "initial", 0)
        self.evac.restarted_hazards(self.pops.pops, m)
        self.evac.flush(None, 0, initial=True)
        for pop in [*self.pops.pops, *self.not_started]:
            v = self.fleet.boot(pop.vmc)
            if v["outcome"] in BAD_STATES:
                msg = f"{self.who(pop)}: {v['outcome']} at power-on, before any wave"
                self.add(self.finding("check.initial-state", "block", None, 0, "initial", pop,
                                      pop.item.line, msg, [v], outcome=v["outcome"]))
        for block in self.blocks:
            load = self.pops.load(block.id)
            if block.capacity is not None and load > block.capacity * block.hosts:
                pop = self._any_pop(block)
                msg = (f"{block.describe()} holds {load} VMs, more than its capacity "
                       f"({block.capacity} per host, {block.capacity * block.hosts} in all), "
                       "before any wave")
                self.add(self.finding("check.capacity", "block", None, 0, "initial", pop,
                                      block.line, msg, [self.fleet.boot(pop.vmc)]))

    def _any_pop(self, block: Block) -> Pop:
        """A population of ``block`` to name its VMs by (one that never started will do)."""
        for pop in self.pops.at(block.id):
            return pop
        return next(p for p in self.not_started if p.where == block.id)

    def _begin(self, wave: Wave, k: int, runs: tuple[Run, ...]) -> None:
        self._wave = k
        where = Location(self.plan.source, wave.line)
        self._wave_end = {}
        for run in runs:
            b = run.block
            if b not in self._wave_end:
                spec = apply_set(self.specs[b], wave.set)
                new = self.fleet.host_class(spec, where)
                label = self.fleet.label(spec, where)
                self._wave_end[b] = (new, label, spec)
                self.state.begin(b, new, label)

    def _run(self, wave: Wave, k: int, run: Run) -> None:
        b = run.block
        block = self.blocks[b]
        new = self._wave_end[b][0]
        drained = self._drained.get((b, self.pops.version))
        if drained is None:
            drained = self._drained[(b, self.pops.version)] = [
                p for p in self.pops.at(b) if self.pops.count(p)]
        away: list[Pop] = []
        last: Moment | None = None
        end = run.start + run.hosts
        for i in self._moments(b, run):
            m = self.state.moment((b, i))
            phase = self._phase(block, k, i)
            # A drain that looks like one already judged in this step (the same populations,
            # the same blocks on the same stacks) adds only its phase, and its room.
            seen = (b, m.signature, self.pops.version, self.evac.step)
            stuck = self._drains.get(seen)
            if stuck is None:
                hits = [self.evac.evacuate(pop, m, phase, "draining", run.line) for pop in drained]
                away.extend(self._away_boots(b, drained, m, k))
                self._drains[seen] = stuck = [acc for acc in hits if acc is not None]
                seen = (b, m.signature, self.pops.version, self.evac.step)
                self._drains.setdefault(seen, stuck)
            else:
                for acc in stuck:
                    self.evac.note(acc, phase)
            if self.state.capacity:
                self._fits(b, i, drained, m, phase, wave, k, run.line)
            last = m
            self.state.upgrade(b, i + 1)
            if i == 0:
                self._boot_on_upgraded(b, new, wave, k, run.line)
            if i + 1 < end:
                self.evac.steady(self.state.moment(), self._phase(block, k, i, False),
                                 "during-wave", run.line)
        self.state.upgrade(b, end)
        self._refill(b, drained, away, new, wave, k, run.line)
        if end == block.hosts:
            self._strand(b, list(self._failed.pop(b, {}).values()),
                         last if last is not None else self.state.moment(), wave, k, run.line)
            self._finish(b, k)

    def _moments(self, b: int, run: Run) -> list[int]:
        """The hosts of ``run`` whose drain is judged: where what a verdict or the room
        reads can change (the first and last few, where a stack gains or loses its last
        hosts, where the VMs per host change); between them it is the same."""
        lo, hi, n = run.start, run.start + run.hosts, self.blocks[b].hosts
        if hi - lo <= 6:
            return list(range(lo, hi))
        state = self.state
        cand = set(range(lo, min(lo + 3, hi))) | set(range(max(hi - 3, lo), hi))
        old, new = state.cur[b].id, self._wave_end[b][0].id
        if old != new:
            others_old = state.hosts.get(old, 0) - state.on_block(b).get(old, 0)
            others_new = state.hosts.get(new, 0) - state.on_block(b).get(new, 0)
            for t in range(4):  # a stack held by 0, 1, 2, or 3 and more hosts
                cand.add(others_old + n - 1 - t)  # old hosts left in service
                cand.add(t - others_new)  # upgraded hosts
        if state.capacity:
            cand |= state.profile(b).breakpoints()
        return sorted(i for i in cand if lo <= i < hi)

    def _phase(self, block: Block, k: int, i: int, draining: bool = True) -> str:
        n = block.hosts
        if len(block.names) == 1:
            name = block.names[0]
            if not draining:
                return f"with {i + 1} of {n} hosts of {name} upgraded"
            if n == 1:
                return f"while draining {name}"
            if i == 0:
                return f"while draining the first host of {name}"
            if i == n - 1:
                return f"while draining the last host of {name}"
            return f"while draining a middle host of {name}"
        order = self.layout.order[k - 1][block.id] if k <= len(self.layout.order) else block.names
        name = order[i]
        return f"while draining {name}" if draining else f"once {name} is upgraded"

    def _finish(self, b: int, k: int) -> None:
        """Every host of block ``b`` runs the wave's stack."""
        self.specs[b] = self._wave_end[b][2]
        self.state.finish(b)
        self.pops.restack(b)
        for pop in self.pops.at(b):  # the only block with upgraded populations
            pop.upgraded = False
        self.pops.version += 1
        self.last_wave[b] = k

    def _boot_on_upgraded(self, b: int, new: HostClass, wave: Wave, k: int, line: int) -> None:
        """VMs start (or restart) on the hosts of ``b`` already upgraded."""
        label = self._wave_end[b][1]
        for item in self.blocks[b].items:
            if not self.pops.resident.get((item.key(), b)):
                continue  # nothing of this item sits here any more
            vmc = self.fleet.vm_class(item.spec, new)
            if not self.fleet.registers(new, vmc):
                continue  # the machine type is gone: check.machine-removed says so
            pop = Pop(item, vmc, b, k, label, upgraded=True)
            after = self.fleet.boot(vmc)
            if after["outcome"] == "start-fails":
                self._report_boot(pop, after, wave, k, line)
                continue  # it never runs: nothing to follow
            if not self.pops.add(pop):
                self.pops.get(pop.key()).upgraded = True
                self.pops.version += 1
                continue
            self._report_boot(pop, after, wave, k, line)

    def _report_boot(self, pop: Pop, after: dict[str, Any], wave: Wave, k: int, line: int) -> None:
        item, b = pop.item, pop.where
        before = self.fleet.boot(self.fleet.vm_class(item.spec, self.state.cur[b]))
        if after["outcome"] in BAD_STATES and after["outcome"] != before["outcome"]:
            msg = (f"{self.who(pop, 'in-wave')}: a cold boot on the upgraded stack gives "
                   f"{after['outcome']} (before: {before['outcome']})")
            self.add(self.finding("check.post-wave-state", "block", wave, k, "during-wave", pop,
                                  line, msg, [after], "in-wave", outcome=after["outcome"]),
                     ("boot", pop.key()))

    def _away_boots(self, b: int, drained: list[Pop], m: Moment, k: int) -> list[Pop]:
        """VMs restarted on a host a drain moved them to: a population of its own, booted
        on that host's stack, that comes home with the refill."""
        out = []
        # Booted on the stack their home runs, or will run after the wave, they are the
        # fresh or in-wave VMs of their home.
        home = {self.state.cur[b].id, self._wave_end[b][0].id}
        for pop in drained:
            if pop.where != pop.home or pop.away:
                continue  # stranded VMs of another block; VMs already away once
            for cid in self.evac.judge(pop.vmc, m.ids)[0]:
                if cid in home:
                    continue
                vmc = self._restart(pop.item, cid)
                if vmc is None or self.pops.has((pop.item.block, pop.item.index, vmc.id, b)):
                    continue
                fresh = Pop(pop.item, vmc, b, k, self.state.label(m.blocks(cid)[0], cid),
                            away=True)
                self.pops.add(fresh)
                out.append(fresh)
        return out

    def _restart(self, item: Item, cid: int) -> BootedVMClass | None:
        """The VM class of ``item`` cold-booted on stack ``cid``; None if it cannot start there."""
        key = (item.key(), cid)
        if key not in self._restarts:
            host = self.fleet.hosts[cid]
            vmc: BootedVMClass | None = self.fleet.vm_class(item.spec, host)
            if (not self.fleet.registers(host, vmc)  # type: ignore[arg-type]
                    or self.fleet.boot(vmc)["outcome"] == "start-fails"):  # type: ignore[arg-type]
                vmc = None  # a restart there fails: nothing of it runs to follow
            self._restarts[key] = vmc
        return self._restarts[key]

    def _safe_stacks(self, pops: list[Pop], m: Moment) -> set[int]:
        """Stacks every one of ``pops`` may go to (any of them, if they share none)."""
        sets = [set(self.evac.judge(p.vmc, m.ids)[0]) for p in pops]
        sets = [s for s in sets if s] or [set()]
        return set.intersection(*sets) or set.union(*sets)

    def _fits(self, b: int, i: int, drained: list[Pop], m: Moment, phase: str, wave: Wave,
              k: int, line: int) -> None:
        """The VMs of drained host ``i`` of block ``b`` fit, host by host, where they may go."""
        key = (b, self.pops.version)
        groups = self._groups.get(key)
        if groups is None:
            by_item: dict[tuple[int, int], list[Pop]] = {}
            for pop in drained:
                by_item.setdefault(pop.item.key(), []).append(pop)
            groups = self._groups[key] = [(self.pops.count(ps[0]), ps) for ps in by_item.values()]
        profile = self.state.profile(b)
        demands: list[tuple[int, frozenset[int], Pop]] = []
        for total, ps in groups:
            count = profile.share(total, i)
            akey = (ps[0].item.key(), m.ids, self.pops.version)
            allowed = self._allowed.get(akey)
            if allowed is None:
                allowed = self._allowed[akey] = frozenset(self._safe_stacks(ps, m))
            # VMs with nowhere safe to go at all are check.no-evacuation-target's, not room's.
            if count and allowed:
                demands.append((count, allowed, ps[0]))
        if not demands:
            return
        missing = shortfall([(c, a) for c, a, _ in demands],
                            lambda stacks: self.state.room_of(stacks, (b, i)))
        if not missing:
            return
        usable = frozenset().union(*(a for _, a, _ in demands))
        free = self.state.room_of(usable, (b, i))
        moved = sum(c for c, _, _ in demands)
        each = ", ".join(f"{c} {p.item.name}" for c, _, p in demands)
        biggest = max(demands, key=lambda d: d[0])[2]
        block = self.blocks[b]
        peers = (f"; beside it {block.hosts - 1 - i} not upgraded and {i} upgraded host(s) of "
                 f"{block.name}" if block.hosts > 1 else "")
        msg = (f"{phase}: the {moved} VMs of one host ({each}) need room where they may go "
               f"({free} free slots{peers}); {missing} find none within capacity")
        # One finding per block and wave, telling the worst drain.
        worst = self._short.get((k, b))
        if worst is not None:
            if missing > worst[0]:
                self._short[(k, b)] = (missing, worst[1])
                worst[1].message = msg
            return
        f = self.finding("check.capacity", "block", wave, k, "draining", biggest, line, msg,
                         [self.fleet.boot(biggest.vmc)])
        self._short[(k, b)] = (missing, f)
        self.add(f)

    def _refill(self, b: int, drained: list[Pop], away: list[Pop], new: HostClass, wave: Wave,
                k: int, line: int) -> None:
        label = self._wave_end[b][1]
        for pop in [*drained, *away]:
            # Brought back onto this stack before (an earlier run of the block): the same
            # verdicts, findings already made, and a failure already recorded.
            if (pop.key(), new.id) in self._refilled:
                continue
            self._refilled.add((pop.key(), new.id))
            if pop.where == pop.home and pop.item.snapshots and not pop.away:
                self._snapshots(pop, new, wave, k, line)
            v = self.fleet.migrate(pop.vmc, new)
            if not self.fleet.registers(new, pop.vmc):
                msg = (f"{self.who(pop)}: QEMU {new.host.qemu_text} "
                       f"{'does not register' if pop.away else 'no longer registers'} machine "
                       f"type {pop.vmc.vm.machine.name}; the VMs cannot come back or be restarted "
                       "there")
                known = self.evac.known(pop, [b], v["outcome"])
                self.add(self.finding("check.machine-removed", "block", wave, k, "refill", pop,
                                      line, msg, [v], outcome=v["outcome"],
                                      cause="pre-existing" if known else "rollout"),
                         ("removed", pop.key(), new.id))
                self._failed.setdefault(b, {})[pop.seq] = pop
            elif v["severity"] == "block" and not no_worse(self.fleet, pop.vmc, v):
                check = ("check.post-wave-state" if v["outcome"] in BAD_STATES
                         else "check.refill-blocked")
                msg = (f"{self.who(pop)}: migrating back onto the upgraded host ({label}) gives "
                       f"{v['outcome']}")
                known = self.evac.known(pop, [b], v["outcome"])
                self.add(self.finding(check, "block", wave, k, "refill", pop, line, msg, [v],
                                      outcome=v["outcome"],
                                      cause="pre-existing" if known else "rollout"),
                         ("refill", pop.key(), new.id))
                if check == "check.refill-blocked":
                    self._failed.setdefault(b, {})[pop.seq] = pop

    def _strand(self, b: int, failed: list[Pop], m: Moment, wave: Wave, k: int,
                line: int) -> None:
        """VMs that cannot come back stay where the last drain of ``b`` put them."""
        groups: dict[tuple[int, int], list[Pop]] = {}
        for pop in failed:
            groups.setdefault(pop.item.key(), []).append(pop)
        for ps in groups.values():
            count = self.pops.count(ps[0])
            safe = self._safe_stacks(ps, m)
            shares, left = place(count, self._buckets(b, safe, m))
            if not shares:
                continue  # nowhere to go: check.no-evacuation-target says so
            item = ps[0].item
            everyone = len(ps) == sum(1 for p in self.pops.at(b) if p.item is item)
            for pop in ps:
                for target, n in shares.items():
                    self.pops.move(pop, target, n if pop is ps[0] else None)
                if everyone:
                    self.pops.remove(pop)
            for target in shares:
                self.state.reload(target)
            if everyone:
                self.pops.reside(item, b, -(count - left))
                self.state.reload(b)
            if left:
                block = self.blocks[b]
                msg = (f"{self.who(ps[0])}: {count} VMs cannot return to {block.describe()} and "
                       f"{left} of them find no room within capacity elsewhere")
                self.add(self.finding("check.capacity", "block", wave, k, "refill", ps[0], line,
                                      msg, [self.fleet.boot(ps[0].vmc)]))

    def _buckets(self, b: int, safe: set[int], m: Moment) -> list[Bucket]:
        """Room per block (other than ``b``) on the stacks in ``safe``, as of ``m``."""
        out = []
        for block in self.blocks:
            c = block.id
            if c == b:
                continue
            p, done = self.state.profile(c), self.state.done[c]
            hosts, free = 0, 0
            parts = [(self.state.stack(c, True), 0, done), (self.state.cur[c].id, done, block.hosts)]
            for cid, lo, hi in parts:
                if hi > lo and cid in safe:
                    hosts += hi - lo
                    room = p.free(lo, hi)
                    free = None if room is None or free is None else free + room
            if hosts:
                out.append(Bucket(c, hosts, free))
        return out

    def _snapshots(self, pop: Pop, new: HostClass, wave: Wave, k: int, line: int) -> None:
        """Snapshots taken before the wave, restored into the VM as it runs after it."""
        fresh = self.fleet.vm_class(pop.item.spec, new)
        if not self.fleet.registers(new, fresh):
            return
        v = self.fleet.snapshot(pop.vmc, new)
        boot = self.fleet.boot(fresh)
        if v["severity"] == "ok" or (v["severity"] == "warn" and v["outcome"] == boot["outcome"]):
            return
        msg = (f"{self.who(pop)}: a loadvm of a snapshot taken before wave {wave.name} into the "
               f"VM cold-booted on {self._wave_end[pop.where][1]} gives {v['outcome']}")
        self.add(self.finding("check.snapshot-restore", v["severity"], wave, k, "after-wave",
                              pop, line, msg, [v], outcome=v["outcome"]),
                 ("snapshot", pop.key(), new.id))

    # -- walking the waves: all at once, or one at a time from copies ------------------

    def start(self) -> None:
        """The fleet before any wave: what it already suffers."""
        self._initial()

    def wave(self, wave: Wave, runs: tuple[Run, ...] | None = None) -> list[Finding]:
        """Run one more wave (its runs over blocks, from the layout unless given); the
        findings it adds."""
        k = len(self.waves) + 1
        self.waves.append(wave)
        if runs is None:
            runs = self.layout.runs[k - 1]
        before = len(self.findings)
        self._begin(wave, k, runs)
        for j, run in enumerate(runs):
            self._run(wave, k, run)
            if j + 1 < len(runs):
                self.evac.steady(self.state.moment(), f"once {compact(run.names)} is upgraded",
                                 "during-wave", run.line)
        self.evac.flush(wave, k)
        self._wave = 0
        self._wave_end = {}
        self.evac.steady(self.state.moment(), f"after wave {wave.name}", "after-wave", wave.line)
        self.evac.flush(wave, k)
        counts = self._counts
        self.summary.append({"name": wave.name, "index": k, "line": wave.line,
                             "hosts": [{"name": n, "count": counts[n]} for n in wave.hosts],
                             "set": dict(wave.set), "findings": len(self.findings) - before})
        return self.findings[before:]

    def end_state(self) -> EndState:
        return EndState(self.waves, self.layout, self.fleet, self.initial, self.state.cur,
                        self.state.labels, self.first_labels, self.last_wave)

    def finish(self) -> RolloutResult:
        """The fleet after the last wave: who stays quirked, and what a cold boot fixes."""
        end = self.end_state()
        for f in end.stays_quirked():
            self.add(f)
        fixed, broken = end.tally()
        return RolloutResult(self.findings, list(self.state.cur), self.summary, self.layout,
                             fixed, broken)

    def run(self) -> RolloutResult:
        self.start()
        for wave in self.plan.rollout:
            self.wave(wave)
        return self.finish()

    def fork(self) -> Rollout:
        """A copy to try more waves on, between two waves: this one stays as it is."""
        assert not self._wave and not self._failed, "a fork between two waves"
        new = copy.copy(self)
        new.specs, new.findings = list(self.specs), list(self.findings)
        new.not_started, new.last_wave = list(self.not_started), list(self.last_wave)
        new.waves, new.summary = list(self.waves), list(self.summary)
        new.pops = self.pops.fork(lambda b: new.state.cur[b].id)
        new.state = self.state.fork(new.pops.loads)
        new.evac = self.evac.fork(new)
        new._refilled, new._short = set(self._refilled), dict(self._short)
        # Memos keyed by version counters, which the two copies now advance apart.
        new._drains, new._allowed, new._groups, new._drained = {}, {}, {}, {}
        return new
