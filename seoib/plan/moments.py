"""The fleet at one moment of a rollout: which hosts of which entry run which stack.

A moment lists every host entry as a part (hosts that run one stack); the entry a
wave is upgrading splits into its old and its upgraded hosts. Destinations are
named from the parts that run them, so a stack several entries share carries every
entry's own label, and a destination seen over several moments lists every entry
that ran it.

A ``Moment`` carries what judging needs without listing every entry: hosts per
stack, and the one entry under upgrade. The list of parts is built only when a
finding names destinations or capacity is weighed, so the moments of a wave over
thousands of single hosts cost the stacks, not the hosts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from .findings import Target
from .fleetclasses import HostClass

__all__ = ["HostPart", "Moment", "merge_targets", "part_name", "without"]


@dataclass(frozen=True)
class HostPart:
    """Hosts of one entry that run one stack at a moment."""

    entry: int
    name: str
    hc: HostClass
    hosts: int
    label: str  # the stack, by this entry's own versions
    upgraded: bool = False  # the part of an entry its running wave has already upgraded


class Moment:
    """Every host entry as it stands, entry ``split[0]`` split into its old and new part.

    ``still`` (one part per entry) and ``stacks`` (hosts per stack over ``still``) are
    shared with the rollout and must not change while the moment is in use.
    """

    def __init__(self, still: list[HostPart], stacks: Mapping[int, int],
                 split: tuple[HostPart, HostPart] | None = None) -> None:
        self.still = still
        self.split = split
        counts = dict(stacks)
        if split is not None:
            old, new = split
            whole = still[old.entry]
            counts[whole.hc.id] -= whole.hosts
            counts[old.hc.id] = counts.get(old.hc.id, 0) + old.hosts
            counts[new.hc.id] = counts.get(new.hc.id, 0) + new.hosts
        self.hosts = counts  # stack -> hosts running it (0: only an empty part runs it)

    @property
    def entry(self) -> int | None:
        """The entry under upgrade, if any."""
        return None if self.split is None else self.split[0].entry

    def stack(self, entry: int, upgraded: bool) -> int:
        """The stack of ``entry``'s old (or, under upgrade, upgraded) part."""
        if self.split is not None and entry == self.split[0].entry:
            return self.split[1 if upgraded else 0].hc.id
        return self.still[entry].hc.id

    @cached_property
    def ids(self) -> frozenset[int]:
        """Stacks some host runs."""
        return frozenset(c for c, n in self.hosts.items() if n > 0)

    @cached_property
    def lonely(self) -> frozenset[int]:
        """Stacks exactly one host runs."""
        return frozenset(c for c, n in self.hosts.items() if n == 1)

    @cached_property
    def parts(self) -> list[HostPart]:
        if self.split is None:
            return self.still
        idx = self.split[0].entry
        return [*self.still[:idx], *self.split, *self.still[idx + 1:]]


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
    if seen is now or now.host_set <= seen.host_set:
        return seen
    labels = " / ".join(dict.fromkeys([*seen.label.split(" / "), *now.label.split(" / ")]))
    return Target(labels, tuple(dict.fromkeys(seen.hosts + now.hosts)), now.outcome, now.severity)
