"""Room on hosts in whole VMs: does a drain fit, and where do VMs that cannot return go.

A plan may give a host entry ``capacity`` (VMs per host). Every host holds a whole
number of VMs: a block's VMs of one kind (``count`` over ``hosts``) sit ``count //
hosts`` to a host, and the first ``count % hosts`` hosts in drain order hold one
more (:class:`Profile`). Room is counted host by host (a host over its capacity
has none, it does not lend its excess to the others), so the arithmetic is exact:
nothing is rounded up on the side of the VMs to move, nor down on the side of the
room. ``None`` stands for a host entry without a capacity: unlimited room.

Whether the VMs of one drained host fit is a transport problem from the VM kinds
to the stacks each may go to. Its shortfall is Hall's: the largest excess of a
set of kinds over the room of every stack one of them may use
(:func:`shortfall`); the handful of kinds a host carries makes that a small
enumeration, and a networkx flow answers when there are many.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import networkx as nx

__all__ = ["Bucket", "Demand", "Profile", "place", "shortfall", "unplaced"]


@dataclass(frozen=True)
class Bucket:
    entry: int  # host entry (or block) index
    hosts: int  # hosts in this bucket
    free: int | None  # free VM slots over those hosts; None: capacity not modelled

    def room(self) -> float:
        return float("inf") if self.free is None else max(self.free, 0)


@dataclass(frozen=True)
class Demand:
    key: object
    count: int
    allowed: frozenset[int]  # indexes into the bucket list (or stack ids)


class Profile:
    """Whole VMs on each host of a block, hosts numbered in drain order.

    ``loads`` are the block's VM counts, one per kind; each is spread evenly, its
    remainder on the first hosts.

    >>> p = Profile(6, 5, [25])          # 25 VMs on six hosts of 5
    >>> [p.load(j) for j in range(6)]
    [5, 4, 4, 4, 4, 4]
    >>> p.free(1, 6), p.free(0, 1)        # draining host 0: its 5 VMs, 5 free on the rest
    (5, 0)
    """

    __slots__ = ("_base", "_breaks", "_cuts", "_sums", "capacity", "hosts", "total", "uniform")

    def __init__(self, hosts: int, capacity: int | None, loads: Iterable[int]) -> None:
        self.hosts, self.capacity = hosts, capacity
        counts = [n for n in loads if n > 0]
        self.total = sum(counts)
        self._base = sum(n // hosts for n in counts) if hosts else 0
        self._breaks = sorted(n % hosts for n in counts if hosts and n % hosts)
        # Free slots before each cut where the load per host changes: free(lo, hi) is then
        # two lookups, not a walk over the hosts.
        # Free slots on each host, when every host holds as many VMs (no remainder).
        self.uniform = (max(capacity - self._base, 0) if capacity is not None and not self._breaks
                        else None)
        self._cuts = [0, *dict.fromkeys(self._breaks), hosts]
        self._sums = [0]
        if capacity is not None:
            for a, z in zip(self._cuts, self._cuts[1:], strict=False):
                self._sums.append(self._sums[-1] + (z - a) * max(capacity - self.load(a), 0))

    def load(self, j: int) -> int:
        """VMs on host ``j``."""
        return self._base + len(self._breaks) - bisect_right(self._breaks, j)

    def share(self, count: int, j: int) -> int:
        """Host ``j``'s share of one kind of ``count`` VMs."""
        q, r = divmod(count, self.hosts)
        return q + (1 if j < r else 0)

    def breakpoints(self) -> set[int]:
        """Hosts where the load per host changes (and the host before each)."""
        out = {0}
        for r in self._breaks:
            out.update((r - 1, r))
        return out

    def _before(self, d: int) -> int:
        """Free slots over hosts 0 .. d - 1."""
        k = bisect_right(self._cuts, d) - 1
        if k >= len(self._sums) - 1:
            return self._sums[-1]
        return self._sums[k] + (d - self._cuts[k]) * max(self.capacity - self.load(d), 0)  # type: ignore[operator]

    def free(self, lo: int, hi: int) -> int | None:
        """Free slots over hosts ``lo`` .. ``hi - 1``, each host's own, never below 0."""
        if self.capacity is None:
            return None
        lo, hi = max(lo, 0), min(hi, self.hosts)
        if not self._breaks:  # every host holds as many VMs
            return (hi - lo) * max(self.capacity - self._base, 0) if hi > lo else 0
        return self._before(hi) - self._before(lo) if hi > lo else 0


def shortfall(demands: Sequence[tuple[int, frozenset[int]]],
              room: Mapping[int, int | None] | Callable[[frozenset[int]], int | None]) -> int:
    """VMs that find no slot: ``demands`` are (VMs, stacks they may use); ``room`` per
    stack, or a function giving the room over a set of stacks (``None``: unlimited).

    >>> shortfall([(9, frozenset({1}))], {1: 9, 2: 4})
    0
    >>> shortfall([(6, frozenset({1})), (6, frozenset({1, 2}))], {1: 9, 2: 2})
    1
    """
    if not callable(room):
        per = room

        def room(stacks: frozenset[int]) -> int | None:
            rooms = [per.get(s, 0) for s in stacks]
            return None if None in rooms else sum(rooms)  # type: ignore[arg-type]

    if len(demands) == 1:  # one kind of VM: the room of where it may go, plainly
        count, allowed = demands[0]
        free = room(allowed)
        return 0 if free is None else max(count - free, 0)
    groups: dict[frozenset[int], int] = {}
    for count, allowed in demands:
        groups[allowed] = groups.get(allowed, 0) + count
    kinds = list(groups.items())
    if len(kinds) > 12:
        stacks = sorted(frozenset().union(*groups))
        return unplaced([Demand(i, n, frozenset(stacks.index(s) for s in a))
                         for i, (a, n) in enumerate(kinds)],
                        [Bucket(i, 1, room(frozenset((s,)))) for i, s in enumerate(stacks)])
    worst = 0
    for size in range(1, len(kinds) + 1):
        for chosen in combinations(kinds, size):
            free = room(frozenset().union(*(a for a, _ in chosen)))
            if free is not None:
                worst = max(worst, sum(n for _, n in chosen) - free)
    return worst


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

    Returns VMs per bucket entry and how many found no room.
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
