"""Plan findings: the checks a plan is held to, and one record per problem found."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from .names import LISTED

__all__ = ["CHECKS", "POPULATIONS", "SEVERITY_RANK", "Entries", "Finding", "Target", "engine_rules",
           "exit_for"]

SHOWN_NAMES = 3  # parts of a union named before "and N more"

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
    "drain-booted": "cold-booted on the host a drain moved them to, then brought back home",
}


class Entries:
    """Host (or VM) entries a finding names: a few words for people, every one for JSON.

    ``key`` is the set's identity (a block, a union of blocks, an item): the JSON
    report lists each distinct set once and findings refer to it, so its size
    grows with the findings plus the fleet, never with their product. Entries may
    be a union of others (``parts``), read lazily.
    """

    __slots__ = ("_counts", "_names", "key", "parts", "text", "total")

    def __init__(self, key: Hashable, text: str, total: int, names: Sequence[str] = (),
                 counts: Sequence[int] = (), parts: tuple[Entries, ...] = ()) -> None:
        self.key, self.text, self.total = key, text, total
        self._names, self._counts, self.parts = names, counts, parts

    @classmethod
    def union(cls, key: Hashable, parts: Sequence[Entries], unit: str) -> Entries:
        parts = tuple(parts)
        if len(parts) == 1:
            return parts[0]
        total = sum(p.total for p in parts)
        entries = sum(p.entries for p in parts)
        # Each part named as it names itself (a range, a group), the first few of them.
        shown = [p.text for p in parts[:SHOWN_NAMES]]
        rest = sum(p.entries for p in parts[SHOWN_NAMES:])
        text = ", ".join(shown) + (f" and {rest:,} more" if rest else "")
        if unit == "hosts" and total != entries and len(parts) > 1:
            text += f" ({total:,} hosts)"
        return cls(key, text, total, parts=parts)

    @property
    def entries(self) -> int:
        return sum(p.entries for p in self.parts) if self.parts else len(self._names)

    @property
    def names(self) -> Sequence[str]:
        if self.parts:
            return [n for p in self.parts for n in p.names]
        return self._names

    def pairs(self) -> Iterator[tuple[str, int]]:
        """Every entry with its hosts (or VMs)."""
        if self.parts:
            for p in self.parts:
                yield from p.pairs()
        else:
            yield from zip(self._names, self._counts, strict=True)

    def first(self, n: int = LISTED) -> list[tuple[str, int]]:
        return list(islice(self.pairs(), n))


@dataclass(frozen=True)
class Target:
    """A destination stack and what a migration there does."""

    label: str
    blocks: frozenset[int]  # the blocks that ran that stack, over the moments seen
    outcome: str
    severity: str


@dataclass
class Finding:
    check: str
    severity: str
    wave: str | None  # None: before the rollout
    wave_index: int  # 1-based; 0 before the rollout
    context: str  # initial | draining | during-wave | refill | after-wave | end
    hosts: Entries  # where the VMs sit (a stranded population sits away from its home)
    vms: Entries  # the VM entries concerned
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
    def host(self) -> str:
        """Where the VMs sit, in a few words (a name, or the first names and how many more)."""
        return self.hosts.text

    @property
    def host_count(self) -> int:
        return self.hosts.total

    @property
    def vm(self) -> str:
        return self.vms.text

    @property
    def rule_ids(self) -> list[str]:
        """The finding's rule id: the check, then the engine rules that decided it."""
        return [self.check, *self.rules]


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
