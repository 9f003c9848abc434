"""The fleet at one moment of a rollout: which hosts of which entry run which stack.

A moment lists every host entry as a part (hosts that run one stack); the entry a
wave is upgrading splits into its old and its upgraded hosts. Destinations are
named from the parts that run them, so a stack several entries share carries every
entry's own label, and a destination seen over several moments lists every entry
that ran it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .findings import Target
from .fleet import HostClass

__all__ = ["HostPart", "merge_targets", "part_name", "without"]


@dataclass(frozen=True)
class HostPart:
    """Hosts of one entry that run one stack at a moment."""

    entry: int
    name: str
    hc: HostClass
    hosts: int
    label: str  # the stack, by this entry's own versions
    upgraded: bool = False  # the part of an entry its running wave has already upgraded


def without(parts: list[HostPart], entry: int, upgraded: bool) -> list[HostPart]:
    """One host of ``entry`` (its old or upgraded part) out of service."""
    out, done = [], False
    for p in parts:
        if not done and p.entry == entry and p.upgraded == upgraded and p.hosts > 0:
            p = HostPart(p.entry, p.name, p.hc, p.hosts - 1, p.label, p.upgraded)
            done = True
        out.append(p)
    return out


def part_name(p: HostPart) -> str:
    return f"{p.name} (upgraded)" if p.upgraded else p.name


def merge_targets(seen: Target | None, now: Target) -> Target:
    """One destination stack over several moments: every host entry that ran it."""
    if seen is None:
        return now
    if seen is now or set(now.hosts) <= set(seen.hosts):
        return seen
    labels = " / ".join(dict.fromkeys([*seen.label.split(" / "), *now.label.split(" / ")]))
    return Target(labels, tuple(dict.fromkeys(seen.hosts + now.hosts)), now.outcome, now.severity)
