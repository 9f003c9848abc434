"""Room on hosts: does a drain fit, and where do VMs that cannot return go.

A plan may give a host entry ``capacity`` (VMs per host). A bucket is the part of
one host entry that runs one stack at a moment of the rollout, with its free
slots (``None``: no capacity given, unlimited). A drain moves the VMs of one host;
each VM entry may only go to the buckets whose stack is a safe destination for
it. Whether everything fits is a bipartite flow problem, small because it runs
over VM entries and buckets, never over single VMs. ``StackRoom`` keeps the room per
stack up to date entry by entry, so a drain weighs the stacks, not every host entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:
    from .moments import HostPart
    from .planfile import HostEntry

__all__ = ["Bucket", "Demand", "StackRoom", "buckets", "place", "unplaced"]


@dataclass(frozen=True)
class Bucket:
    entry: int  # host entry index
    hosts: int  # hosts of that entry in this bucket
    free: int | None  # free VM slots over those hosts; None: capacity not modelled

    def room(self) -> float:
        return float("inf") if self.free is None else max(self.free, 0)


@dataclass(frozen=True)
class Demand:
    key: object
    count: int
    allowed: frozenset[int]  # indexes into the bucket list


def buckets(parts: Sequence[HostPart], hosts: Sequence[HostEntry],
            load: Callable[[int], int]) -> list[Bucket]:
    """Room per part of a moment: its hosts' capacity less their share of the entry's VMs."""
    out = []
    for p in parts:
        h = hosts[p.entry]
        free = None
        if h.capacity is not None:
            free = int(p.hosts * h.capacity - load(p.entry) * p.hosts / h.count)
        out.append(Bucket(p.entry, p.hosts, free))
    return out


class StackRoom:
    """Free slots per stack over one part per host entry (``None``: some part of the stack
    has no capacity), updated when an entry's part or load changes."""

    def __init__(self, hosts: Sequence[HostEntry], load: Callable[[int], int]) -> None:
        self.hosts, self.load = hosts, load
        self._of: dict[int, tuple[int, int | None]] = {}  # entry -> (stack, free) it adds
        self._free: Counter[int] = Counter()  # stack -> free slots of its bounded parts
        self._open: Counter[int] = Counter()  # stack -> parts without a capacity
        self._parts: Counter[int] = Counter()  # stack -> parts with hosts

    def free(self, part: HostPart) -> int | None:
        """A part's room: its hosts' capacity less their share of the entry's VMs."""
        h = self.hosts[part.entry]
        if h.capacity is None:
            return None
        return max(int(part.hosts * h.capacity - self.load(part.entry) * part.hosts / h.count), 0)

    def _apply(self, stack: int, free: int | None, sign: int, free_: Counter[int],
               open_: Counter[int], parts: Counter[int]) -> None:
        parts[stack] += sign
        if free is None:
            open_[stack] += sign
        else:
            free_[stack] += sign * free

    def set(self, part: HostPart) -> None:
        """Entry ``part.entry`` now stands as ``part``, with its current load."""
        old = self._of.pop(part.entry, None)
        if old is not None:
            self._apply(*old, -1, self._free, self._open, self._parts)
        if part.hosts:
            self._of[part.entry] = (part.hc.id, self.free(part))
            self._apply(*self._of[part.entry], 1, self._free, self._open, self._parts)

    def room(self, instead: int | None = None, parts: Iterable[HostPart] = ()
             ) -> dict[int, int | None]:
        """Room per stack, with entry ``instead`` replaced by ``parts``."""
        free_, open_, counted = Counter(self._free), Counter(self._open), Counter(self._parts)
        if instead is not None and instead in self._of:
            self._apply(*self._of[instead], -1, free_, open_, counted)
        for p in parts:
            if p.hosts:
                self._apply(p.hc.id, self.free(p), 1, free_, open_, counted)
        return {s: None if open_[s] else free_[s] for s, n in counted.items() if n > 0}


def unplaced(demands: Sequence[Demand], buckets: Sequence[Bucket]) -> int:
    """How many VMs of ``demands`` find no slot, with every bucket's room respected."""
    total = sum(d.count for d in demands)
    if total == 0:
        return 0
    g = nx.DiGraph()
    for i, d in enumerate(demands):
        g.add_edge("src", ("d", i), capacity=d.count)
        for b in d.allowed:
            g.add_edge(("d", i), ("b", b))  # no capacity attribute: unbounded
    for b, bucket in enumerate(buckets):
        if bucket.free is None:
            g.add_edge(("b", b), "sink")
        else:
            g.add_edge(("b", b), "sink", capacity=max(bucket.free, 0))
    if "sink" not in g:
        return total
    return total - int(nx.maximum_flow_value(g, "src", "sink"))


def place(count: int, buckets: Sequence[Bucket]) -> tuple[dict[int, int], int]:
    """Spread ``count`` VMs over buckets, in proportion to their hosts, within their room.

    Returns VMs per host entry and how many found no room.
    """
    used = [0] * len(buckets)
    left = count
    while left:
        open_ = [i for i, b in enumerate(buckets) if b.room() - used[i] > 0 and b.hosts > 0]
        if not open_:
            break
        hosts = sum(buckets[i].hosts for i in open_)
        shares = [left * buckets[i].hosts // hosts for i in open_]
        for j in range(left - sum(shares)):
            shares[j % len(shares)] += 1
        placed = 0
        for i, share in zip(open_, shares, strict=True):
            take = int(min(share, buckets[i].room() - used[i]))
            used[i] += take
            placed += take
        left -= placed
        if placed == 0:
            break
    out: dict[int, int] = {}
    for i, n in enumerate(used):
        if n:
            out[buckets[i].entry] = out.get(buckets[i].entry, 0) + n
    return out, left
