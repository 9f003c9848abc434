"""VM populations followed through a rollout: who booted where and when, and where they sit.

A population is the VMs of one VM entry that share a boot (the stack they last
powered on with, which fixes their SEOIB state for good) and a location (the host
entry they run on). Every VM of an entry may be restarted at any moment, so each
boot population counts the entry's VMs at most, not exactly: a finding says how
many VMs may be affected. VMs drained off a host that cannot take them back stay
where the drain put them (stranded) and are counted there.

Populations are indexed by the host entry they sit on and by their look (VM class,
stack of the host entry they sit on), so a step of the rollout costs the
populations it touches and the few looks, never every population of a fleet
written host by host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .fleetclasses import BootedVMClass
from .planfile import VMEntry

__all__ = ["Pop", "Populations"]


@dataclass(eq=False)
class Pop:
    entry: VMEntry
    home: int  # host entry index the VM entry belongs to
    vmc: BootedVMClass  # the boot: VM class on the stack it powered on with
    where: int  # host entry index the VMs run on now
    born: int  # wave that put the boot stack in place (0: before the rollout)
    booted_on: str  # the boot stack, labelled by the home host's own versions
    upgraded: bool = False  # sits on hosts its (running) wave already upgraded
    seq: int = -1  # order of arrival: report order, whatever index finds the population
    look: tuple[int, int] = (-1, -1)  # (VM class, stack of ``where``) as last indexed

    def key(self) -> tuple[str, int, int, int]:
        return (self.entry.name, self.home, self.vmc.id, self.where)


@dataclass
class Populations:
    """Every population, and how many VMs of each VM entry sit on each host entry.

    ``stack_of`` names the stack (host class id) a host entry runs now; call
    ``restack`` when it changes.
    """

    stack_of: Callable[[int], int]
    resident: dict[tuple[str, int, int], int] = field(default_factory=dict)  # (vm, home, where)
    version: int = 0  # bumped whenever a population appears, leaves or moves
    loads: dict[int, int] = field(default_factory=dict)  # host entry -> VMs running there
    _by_key: dict[tuple[str, int, int, int], Pop] = field(default_factory=dict)
    _all: dict[int, Pop] = field(default_factory=dict)  # seq -> population, in arrival order
    _at: dict[int, dict[int, Pop]] = field(default_factory=dict)  # where -> seq -> population
    looks: dict[tuple[int, int], dict[int, Pop]] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)  # host entries whose load changed
    _next: int = 0

    @property
    def pops(self) -> list[Pop]:
        return list(self._all.values())

    def add(self, pop: Pop, count: int | None = None) -> bool:
        """Register ``pop`` unless the same boot already sits there; ``count`` VMs arrive."""
        if count is not None:
            rkey = (pop.entry.name, pop.home, pop.where)
            self.resident[rkey] = self.resident.get(rkey, 0) + count
            self.loads[pop.where] = self.loads.get(pop.where, 0) + count
            self.touched.add(pop.where)
        self.version += 1
        if pop.key() in self._by_key:
            return False
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
        """Host entry ``where`` now runs another stack: re-index the populations on it."""
        for pop in self._at.get(where, {}).values():
            self._unindex(pop)
            self._index(pop)

    def remove(self, pop: Pop) -> None:
        del self._all[pop.seq]
        del self._at[pop.where][pop.seq]
        del self._by_key[pop.key()]
        self._unindex(pop)
        self.version += 1

    def get(self, key: tuple[str, int, int, int]) -> Pop:
        return self._by_key[key]

    def count(self, pop: Pop) -> int:
        return self.resident.get((pop.entry.name, pop.home, pop.where), 0)

    def at(self, where: int) -> Iterator[Pop]:
        return iter(list(self._at.get(where, {}).values()))

    def load(self, where: int) -> int:
        """VMs running on host entry ``where`` (each VM entry counted once)."""
        return self.loads.get(where, 0)

    def move(self, pop: Pop, where: int, count: int | None) -> Pop:
        """``count`` VMs of ``pop`` now run on ``where`` (same boot, new location)."""
        moved = Pop(pop.entry, pop.home, pop.vmc, where, pop.born, pop.booted_on)
        self.add(moved, count)
        return moved

    def leave(self, name: str, home: int, where: int, count: int) -> None:
        rkey = (name, home, where)
        gone = min(self.resident.get(rkey, 0), count)
        self.resident[rkey] = self.resident.get(rkey, 0) - gone
        self.loads[where] = self.loads.get(where, 0) - gone
        self.touched.add(where)
        self.version += 1
