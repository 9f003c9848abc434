"""Plan findings: the checks a plan is held to, and one record per problem found."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

__all__ = ["CHECKS", "POPULATIONS", "SEVERITY_RANK", "Finding", "Target", "engine_rules", "exit_for"]

# id -> (worst severity, one-line description). Order is report order.
CHECKS: dict[str, tuple[str, str]] = {
    "check.no-evacuation-target": (
        "block", "a VM has no destination with a non-blocking live-migration verdict"),
    "check.unsafe-targets": (
        "block", "destinations a scheduler could pick that refuse the VM (warn) or abort or "
                 "break it (block)"),
    "check.machine-removed": (
        "block", "the upgraded QEMU no longer registers the VM's machine type: it cannot come "
                 "back or restart"),
    "check.refill-blocked": (
        "block", "a drained VM cannot live-migrate back onto its upgraded host"),
    "check.capacity": (
        "block", "a drain moves more VMs than the hosts they may go to have room for "
                 "(capacity: VMs per host)"),
    "check.post-wave-state": (
        "block", "after the wave, VMs storm, get stuck or fail to start on the new stack"),
    "check.snapshot-restore": (
        "block", "a VM restored from a snapshot taken before a wave (QMP loadvm into the VM as "
                 "it runs after) aborts or breaks, as seoib migrate --snapshot judges it"),
    "check.initial-state": (
        "block", "before the rollout, VMs as placed fail to start, storm or get stuck"),
    "check.stays-quirked": (
        "warn", "running VMs keep the quirked behaviour after the rollout; only a cold restart "
                "gives them the fix (warn when the guest is storm-exposed, else a note)"),
}

SEVERITY_RANK = {"info": 0, "warn": 1, "block": 2}

# Who the VMs of a finding are: when and where they last powered on, or that they sit away
# from home. A population counts its VM entry's VMs (at most; restarts move VMs between them).
POPULATIONS = {
    "original": "running since before the rollout",
    "fresh": "cold-booted (new or restarted) on their host's stack as of the last wave boundary",
    "in-wave": "cold-booted on a host the current wave has already upgraded",
    "intermediate": "cold-booted on a stack an earlier wave put in place and a later one replaced",
    "stranded": "drained off their home host and unable to return: counted where they sit",
}


@dataclass(frozen=True)
class Target:
    """A destination class and what a migration there does."""

    label: str
    hosts: tuple[str, ...]  # host entries currently in that class
    outcome: str
    severity: str

    @cached_property
    def host_set(self) -> frozenset[str]:
        """``hosts`` for membership tests: a destination may name thousands of entries."""
        return frozenset(self.hosts)

    def as_json(self) -> dict[str, Any]:
        return {"stack": self.label, "hosts": list(self.hosts), "outcome": self.outcome,
                "severity": self.severity}


@dataclass
class Finding:
    check: str
    severity: str
    wave: str | None  # None: before the rollout
    wave_index: int  # 1-based; 0 before the rollout
    context: str  # initial | draining | during-wave | refill | after-wave | end
    host: str  # where the VMs sit (a stranded population sits away from its home)
    host_count: int
    vm: str
    vm_count: int
    population: str  # see POPULATIONS
    line: int
    vm_line: int
    message: str
    rules: list[str]
    outcome: str | None = None
    targets: list[Target] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    booted: dict[str, Any] | None = None  # host, stack and wave of the population's boot
    cause: str = "rollout"  # rollout | pre-existing (a problem the fleet has before any wave)

    @property
    def rule_ids(self) -> list[str]:
        """The finding's rule id: the check, then the engine rules that decided it."""
        return [self.check, *self.rules]

    def as_json(self, source: str) -> dict[str, Any]:
        return {
            "rule": self.check,
            "rules": self.rule_ids,
            "severity": self.severity,
            "wave": self.wave,
            "wave_index": self.wave_index,
            "context": self.context,
            "hosts": [{"name": self.host, "count": self.host_count}],
            "vms": [{"name": self.vm, "count": self.vm_count, "population": self.population}],
            "vm_count": self.vm_count,
            "outcome": self.outcome,
            "targets": [t.as_json() for t in self.targets],
            "phases": self.phases,
            "booted": self.booted,
            "cause": self.cause,
            "message": self.message,
            "location": {"file": source, "line": self.line},
            "vm_location": {"file": source, "line": self.vm_line},
        }


def engine_rules(verdicts: Iterable[dict[str, Any]]) -> list[str]:
    """Rule ids from verdict reasons, in first-seen order; the VM spec itself is no rule."""
    out: dict[str, None] = {}
    for v in verdicts:
        for r in v.get("reasons", ()):
            if r["rule"] != "spec":
                out.setdefault(r["rule"], None)
    return list(out)


def exit_for(findings: Iterable[Finding], fail_on: str) -> int:
    """0 ok; 1 warnings only; 2 something blocks. --fail-on block lets warnings pass (0)."""
    worst = max((SEVERITY_RANK[f.severity] for f in findings), default=0)
    if worst == 2:
        return 2
    if worst == 1 and fail_on == "warn":
        return 1
    return 0
