"""`seoib check` as a function: a parsed plan in, a report object (the JSON contract) out.

A finding may concern thousands of host entries (a fleet written host by host):
the JSON report lists the first few inline and refers to the whole set by id;
every distinct set of host entries (``host_sets``) and of VM entries (``vm_sets``)
is listed once, at the end. Its size so grows with the findings plus the fleet,
never with their product, and :meth:`CheckReport.chunks` writes it piece by piece.
"""

from __future__ import annotations

import json
import time
from collections.abc import Hashable, Iterator
from typing import Any

from ..rules.ruleset import RuleSet
from .blocks import Layout
from .bulk import paused_collector
from .findings import CHECKS, SEVERITY_RANK, Entries, Finding, Target, exit_for
from .fleetclasses import FleetClasses
from .planfile import Plan
from .rollout import Rollout

__all__ = ["CheckReport", "EntrySets", "check_plan"]


class EntrySets:
    """Distinct sets of entries the findings name, numbered in first-use order."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, int] = {}
        self.sets: list[Entries] = []

    def id(self, entries: Entries) -> int:
        hit = self._ids.get(entries.key)
        if hit is None:
            hit = self._ids[entries.key] = len(self.sets)
            self.sets.append(entries)
        return hit


class CheckReport:
    """Findings plus what a reader needs to trust them (classes, verdicts, simulator tally)."""

    def __init__(self, plan: Plan, rs: RuleSet, fleet: FleetClasses, findings: list[Finding],
                 waves: list[dict[str, Any]], seconds: float, fixed_vms: int = 0,
                 broken_vms: int = 0, layout: Layout | None = None) -> None:
        self.plan = plan
        self.rs = rs
        self.fleet = fleet
        self.layout = layout
        self.findings = sorted(findings, key=lambda f: (
            f.wave_index, -SEVERITY_RANK[f.severity], list(CHECKS).index(f.check), f.line, f.vm))
        self.waves = waves
        self.seconds = seconds
        self.fixed_vms = fixed_vms
        self.broken_vms = broken_vms

    @property
    def disagreements(self) -> list[dict[str, Any]]:
        return self.fleet.disagreements

    def counts(self) -> dict[str, int]:
        out = {"block": 0, "warn": 0, "info": 0}
        for f in self.findings:
            out[f.severity] += 1
        return out

    def pre_existing(self) -> dict[str, int]:
        """Findings the fleet has before any wave: reported, not caused by the rollout."""
        out = {"block": 0, "warn": 0, "info": 0}
        for f in self.findings:
            if f.cause == "pre-existing":
                out[f.severity] += 1
        return out

    def introduced(self) -> list[Finding]:
        """Findings the rollout causes."""
        return [f for f in self.findings if f.cause != "pre-existing"]

    def status(self) -> str:
        c = self.counts()
        return "block" if c["block"] else "warn" if c["warn"] else "ok"

    def exit_code(self, fail_on: str) -> int:
        return 4 if self.disagreements else exit_for(self.findings, fail_on)

    def target_hosts(self, t: Target) -> Entries:
        """The host entries that ran a destination stack."""
        assert self.layout is not None
        return self.layout.union(t.blocks)

    def fleet_json(self) -> dict[str, int]:
        p = self.plan
        return {"host_entries": len(p.hosts), "hosts": sum(h.count for h in p.hosts),
                "vm_entries": len(p.vms), "vms": sum(v.count for v in p.vms),
                "blocks": len(self.layout.blocks) if self.layout else len(p.hosts),
                "host_classes": len(self.fleet.hosts), "vm_classes": self.fleet.vm_classes(),
                "evaluations": self.fleet.evaluations()}

    def _head(self) -> dict[str, Any]:
        return {
            "command": "check",
            "plan": self.plan.source,
            "rules": {"root": str(self.rs.root), "digest": self.rs.digest},
            "status": self.status(),
            "counts": self.counts(),
            "fleet": self.fleet_json(),
            "waves": self.waves,
            "checks": [{"id": cid, "severity": sev, "description": d}
                       for cid, (sev, d) in CHECKS.items()],
        }

    def _tail(self) -> dict[str, Any]:
        return {
            "rollout": {"fixed_vms": self.fixed_vms, "broken_vms": self.broken_vms,
                        "pre_existing": self.pre_existing()},
            "witness": {"validated": self.fleet.validated,
                        "disagreements": self.fleet.disagreements},
            "seconds": round(self.seconds, 3),
        }

    def finding_json(self, f: Finding, hosts: EntrySets, vms: EntrySets) -> dict[str, Any]:
        source = self.plan.source
        targets = []
        for t in f.targets:
            where = self.target_hosts(t)
            targets.append({"stack": t.label, "hosts": [n for n, _ in where.first()],
                            "host_count": where.total, "host_entries": where.entries,
                            "host_set": hosts.id(where), "outcome": t.outcome,
                            "severity": t.severity})
        return {
            "rule": f.check,
            "rules": f.rule_ids,
            "severity": f.severity,
            "wave": f.wave,
            "wave_index": f.wave_index,
            "context": f.context,
            "hosts": [{"name": n, "count": c} for n, c in f.hosts.first()],
            "host_count": f.hosts.total,
            "host_entries": f.hosts.entries,
            "host_set": hosts.id(f.hosts),
            "vms": [{"name": n, "count": min(c, f.vm_count), "population": f.population}
                    for n, c in f.vms.first()],
            "vm_count": f.vm_count,
            "vm_entries": f.vms.entries,
            "vm_set": vms.id(f.vms),
            "outcome": f.outcome,
            "targets": targets,
            "phases": f.phases,
            "booted": f.booted,
            "cause": f.cause,
            "message": f.message,
            "location": {"file": source, "line": f.line},
            "vm_location": {"file": source, "line": f.vm_line},
        }

    def as_json(self) -> dict[str, Any]:
        """The whole report as one object (``chunks`` writes the same text piece by piece)."""
        hosts, vms = EntrySets(), EntrySets()
        data = self._head()
        data["findings"] = [self.finding_json(f, hosts, vms) for f in self.findings]
        data.update(self._tail())
        data["host_sets"] = [_set_json(i, e) for i, e in enumerate(hosts.sets)]
        data["vm_sets"] = [_set_json(i, e) for i, e in enumerate(vms.sets)]
        return data

    def chunks(self, extra: dict[str, Any]) -> Iterator[str]:
        """The JSON report as text, a finding or an entry at a time; ``extra`` fields last."""
        hosts, vms = EntrySets(), EntrySets()
        head = self._head()
        yield "{\n"
        for key, value in head.items():
            if key == "waves":  # a wave of a fleet written host by host lists thousands
                yield '  "waves": [' + ",".join(
                    "\n    " + json.dumps(w, separators=(", ", ": ")) for w in value) + (
                    "\n  ],\n" if value else "],\n")
                continue
            yield f"  {json.dumps(key)}: {_indent(value)},\n"
        yield '  "findings": ['
        for i, f in enumerate(self.findings):
            yield ("," if i else "") + "\n    " + _indent(self.finding_json(f, hosts, vms), 4)
        yield ("\n  " if self.findings else "") + "],\n"
        for key, value in {**self._tail(), **extra}.items():
            yield f"  {json.dumps(key)}: {_indent(value)},\n"
        for name, table in (("host_sets", hosts), ("vm_sets", vms)):
            yield f'  "{name}": ['
            for i, entries in enumerate(table.sets):
                yield ("," if i else "") + "\n    " + _entries_text(i, entries)
            yield ("\n  " if table.sets else "") + ("],\n" if name == "host_sets" else "]\n")
        yield "}\n"


def _indent(value: Any, level: int = 2) -> str:
    text = json.dumps(value, indent=2)
    return text.replace("\n", "\n" + " " * level)


def _set_json(i: int, entries: Entries) -> dict[str, Any]:
    return {"id": i, "count": entries.total, "entries": [{"name": n, "count": c}
                                                        for n, c in entries.pairs()]}


def _entries_text(i: int, entries: Entries) -> str:
    """One set as compact JSON: one line per set, the names streamed from their blocks."""
    names = ",".join(json.dumps({"name": n, "count": c}, separators=(",", ":"))
                     for n, c in entries.pairs())
    return f'{{"id": {i}, "count": {entries.total}, "entries": [{names}]}}'


def check_plan(plan: Plan, rs: RuleSet, *, validate: bool = True,
               fleet: FleetClasses | None = None, layout: Layout | None = None) -> CheckReport:
    """Run the plan's waves over classes; ``fleet`` may carry verdicts already computed."""
    start = time.perf_counter()
    fleet = fleet or FleetClasses(rs, validate=validate)
    with paused_collector():
        result = Rollout(plan, fleet, layout).run()
    return CheckReport(plan, rs, fleet, result.findings, result.waves,
                       time.perf_counter() - start, result.fixed_vms, result.broken_vms,
                       result.layout)
