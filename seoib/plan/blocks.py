"""Host entries that behave alike, as one block: what lets a fleet written host by host
cost what its grouped form costs.

Single host entries with the same host spec, capacity, VMs (by content and count,
in order) and waves are one block: every wave that upgrades one of them upgrades
them all, so the rollout treats them like the hosts of one group. A group entry is
a block of its own. Inside a block its hosts are numbered in the order a wave
drains them; the VMs of one content on a block form an item (the same VM entry
position on every member).

A wave becomes a sequence of runs: consecutive listed entries of one block. A
wave that lists its hosts interleaved (``h0, h1, h2`` with three different
kernels) gives runs of one host each, and the rollout takes them in that order;
one that lists a block's members together gives one run, as a group would.

>>> from seoib.plan.planfile import loads_plan
>>> plan = loads_plan('''
... hosts:
...   - {name: h0, kernel: 6.12.40, qemu: 10.2.0}
...   - {name: h1, kernel: 6.12.40, qemu: 10.2.0}
...   - {name: h2, kernel: 6.18.10, qemu: 10.2.0}
... vms:
...   - {name: vm0, host: h0, machine: pc-q35-10.2}
...   - {name: vm1, host: h1, machine: pc-q35-10.2}
... rollout:
...   - {name: kernels, hosts: [h0, h2, h1], set: {kernel: 7.0.3}}
... ''')
>>> layout = compress(plan)
>>> [b.names for b in layout.blocks]
[('h0', 'h1'), ('h2',)]
>>> [(r.block, r.start, r.hosts) for r in layout.runs[0]]
[(0, 0, 1), (1, 0, 1), (0, 1, 1)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..rules.specs import VMSpec
from .findings import Entries
from .fleetclasses import spec_content
from .names import compact, counted
from .planfile import Plan, VMEntry

__all__ = ["Block", "Item", "Layout", "Run", "compress"]


@dataclass(frozen=True, eq=False)  # one object per item: identity is equality
class Item:
    """The VMs of one content on a block: one VM entry per member, or one on a group."""

    block: int
    index: int
    entries: tuple[VMEntry, ...]
    count: int  # VMs over the whole block
    names: tuple[str, ...]  # the VM entries' distinct names, in plan order

    @property
    def spec(self) -> VMSpec:
        return self.entries[0].spec

    @property
    def snapshots(self) -> bool:
        return self.entries[0].snapshots

    @property
    def line(self) -> int:
        return self.entries[0].line

    @property
    def name(self) -> str:
        """The VM entries in a few words."""
        return compact(self.names)

    def key(self) -> tuple[int, int]:
        return (self.block, self.index)

    def counts(self) -> list[tuple[str, int]]:
        """Every VM entry of the item with its VMs here (a spread group once, summed)."""
        out: dict[str, int] = {}
        for e in self.entries:
            out[e.name] = out.get(e.name, 0) + e.count
        return list(out.items())


@dataclass(frozen=True, eq=False)
class Block:
    """Host entries that every wave treats alike, with their VMs."""

    id: int
    entries: tuple[int, ...]  # host entry indexes, in plan order
    names: tuple[str, ...]
    hosts: int
    is_group: bool  # one group entry (its hosts are the block's)
    spec: Mapping[str, Any]  # the host spec as written (every member's)
    capacity: int | None  # VMs per host; None: not modelled
    line: int  # the first member's line
    items: tuple[Item, ...] = ()
    counts: tuple[int, ...] = ()  # hosts per member, in ``entries`` order

    def describe(self) -> str:
        """The members for a person: a group's name, or the first few single hosts."""
        return counted(compact(self.names), len(self.names), self.hosts)

    @property
    def name(self) -> str:
        return compact(self.names)


@dataclass(frozen=True)
class Run:
    """Consecutive listed entries of one block in a wave: ``hosts`` of its hosts, drained
    one at a time after the ``start`` the wave has already upgraded."""

    block: int
    start: int
    hosts: int
    line: int  # the wave's line naming the run's first entry
    names: tuple[str, ...]  # the run's entries, in wave order


@dataclass(frozen=True)
class Layout:
    """The blocks of a plan, each wave as runs over them, and the entries findings name."""

    blocks: tuple[Block, ...]
    block_of: tuple[int, ...]  # host entry index -> block id
    runs: tuple[tuple[Run, ...], ...]  # per wave, in order
    order: tuple[dict[int, tuple[str, ...]], ...] = ()  # per wave: block -> its names, drain order
    _entries: dict[Any, Entries] = field(default_factory=dict, compare=False, repr=False)

    def hosts_of(self, b: int) -> Entries:
        """The host entries of block ``b``."""
        hit = self._entries.get(("hosts", b))
        if hit is None:
            block = self.blocks[b]
            hit = self._entries[("hosts", b)] = Entries(("hosts", b), block.name, block.hosts,
                                                        block.names, block.counts)
        return hit

    def vms_of(self, item: Item) -> Entries:
        """The VM entries of ``item``."""
        key = ("vms", *item.key())
        hit = self._entries.get(key)
        if hit is None:
            pairs = item.counts()
            hit = self._entries[key] = Entries(key, item.name, item.count,
                                               tuple(n for n, _ in pairs),
                                               tuple(c for _, c in pairs))
        return hit

    def union(self, blocks: frozenset[int] | set[int]) -> Entries:
        """The host entries of several blocks, in block order."""
        key = ("hosts", frozenset(blocks))
        hit = self._entries.get(key)
        if hit is None:
            hit = self._entries[key] = Entries.union(
                key, [self.hosts_of(b) for b in sorted(blocks)], "hosts")
        return hit


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _spec_key(spec: Mapping[str, Any]) -> tuple:
    return tuple((k, _freeze(v)) for k, v in spec.items())


def compress(plan: Plan) -> Layout:
    """Blocks of alike host entries, and each wave as runs over them."""
    vms_at: dict[int, list[VMEntry]] = {}
    for v in plan.vms:
        vms_at.setdefault(plan.host_index(v.host), []).append(v)
    waves_of: dict[int, list[int]] = {}
    index = {h.name: e for e, h in enumerate(plan.hosts)}
    for k, wave in enumerate(plan.rollout):
        for name in wave.hosts:
            waves_of.setdefault(index[name], []).append(k)
    keys: dict[tuple, int] = {}
    members: list[list[int]] = []
    block_of: list[int] = []
    for e, h in enumerate(plan.hosts):
        if h.is_group:
            key: tuple = ("group", e)
        else:
            content = tuple((spec_content(v.spec), v.count, v.snapshots) for v in vms_at.get(e, ()))
            key = (_spec_key(h.spec), h.capacity, content, tuple(waves_of.get(e, ())))
            # (a spec written in another key order is another block: alike, judged apart)
        b = keys.get(key)
        if b is None:
            b = keys[key] = len(members)
            members.append([])
        members[b].append(e)
        block_of.append(b)
    blocks = tuple(_block(plan, b, es, vms_at) for b, es in enumerate(members))
    runs, order = _runs(plan, block_of, index)
    return Layout(blocks, tuple(block_of), runs, order)


def _block(plan: Plan, b: int, entries: Sequence[int], vms_at: Mapping[int, list[VMEntry]]
           ) -> Block:
    first = plan.hosts[entries[0]]
    per = [vms_at.get(e, []) for e in entries]
    items = []
    for j in range(len(per[0])):
        col = tuple(vs[j] for vs in per)
        items.append(Item(b, j, col, sum(v.count for v in col),
                          tuple(dict.fromkeys(v.name for v in col))))
    counts = tuple(plan.hosts[e].count for e in entries)
    return Block(b, tuple(entries), tuple(plan.hosts[e].name for e in entries), sum(counts),
                 first.is_group, first.spec, first.capacity, first.line, tuple(items), counts)


def _runs(plan: Plan, block_of: Sequence[int], index: Mapping[str, int]
          ) -> tuple[tuple[tuple[Run, ...], ...], tuple[dict[int, tuple[str, ...]], ...]]:
    all_runs, orders = [], []
    for wave in plan.rollout:
        runs: list[Run] = []
        done: dict[int, int] = {}
        names: dict[int, list[str]] = {}
        cur: list[Any] | None = None  # [block, start, hosts, line, names]
        for j, name in enumerate(wave.hosts):
            idx = index[name]
            b, n = block_of[idx], plan.hosts[idx].count
            names.setdefault(b, []).append(name)
            if cur is not None and cur[0] == b:
                cur[2] += n
                cur[4].append(name)
            else:
                if cur is not None:
                    runs.append(Run(cur[0], cur[1], cur[2], cur[3], tuple(cur[4])))
                cur = [b, done.get(b, 0), n, wave.host_lines[j], [name]]
            done[b] = done.get(b, 0) + n
        if cur is not None:
            runs.append(Run(cur[0], cur[1], cur[2], cur[3], tuple(cur[4])))
        all_runs.append(tuple(runs))
        orders.append({b: tuple(ns) for b, ns in names.items()})
    return tuple(all_runs), tuple(orders)
