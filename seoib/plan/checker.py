"""`seoib check` as a function: a parsed plan in, a report object (the JSON contract) out."""

from __future__ import annotations

import time
from typing import Any

from ..rules.ruleset import RuleSet
from .findings import CHECKS, SEVERITY_RANK, Finding, exit_for
from .fleetclasses import FleetClasses
from .planfile import Plan
from .rollout import Rollout

__all__ = ["CheckReport", "check_plan"]


class CheckReport:
    """Findings plus what a reader needs to trust them (classes, verdicts, simulator tally)."""

    def __init__(self, plan: Plan, rs: RuleSet, fleet: FleetClasses, findings: list[Finding],
                 waves: list[dict[str, Any]], seconds: float, fixed_vms: int = 0,
                 broken_vms: int = 0) -> None:
        self.plan = plan
        self.rs = rs
        self.fleet = fleet
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

    def as_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "command": "check",
            "plan": p.source,
            "rules": {"root": str(self.rs.root), "digest": self.rs.digest},
            "status": self.status(),
            "counts": self.counts(),
            "fleet": {"host_entries": len(p.hosts), "hosts": sum(h.count for h in p.hosts),
                      "vm_entries": len(p.vms), "vms": sum(v.count for v in p.vms),
                      "host_classes": len(self.fleet.hosts), "vm_classes": self.fleet.vm_classes(),
                      "evaluations": self.fleet.evaluations()},
            "waves": self.waves,
            "checks": [{"id": cid, "severity": sev, "description": d}
                       for cid, (sev, d) in CHECKS.items()],
            "findings": [f.as_json(p.source) for f in self.findings],
            "rollout": {"fixed_vms": self.fixed_vms, "broken_vms": self.broken_vms,
                        "pre_existing": self.pre_existing()},
            "witness": {"validated": self.fleet.validated,
                        "disagreements": self.fleet.disagreements},
            "seconds": round(self.seconds, 3),
        }


def check_plan(plan: Plan, rs: RuleSet, *, validate: bool = True,
               fleet: FleetClasses | None = None) -> CheckReport:
    """Run the plan's waves over classes; ``fleet`` may carry verdicts already computed."""
    start = time.perf_counter()
    fleet = fleet or FleetClasses(rs, validate=validate)
    result = Rollout(plan, fleet).run()
    return CheckReport(plan, rs, fleet, result.findings, result.waves,
                       time.perf_counter() - start, result.fixed_vms, result.broken_vms)
