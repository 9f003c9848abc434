"""VM populations followed through a rollout: who booted where and when, and where they sit.

A population is the VMs of one item (a block's VMs of one content) that share a
boot (the stack they last powered on with, which fixes their SEOIB state for good)
and a location (the block they run on). Every VM may be restarted at any moment, so
each boot population counts the item's VMs at most, not exactly: a finding says how
many VMs may be affected. VMs drained off a block that cannot take them back stay
where the drain put them (stranded) and are counted there. VMs that never start
(their boot is start-fails) are counted where they are placed but form no
population: nothing of them runs to be moved.

Populations are indexed by the block they sit on and by their look (VM class,
stack of the block they sit on), so a step of the rollout costs the populations it
touches and the few looks, never every host entry of a fleet written host by host.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .blocks import Item
from .fleetclasses import BootedVMClass

__all__ = ["Pop", "Populations"]


@dataclass(eq=False)
class Pop:
    item: Item
    vmc: BootedVMClass  # the boot: VM class on the stack it powered on with
    where: int  # block the VMs run on now
    born: int  # wave that put the boot stack in place (0: before the rollout)
    booted_on: str  # the boot stack, labelled by its hosts' own versions
    upgraded: bool = False  # sits on hosts its (running) wave already upgraded
    away: bool = False  # cold-booted on a host a drain moved them to, then brought home
    seq: int = -1  # order of arrival: report order, whatever index finds the population
    look: tuple[int, int] = (-1, -1)  # (VM class, stack of ``where``) as last indexed

    @property
    def home(self) -> int:
        return self.item.block

    def key(self) -> tuple[int, int, int, int]:
        return (self.item.block, self.item.index, self.vmc.id, self.where)


@dataclass
class Populations:
    """Every population, and how many VMs of each item sit on each block.

    ``stack_of`` names the stack (host class id) a block runs now; call ``restack``
    when it changes.
    """

    stack_of: Callable[[int], int]
    resident: dict[tuple[tuple[int, int], int], int] = field(default_factory=dict)
    version: int = 0  # bumped whenever a population appears, leaves or moves
    _kinds: dict[int, dict[tuple[int, int], int]] = field(default_factory=dict)  # where -> item -> VMs
    _by_key: dict[tuple[int, int, int, int], Pop] = field(default_factory=dict)
    _all: dict[int, Pop] = field(default_factory=dict)  # seq -> population, in arrival order
    _at: dict[int, dict[int, Pop]] = field(default_factory=dict)  # where -> seq -> population
    looks: dict[tuple[int, int], dict[int, Pop]] = field(default_factory=dict)
    _next: int = 0

    @property
    def pops(self) -> list[Pop]:
        return list(self._all.values())

    def reside(self, item: Item, where: int, count: int) -> None:
        """``count`` VMs of ``item`` now sit on block ``where`` (negative: leave)."""
        rkey = (item.key(), where)
        self.resident[rkey] = self.resident.get(rkey, 0) + count
        kinds = self._kinds.setdefault(where, {})
        kinds[item.key()] = kinds.get(item.key(), 0) + count
        self.version += 1

    def add(self, pop: Pop, count: int | None = None) -> bool:
        """Register ``pop`` unless the same boot already sits there; ``count`` VMs arrive."""
        if count is not None:
            self.reside(pop.item, pop.where, count)
        if pop.key() in self._by_key:
            return False
        self.version += 1
        pop.seq, self._next = self._next, self._next + 1
        self._by_key[pop.key()] = pop
        self._all[pop.seq] = pop
        self._at.setdefault(pop.where, {})[pop.seq] = pop
        self._index(pop)
        return True

    def _index(self, pop: Pop) -> None:
        pop.look = (pop.vmc.id, self.stack_of(pop.where))
        self.looks.setdefault(pop.look, {})[pop.seq] = pop

    def _unindex(self, pop: Pop) -> None:
        group = self.looks[pop.look]
        del group[pop.seq]
        if not group:
            del self.looks[pop.look]

    def restack(self, where: int) -> None:
        """Block ``where`` now runs another stack: re-index the populations on it."""
        for pop in self._at.get(where, {}).values():
            self._unindex(pop)
            self._index(pop)

    def remove(self, pop: Pop) -> None:
        del self._all[pop.seq]
        del self._at[pop.where][pop.seq]
        del self._by_key[pop.key()]
        self._unindex(pop)
        self.version += 1

    def get(self, key: tuple[int, int, int, int]) -> Pop:
        return self._by_key[key]

    def has(self, key: tuple[int, int, int, int]) -> bool:
        return key in self._by_key

    def count(self, pop: Pop) -> int:
        return self.resident.get((pop.item.key(), pop.where), 0)

    def at(self, where: int) -> Iterator[Pop]:
        return iter(list(self._at.get(where, {}).values()))

    def loads(self, where: int) -> list[int]:
        """VMs on block ``where``, one count per item they belong to."""
        return [n for n in self._kinds.get(where, {}).values() if n > 0]

    def load(self, where: int) -> int:
        return sum(self.loads(where))

    def fork(self, stack_of: Callable[[int], int]) -> Populations:
        """A copy whose populations can change apart from these."""
        new = Populations(stack_of, dict(self.resident), self.version,
                          {w: dict(k) for w, k in self._kinds.items()}, _next=self._next)
        for pop in self._all.values():
            twin = copy.copy(pop)
            new._by_key[twin.key()] = twin
            new._all[twin.seq] = twin
            new._at.setdefault(twin.where, {})[twin.seq] = twin
            new.looks.setdefault(twin.look, {})[twin.seq] = twin
        return new

    def move(self, pop: Pop, where: int, count: int | None) -> Pop:
        """``count`` VMs of ``pop`` now run on ``where`` (same boot, new location)."""
        moved = Pop(pop.item, pop.vmc, where, pop.born, pop.booted_on, away=pop.away)
        self.add(moved, count)
        return moved
