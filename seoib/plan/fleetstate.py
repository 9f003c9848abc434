"""Which stack each block's hosts run, moment by moment, and the room they have.

Between waves every host of a block runs one stack. While a wave runs, a block it
lists splits into the hosts already upgraded (numbered first, in drain order) and
the rest; a drained host is out of service. A :class:`Moment` is the fleet at one
instant: the stacks in service (what judging a destination needs) and which blocks
run each (what naming one needs). With capacities, the free room of each stack is
kept as blocks change (:meth:`FleetState.room_of`).

Counts are kept per stack and per (stack, block), updated as hosts move, so a
moment costs the stacks and the blocks on them, never the host entries.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

from .blocks import Block
from .capacity import Profile
from .fleetclasses import HostClass

__all__ = ["FleetState", "Moment"]



class Moment:
    """The fleet at one instant: the stacks in service (``ids``, ``lonely``), and, read
    from the fleet while it stays as it is, which blocks run each stack.

    ``ids``, ``lonely`` and ``signature`` are fixed when the moment is taken; ``blocks``
    reads the fleet and may only be asked before the next host moves.
    """

    def __init__(self, state: FleetState, out: tuple[int, int] | None,
                 ids: tuple[frozenset[int], frozenset[int]], signature: tuple) -> None:
        self.state = state
        self.out = out  # (block, stack) of a drained host, out of service
        self.ids, self.lonely = ids
        # Equal for two moments with the same stacks in service, held by as many hosts (0,
        # 1, 2, 3 or more) and by the same blocks: what judging and naming destinations read.
        self.signature = signature
        self._version = state.version
        self._blocks: dict[int, list[int]] = {}

    def blocks(self, cid: int) -> list[int]:
        """Blocks with a host in service on stack ``cid``, in block order."""
        hit = self._blocks.get(cid)
        if hit is None:
            assert self.state.version == self._version, "a moment read after hosts moved"
            here = self.state.on.get(cid, {})
            out = self.out
            hit = self._blocks[cid] = sorted(
                b for b, n in here.items() if n - (1 if out == (b, cid) else 0) > 0)
        return hit



class FleetState:
    """Every block's stack (or its two, while its wave runs) and its VMs' room."""

    def __init__(self, blocks: Sequence[Block], stacks: Sequence[HostClass],
                 labels: Sequence[str], loads: Callable[[int], list[int]]) -> None:
        self.blocks = blocks
        self.cur = list(stacks)  # the stack of hosts not upgraded by the running wave
        self.labels = list(labels)
        self.new: list[HostClass | None] = [None] * len(blocks)
        self.new_labels = [""] * len(blocks)
        self.done = [0] * len(blocks)  # hosts the running wave has upgraded
        self.loads = loads  # block -> its VM counts by kind, where they sit now
        self.capacity = any(b.capacity is not None for b in blocks)
        self.pattern = 0
        self.hosts: dict[int, int] = {}
        self.on: dict[int, dict[int, int]] = {}  # stack -> block -> hosts
        self._of: dict[int, dict[int, int]] = {}  # block -> stack -> hosts
        for b in blocks:
            self._add(self.cur[b.id].id, b.id, b.hosts)
        self._profiles: dict[int, Profile] = {}
        self._rooms: dict[int, list[tuple[int, int | None]]] | None = None  # block -> parts
        self._free: dict[int, int] = {}  # stack -> free slots of its bounded parts
        self._open: dict[int, int] = {}  # stack -> parts without a capacity
        self.version = 0  # bumped whenever a host changes stack
        self.pattern = 0  # bumped when a stack's hosts pass 0, 1, 2, 3 or its blocks change
        self._seen: dict[tuple, tuple[frozenset[int], frozenset[int]]] = {}
        self.splits: frozenset[int] = frozenset()  # blocks a running wave has split

    # -- counts ----------------------------------------------------------------------

    def _add(self, cid: int, b: int, n: int) -> None:
        if n:
            before = self.hosts.get(cid, 0)
            self.hosts[cid] = before + n
            here = self.on.setdefault(cid, {})
            had = here.get(b, 0)
            here[b] = had + n
            mine = self._of.setdefault(b, {})
            mine[cid] = mine.get(cid, 0) + n
            if here[b] == 0:
                del here[b]
                del mine[cid]
            if min(before, 3) != min(before + n, 3) or (had == 0) != (had + n == 0):
                self.pattern += 1

    def on_block(self, b: int) -> dict[int, int]:
        """Block ``b``'s hosts per stack."""
        return self._of.get(b, {})

    def fork(self, loads: Callable[[int], list[int]]) -> FleetState:
        """A copy whose hosts can move apart from these; ``loads`` reads its VMs."""
        new = copy.copy(self)
        new.loads = loads
        new.cur, new.labels, new.new = list(self.cur), list(self.labels), list(self.new)
        new.new_labels, new.done = list(self.new_labels), list(self.done)
        new.hosts = dict(self.hosts)
        new.on = {c: dict(bs) for c, bs in self.on.items()}
        new._of = {b: dict(cs) for b, cs in self._of.items()}
        new._profiles, new._seen = dict(self._profiles), dict(self._seen)
        new._rooms = None if self._rooms is None else dict(self._rooms)
        new._free, new._open = dict(self._free), dict(self._open)
        return new

    def begin(self, b: int, new: HostClass, label: str) -> None:
        """Block ``b``'s wave starts: its hosts will move to ``new``."""
        self.new[b], self.new_labels[b], self.done[b] = new, label, 0

    def upgrade(self, b: int, done: int) -> None:
        """The running wave has upgraded ``done`` hosts of block ``b``."""
        new = self.new[b]
        assert new is not None
        moved = done - self.done[b]
        if moved:
            self._add(self.cur[b].id, b, -moved)
            self._add(new.id, b, moved)
            self.done[b] = done
            self.version += 1
            split = 0 < done < self.blocks[b].hosts
            if split != (b in self.splits):
                self.splits = self.splits | {b} if split else self.splits - {b}
            self._refresh(b)

    def finish(self, b: int) -> None:
        """Every host of block ``b`` is upgraded: it runs one stack again."""
        new = self.new[b]
        assert new is not None and self.done[b] == self.blocks[b].hosts
        self.cur[b], self.labels[b] = new, self.new_labels[b]
        self.new[b], self.done[b] = None, 0
        self._refresh(b)

    def split(self, b: int) -> bool:
        return 0 < self.done[b] < self.blocks[b].hosts

    def stack(self, b: int, upgraded: bool) -> int:
        """The stack of block ``b``'s upgraded (or other) hosts."""
        new = self.new[b]
        return new.id if upgraded and new is not None and self.done[b] else self.cur[b].id

    def label(self, b: int, cid: int) -> str:
        """Block ``b``'s hosts on stack ``cid``, by the block's own versions."""
        new = self.new[b]
        if new is not None and new.id == cid and self.done[b]:
            if self.cur[b].id == cid and self.done[b] < self.blocks[b].hosts:
                return " / ".join(dict.fromkeys((self.labels[b], self.new_labels[b])))
            return self.new_labels[b]
        return self.labels[b]

    # -- moments ---------------------------------------------------------------------

    def moment(self, drained: tuple[int, int] | None = None) -> Moment:
        """The fleet now; ``drained`` = (block, i): its host ``i`` out of service (hosts
        below ``i`` upgraded, the rest not)."""
        if drained is None:
            signature: tuple = (self.pattern,)
            return Moment(self, None, self._ids(signature, None), signature)
        b, i = drained
        self.upgrade(b, i)
        cid = self.cur[b].id
        left = self.hosts[cid] - 1
        signature = (self.pattern, b, cid, min(left, 3), self.on[cid][b] == 1)
        return Moment(self, (b, cid), self._ids(signature, (cid, left)), signature)

    def _ids(self, signature: tuple, out: tuple[int, int] | None
             ) -> tuple[frozenset[int], frozenset[int]]:
        """Stacks in service and stacks one host runs, once per signature."""
        hit = self._seen.get(signature)
        if hit is None:
            hosts = self.hosts if out is None else {**self.hosts, out[0]: out[1]}
            hit = self._seen[signature] = (frozenset(c for c, n in hosts.items() if n > 0),
                                           frozenset(c for c, n in hosts.items() if n == 1))
        return hit

    def profile(self, b: int) -> Profile:
        hit = self._profiles.get(b)
        if hit is None:
            block = self.blocks[b]
            hit = self._profiles[b] = Profile(block.hosts, block.capacity, self.loads(b))
        return hit

    def reload(self, b: int) -> None:
        """Block ``b``'s VMs changed (a strand): its room is counted again."""
        self._profiles.pop(b, None)
        self._refresh(b)

    # -- room, kept per stack as blocks change -------------------------------------------

    def _parts(self, b: int, out: int | None = None) -> list[tuple[int, int | None]]:
        """Block ``b``'s room per part: (stack, free slots); host ``out`` out of service."""
        n, p = self.blocks[b].hosts, self.profile(b)
        if out is not None:
            new, lo, hi = self.stack(b, True), out, out + 1
        else:
            stack = self.new[b]
            new, lo, hi = (stack.id if stack is not None else -1), self.done[b], self.done[b]
        each = p.uniform
        if each is not None:  # every host as full as the next: plain arithmetic
            return [(cid, k * each) for cid, k in ((new, lo), (self.cur[b].id, n - hi)) if k > 0]
        return [(cid, p.free(a, z)) for cid, a, z in ((new, 0, lo), (self.cur[b].id, hi, n))
                if z > a]

    def _apply(self, parts: list[tuple[int, int | None]], sign: int,
               free: dict[int, int], open_: dict[int, int]) -> None:
        for cid, room in parts:
            if room is None:
                open_[cid] = open_.get(cid, 0) + sign
            else:
                free[cid] = free.get(cid, 0) + sign * room

    def _refresh(self, b: int) -> None:
        if self._rooms is None:
            return
        self._apply(self._rooms.pop(b, []), -1, self._free, self._open)
        self._rooms[b] = self._parts(b)
        self._apply(self._rooms[b], 1, self._free, self._open)

    def room_of(self, stacks: frozenset[int], drained: tuple[int, int] | None = None
                ) -> int | None:
        """Free slots over ``stacks`` (``None``: unlimited); ``drained`` as for ``moment``."""
        if self._rooms is None:
            self._rooms = {}
            for block in self.blocks:
                self._refresh(block.id)
        opened = sum(self._open.get(c, 0) for c in stacks)
        total = sum(self._free.get(c, 0) for c in stacks)
        if drained is not None:
            b, i = drained
            for parts, sign in ((self._rooms[b], -1), (self._parts(b, i), 1)):
                for cid, room in parts:
                    if cid in stacks:
                        if room is None:
                            opened += sign
                        else:
                            total += sign * room
        return None if opened > 0 else total
