"""Migration pools: strongly connected groups of stacks that move VMs both ways safely.

An edge a -> b is safe when the migration does not block. A pool is a strongly
connected component of the safe edges: inside it a VM can move anywhere and
back. Between pools only one-way moves remain (the condensation's edges), a
directed acyclic graph that :mod:`seoib.matrix.svg` lays out in layers.

``seoib graph`` computes them for one VM class; the matrix page for every VM
class with a migration table at once (an edge is safe only if it is safe for
all of them).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from .build import Matrix

__all__ = ["Pools", "blocked_moves", "describe", "matrix_pools", "pools_of", "stack_key"]


@dataclass(frozen=True)
class Pools:
    """Pools (largest first, members sorted) and one-way edges between pool indices."""

    members: tuple[tuple[str, ...], ...]
    oneway: tuple[tuple[int, int], ...]
    layers: tuple[tuple[int, ...], ...]  # pools by topological generation: sources first

    def pool_of(self) -> dict[str, int]:
        return {n: i for i, ms in enumerate(self.members) for n in ms}


def pools_of(nodes: Iterable[Hashable], safe: Iterable[tuple[str, str]]) -> Pools:
    """Strongly connected components of the ``safe`` edges over ``nodes``, and their DAG.

    >>> p = pools_of("abc", [("a", "b"), ("b", "a"), ("b", "c")])
    >>> p.members, p.oneway
    ((('a', 'b'), ('c',)), ((0, 1),))
    """
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(safe)
    members = tuple(sorted((tuple(sorted(c)) for c in nx.strongly_connected_components(g)),
                           key=lambda c: (-len(c), c)))
    index = {n: i for i, ms in enumerate(members) for n in ms}
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(members)))
    dag.add_edges_from({(index[a], index[b]) for a, b in g.edges if index[a] != index[b]})
    layers = tuple(tuple(sorted(gen)) for gen in nx.topological_generations(dag))
    return Pools(members, tuple(sorted(dag.edges)), layers)


def stack_key(kernel: str, qemu: str, design: str) -> str:
    return f"kernel {kernel} | QEMU {qemu} | {design}"


def blocked_moves(m: Matrix) -> set[tuple[str, str]]:
    """Stack pairs (see :func:`stack_key`) on which a VM that runs well on the source blocks."""
    blocked: set[tuple[str, str]] = set()
    for t in m.tables:
        if t.migration is None:
            continue
        expand = [[stack_key(s.kernel.label, q, s.design) for q in s.qemus] for s in t.stacks]
        for i, line in enumerate(t.migration):
            if m.verdicts[t.policy[i]]["severity"] == "block":
                continue
            for j, vi in enumerate(line):
                if m.verdicts[vi]["severity"] == "block":
                    blocked.update((a, b) for a in expand[i] for b in expand[j])
    return blocked


def matrix_pools(m: Matrix, blocked: set[tuple[str, str]] | None = None) -> Pools:
    """Pools over every (kernel class, QEMU release, design) of the matrix.

    A move is safe when no VM class with a migration table blocks on it. A VM
    class that cannot run well on the source (its power-on there blocks: the
    machine type is not registered, KVM refuses the irqchip, the guest storms)
    is not there to move, so it does not count; every VM that runs well on the
    source must arrive running well (a destination lacking its machine type
    blocks too).
    """
    sp = m.space
    nodes = [stack_key(k.label, q, d) for k in sp.kernels for q in sp.qemus for d in sp.designs]
    if blocked is None:
        blocked = blocked_moves(m)
    safe = [(a, b) for a in nodes for b in nodes if a != b and (a, b) not in blocked]
    return pools_of(nodes, safe)


def _split(key: str) -> tuple[str, str, str]:
    kernel, qemu, design = key.split(" | ")
    return kernel.removeprefix("kernel "), qemu.removeprefix("QEMU "), design


def describe(members: Sequence[str], qemus: Sequence[str], designs: Sequence[str]) -> list[str]:
    """A pool in a few lines: kernel classes, then the QEMU releases x designs they pair with.

    >>> describe(["kernel K1 | QEMU Q1 | none", "kernel K1 | QEMU Q1 | rfc-v2"],
    ...          ["Q1"], ["none", "rfc-v2"])
    ['kernel K1', '  with QEMU Q1, every design']
    """
    by_kernel: dict[str, set[tuple[str, str]]] = {}
    for key in members:
        k, q, d = _split(key)
        by_kernel.setdefault(k, set()).add((q, d))
    groups: dict[frozenset[tuple[str, str]], list[str]] = {}
    for k, pairs in by_kernel.items():
        groups.setdefault(frozenset(pairs), []).append(k)
    lines: list[str] = []
    for pairs, kernels in groups.items():
        lines += [f"kernel {k}" for k in kernels]
        qs = [q for q in qemus if any(q == x for x, _ in pairs)]
        ds = [d for d in designs if any(d == y for _, y in pairs)]
        if len(pairs) == len(qs) * len(ds):
            dtext = "every design" if len(ds) == len(designs) else "design " + ", ".join(ds)
            lines.append(f"  with QEMU {', '.join(qs)}, {dtext}")
        else:
            lines += [f"  with QEMU {q}, {d}" for q in qemus for d in designs if (q, d) in pairs]
    return lines
