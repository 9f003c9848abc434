"""VM populations followed through a rollout: who booted where and when, and where they sit.

A population is the VMs of one VM entry that share a boot (the stack they last
powered on with, which fixes their SEOIB state for good) and a location (the host
entry they run on). Every VM of an entry may be restarted at any moment, so each
boot population counts the entry's VMs at most, not exactly: a finding says how
many VMs may be affected. VMs drained off a host that cannot take them back stay
where the drain put them (stranded) and are counted there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .fleet import VMClass
from .model import VMEntry

__all__ = ["Pop", "Populations"]


@dataclass(eq=False)
class Pop:
    entry: VMEntry
    home: int  # host entry index the VM entry belongs to
    vmc: VMClass  # the boot: VM class on the stack it powered on with
    where: int  # host entry index the VMs run on now
    born: int  # wave that put the boot stack in place (0: before the rollout)
    booted_on: str  # the boot stack, labelled by the home host's own versions
    upgraded: bool = False  # sits on hosts its (running) wave already upgraded

    def key(self) -> tuple[str, int, int, int]:
        return (self.entry.name, self.home, self.vmc.id, self.where)


@dataclass
class Populations:
    """Every population, and how many VMs of each VM entry sit on each host entry."""

    pops: list[Pop] = field(default_factory=list)
    resident: dict[tuple[str, int, int], int] = field(default_factory=dict)  # (vm, home, where)
    _keys: set[tuple[str, int, int, int]] = field(default_factory=set)
    version: int = 0  # bumped whenever a population appears, leaves or moves
    loads: dict[int, int] = field(default_factory=dict)  # host entry -> VMs running there

    def add(self, pop: Pop, count: int | None = None) -> bool:
        """Register ``pop`` unless the same boot already sits there; ``count`` VMs arrive."""
        if count is not None:
            rkey = (pop.entry.name, pop.home, pop.where)
            self.resident[rkey] = self.resident.get(rkey, 0) + count
            self.loads[pop.where] = self.loads.get(pop.where, 0) + count
        self.version += 1
        if pop.key() in self._keys:
            return False
        self._keys.add(pop.key())
        self.pops.append(pop)
        return True

    def remove(self, pop: Pop) -> None:
        self.pops.remove(pop)
        self._keys.discard(pop.key())
        self.version += 1

    def count(self, pop: Pop) -> int:
        return self.resident.get((pop.entry.name, pop.home, pop.where), 0)

    def at(self, where: int) -> Iterator[Pop]:
        return (p for p in self.pops if p.where == where)

    def load(self, where: int) -> int:
        """VMs running on host entry ``where`` (each VM entry counted once)."""
        return self.loads.get(where, 0)

    def move(self, pop: Pop, where: int, count: int) -> Pop:
        """``count`` VMs of ``pop`` now run on ``where`` (same boot, new location)."""
        moved = Pop(pop.entry, pop.home, pop.vmc, where, pop.born, pop.booted_on)
        self.add(moved, count)
        return moved

    def leave(self, name: str, home: int, where: int, count: int) -> None:
        rkey = (name, home, where)
        gone = min(self.resident.get(rkey, 0), count)
        self.resident[rkey] = self.resident.get(rkey, 0) - gone
        self.loads[where] = self.loads.get(where, 0) - gone
        self.version += 1
