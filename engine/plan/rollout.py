"""Wave simulation over host and VM classes.

Semantics (the contract ``seoib check`` documents):
- Waves run in order. Within a wave each listed host entry is taken in order, and
  the hosts of a group one at a time: a host is drained (its VMs live-migrate to any
  host not being drained, at that host's versions of the moment), upgraded with the
  wave's ``set``, and refilled (its VMs migrate back).
- A group of n hosts passes through three situations while it is drained: the first
  host (the rest still old), middle hosts (old and upgraded peers), the last host
  (all peers upgraded). Hosts of other entries are as earlier waves left them.
- Each VM entry has two populations: ``original`` VMs, running since before the
  rollout, and ``fresh`` VMs, cold-booted on their host's stack as of the previous
  wave boundary (new or restarted VMs). A VM keeps the SEOIB state of its boot.
- Before the rollout and after every wave every VM must still be evacuable: a host
  can fail or need maintenance at any time, so findings at a wave boundary cover
  the whole fleet (reported once, when they first appear).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..errors import Location
from .findings import Finding, Target, engine_rules
from .fleet import Fleet, HostClass, VMClass
from .model import Plan, VMEntry, Wave, apply_set

__all__ = ["Rollout", "RolloutResult", "harmful", "no_worse"]

_NOT_PICKABLE = {"unsupported"}  # schedulers filter on machine type and irqchip support
_CLEAN_FAILURES = {"refused"}  # the source keeps running; the scheduler retries elsewhere
_BAD_STATES = {"storm", "stuck", "start-fails"}


def no_worse(fleet: Fleet, vmc: VMClass, v: dict[str, Any]) -> bool:
    """A migration that lands the guest in the storm or stuck state it already had at
    its source is no failure of the move; check.initial-state reports the guest."""
    return v["outcome"] in _BAD_STATES and v["outcome"] == fleet.boot(vmc)["outcome"]


def harmful(fleet: Fleet, vmc: VMClass, v: dict[str, Any]) -> bool:
    """Blocking in a way no scheduler filters and no retry undoes: aborts, broken guests."""
    return (v["severity"] == "block" and v["outcome"] not in _NOT_PICKABLE | _CLEAN_FAILURES
            and not no_worse(fleet, vmc, v))


@dataclass
class RolloutResult:
    findings: list[Finding]
    final: list[HostClass]
    waves: list[dict[str, Any]]


@dataclass(frozen=True)
class _Pop:
    entry: VMEntry
    vmc: VMClass
    kind: str  # original | fresh


class Rollout:
    def __init__(self, plan: Plan, fleet: Fleet) -> None:
        self.plan = plan
        self.fleet = fleet
        src = plan.source
        self.specs: list[dict[str, Any]] = [dict(h.spec) for h in plan.hosts]
        self.initial = [fleet.host_class(h.spec, Location(src, h.line)) for h in plan.hosts]
        self.cur = list(self.initial)
        self.counts: Counter[int] = Counter()
        for h, hc in zip(plan.hosts, self.cur, strict=True):
            self.counts[hc.id] += h.count
        self.vms_on: dict[int, list[VMEntry]] = {}
        for v in plan.vms:
            self.vms_on.setdefault(plan.host_index(v.host), []).append(v)
        self.last_wave: list[int | None] = [None] * len(plan.hosts)
        self.findings: list[Finding] = []
        self._seen: set[tuple] = set()

    # -- populations and targets -------------------------------------------------

    def _pops(self, idx: int) -> list[_Pop]:
        out = []
        for v in self.vms_on.get(idx, ()):
            orig = self.fleet.vm_class(v.spec, self.initial[idx])
            out.append(_Pop(v, orig, "original"))
            fresh = self.fleet.vm_class(v.spec, self.cur[idx])
            # No fresh VMs where the stack no longer runs the machine type at all.
            if fresh is not orig and self.fleet.registers(self.cur[idx], fresh):
                out.append(_Pop(v, fresh, "fresh"))
        return out

    def _owners(self, class_id: int, extra: dict[int, str]) -> tuple[str, ...]:
        names = [h.name for h, c in zip(self.plan.hosts, self.cur, strict=True) if c.id == class_id]
        if class_id in extra:
            names.append(extra[class_id])
        return tuple(dict.fromkeys(names))

    def _judge(self, pop: _Pop, available: Counter[int], extra: dict[int, str]
               ) -> tuple[list[Target], list[tuple[Target, dict[str, Any]]]]:
        """Safe destinations, and the blocking ones with their verdicts."""
        safe, blocked = [], []
        for cid in sorted(c for c, n in available.items() if n > 0):
            dst = self.fleet.hosts[cid]
            v = self.fleet.migrate(pop.vmc, dst)
            t = Target(dst.label, self._owners(cid, extra), v["outcome"], v["severity"])
            if v["severity"] != "block" or no_worse(self.fleet, pop.vmc, v):
                safe.append(t)
            else:
                blocked.append((t, v))
        return safe, blocked

    # -- findings ------------------------------------------------------------------

    def _add(self, f: Finding, dedupe: tuple | None = None) -> None:
        if dedupe is not None:
            if dedupe in self._seen:
                return
            self._seen.add(dedupe)
        self.findings.append(f)

    def _evacuation(self, idx: int, pop: _Pop, phases: list[tuple[str, Counter[int]]],
                    extra: dict[int, str], wave: Wave | None, k: int, context: str,
                    line: int) -> None:
        host = self.plan.hosts[idx]
        stuck_phases: list[str] = []
        stuck_targets: dict[str, Target] = {}
        unsafe_all: dict[tuple[str, str], Target] = {}
        verdicts: list[dict[str, Any]] = []
        stuck_verdicts: list[dict[str, Any]] = []
        for label, available in phases:
            safe, blocked = self._judge(pop, available, extra)
            if not safe:
                stuck_phases.append(label)
                for t, v in blocked:
                    stuck_targets[t.label] = t
                    stuck_verdicts.append(v)
            for t, v in blocked:
                if t.outcome not in _NOT_PICKABLE:
                    unsafe_all[(t.label, t.outcome)] = t
                    verdicts.append(v)
        wname = wave.name if wave else None
        who = f"{pop.entry.describe()} ({pop.kind}) on {host.describe()}"
        if stuck_phases:
            outcomes = ", ".join(f"{t.outcome} on {t.label}" for t in stuck_targets.values())
            msg = (f"{who}: no destination with a non-blocking verdict "
                   f"{'; '.join(stuck_phases)}" + (f" ({outcomes})" if outcomes else
                                                   " (no other host)"))
            key = ("evac", idx, pop.entry.name, pop.vmc.id, tuple(sorted(stuck_targets)))
            self._add(Finding("check.no-evacuation-target", "block", wname, k, context, host.name,
                              host.count, pop.entry.name, pop.entry.count, pop.kind, line,
                              pop.entry.line, msg, engine_rules(stuck_verdicts),
                              targets=list(stuck_targets.values()), phases=stuck_phases),
                      key if context in ("after-wave", "initial") else None)
        if unsafe_all:
            targets = sorted(unsafe_all.values(), key=lambda t: (t.severity, t.label))
            sev = "warn" if all(t.outcome in _CLEAN_FAILURES for t in targets) else "block"
            outcomes = "; ".join(f"{t.label} [{', '.join(t.hosts)}]: {t.outcome}" for t in targets)
            msg = f"{who}: a scheduler could pick destinations that fail: {outcomes}"
            key = ("unsafe", idx, pop.entry.name, pop.vmc.id, tuple(sorted(unsafe_all)))
            self._add(Finding("check.unsafe-targets", sev, wname, k, context, host.name,
                              host.count, pop.entry.name, pop.entry.count, pop.kind, line,
                              pop.entry.line, msg, engine_rules(verdicts), targets=targets),
                      key if context in ("after-wave", "initial") else None)

    def _boundary(self, wave: Wave | None, k: int) -> None:
        """Every VM evacuable with the fleet as it stands between waves."""
        context = "after-wave" if wave else "initial"
        line = wave.line if wave else 0
        for idx in range(len(self.plan.hosts)):
            available = Counter(self.counts)
            available[self.cur[idx].id] -= 1  # not onto the VM's own host
            for pop in self._pops(idx):
                when = f"after wave {wave.name}" if wave else "before the rollout"
                self._evacuation(idx, pop, [(when, available)], {}, wave, k, context,
                                 line or pop.entry.line)
                if wave is None:
                    self._initial_state(idx, pop)

    def _initial_state(self, idx: int, pop: _Pop) -> None:
        v = self.fleet.boot(pop.vmc)
        if v["outcome"] in _BAD_STATES:
            host = self.plan.hosts[idx]
            msg = (f"{pop.entry.describe()} on {host.describe()}: {v['outcome']} at power-on on "
                   f"{self.initial[idx].label}, before any wave")
            self._add(Finding("check.initial-state", "block", None, 0, "initial", host.name,
                              host.count, pop.entry.name, pop.entry.count, pop.kind, pop.entry.line,
                              pop.entry.line, msg, engine_rules([v]), outcome=v["outcome"]))

    def _drain(self, wave: Wave, k: int, j: int, idx: int) -> None:
        host = self.plan.hosts[idx]
        line = wave.host_lines[j]
        old = self.cur[idx]
        where = Location(self.plan.source, wave.line)
        spec = apply_set(self.specs[idx], wave.set)
        new = self.fleet.host_class(spec, where)
        base = Counter(self.counts)
        base[old.id] -= host.count
        n = host.count
        first = f"while draining {'the first host of ' if n > 1 else ''}{host.name}"
        phases: list[tuple[str, Counter[int]]] = [(first, base + Counter({old.id: n - 1}))]
        if n >= 3:
            phases.append((f"while draining a middle host of {host.name}",
                           base + Counter({old.id: 1, new.id: 1})))
        if n >= 2:
            phases.append((f"while draining the last host of {host.name}",
                           base + Counter({new.id: n - 1})))
        extra = {new.id: f"{host.name} (upgraded)"} if new.id != old.id else {}
        pops = self._pops(idx)
        for pop in pops:
            self._evacuation(idx, pop, phases, extra, wave, k, "draining", line)
        for pop in pops:
            self._refill(idx, pop, new, wave, k, line)
        self.specs[idx] = spec
        self.cur[idx] = new
        self.counts[old.id] -= n
        self.counts[new.id] += n
        self.last_wave[idx] = k

    def _refill(self, idx: int, pop: _Pop, new: HostClass, wave: Wave, k: int, line: int) -> None:
        host = self.plan.hosts[idx]
        who = f"{pop.entry.describe()} ({pop.kind}) on {host.describe()}"
        args = (wave.name, k)
        if not self.fleet.registers(new, pop.vmc):
            v = self.fleet.migrate(pop.vmc, new)
            msg = (f"{who}: QEMU {new.host.qemu_text} no longer registers machine type "
                   f"{pop.vmc.vm.machine.name}; the VMs cannot come back or be restarted there")
            self._add(Finding("check.machine-removed", "block", *args, "refill", host.name,
                              host.count, pop.entry.name, pop.entry.count, pop.kind, line,
                              pop.entry.line, msg, engine_rules([v]), outcome=v["outcome"]),
                      ("removed", idx, pop.entry.name, new.id))
            return
        v = self.fleet.migrate(pop.vmc, new)
        if v["severity"] == "block" and not no_worse(self.fleet, pop.vmc, v):
            check = "check.post-wave-state" if v["outcome"] in _BAD_STATES else "check.refill-blocked"
            msg = f"{who}: migrating back onto the upgraded host ({new.label}) gives {v['outcome']}"
            self._add(Finding(check, "block", *args, "refill", host.name, host.count,
                              pop.entry.name, pop.entry.count, pop.kind, line, pop.entry.line, msg,
                              engine_rules([v]), outcome=v["outcome"]))
        # A VM cold-booted on the new stack: what the wave does to new and restarted VMs.
        if pop.kind == "original":
            before = self.fleet.boot(self.fleet.vm_class(pop.entry.spec, self.cur[idx]))
            after = self.fleet.boot(self.fleet.vm_class(pop.entry.spec, new))
            if after["outcome"] in _BAD_STATES and after["outcome"] != before["outcome"]:
                msg = (f"{pop.entry.describe()} on {host.describe()}: a cold boot on the upgraded "
                       f"stack ({new.label}) gives {after['outcome']} (before: {before['outcome']})")
                self._add(Finding("check.post-wave-state", "block", *args, "after-wave", host.name,
                                  host.count, pop.entry.name, pop.entry.count, "fresh", line,
                                  pop.entry.line, msg, engine_rules([after]),
                                  outcome=after["outcome"]))

    def _stays_quirked(self) -> None:
        for idx, host in enumerate(self.plan.hosts):
            k = self.last_wave[idx]
            if k is None:
                continue
            wave = self.plan.rollout[k - 1]
            for v in self.vms_on.get(idx, ()):
                orig = self.fleet.vm_class(v.spec, self.initial[idx])
                running = self.fleet.boot(orig)
                if running["policy"] != "quirked" or not self.fleet.registers(self.cur[idx], orig):
                    continue
                fresh = self.fleet.boot(self.fleet.vm_class(v.spec, self.cur[idx]))
                exposed = running["outcome"] in ("storm-risk", "storm")
                if fresh.get("policy") in ("quirked", "n/a", None):
                    if exposed and fresh.get("outcome") in ("storm-risk", "storm"):
                        # The rollout reached this host, yet even a cold restart stays quirked.
                        msg = (f"{v.describe()} on {host.describe()}: still {running['outcome']} "
                               f"after the rollout, and a cold restart on {self.cur[idx].label} "
                               f"stays quirked too: this stack cannot deliver the fix")
                        severity = "block" if running["outcome"] == "storm" else "warn"
                        self._add(Finding("check.stays-quirked", severity, wave.name, k, "end",
                                          host.name, host.count, v.name, v.count, "original",
                                          v.line, v.line, msg, engine_rules([fresh]),
                                          outcome=running["outcome"]))
                    continue
                moved = self.fleet.migrate(orig, self.cur[idx])
                msg = (f"{v.describe()} on {host.describe()}: running VMs stay quirked "
                       f"({running['outcome']}) after the rollout; a cold restart on "
                       f"{self.cur[idx].label} gives {fresh['policy']} ({fresh['outcome']})"
                       + ("; the guest is storm-exposed until then" if exposed else ""))
                self._add(Finding("check.stays-quirked", "warn" if exposed else "info", wave.name,
                                  k, "end", host.name, host.count, v.name, v.count, "original",
                                  v.line, v.line, msg, engine_rules([moved, fresh]),
                                  outcome=running["outcome"]))

    def run(self) -> RolloutResult:
        self._boundary(None, 0)
        summary = []
        for k, wave in enumerate(self.plan.rollout, start=1):
            before = len(self.findings)
            for j, name in enumerate(wave.hosts):
                self._drain(wave, k, j, self.plan.host_index(name))
            self._boundary(wave, k)
            summary.append({"name": wave.name, "index": k, "line": wave.line,
                            "hosts": [{"name": n, "count": self.plan.hosts[
                                self.plan.host_index(n)].count} for n in wave.hosts],
                            "set": dict(wave.set), "findings": len(self.findings) - before})
        self._stays_quirked()
        return RolloutResult(self.findings, list(self.cur), summary)
