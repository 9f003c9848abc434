"""The order of upgrade steps that fixes the most VMs without causing a block.

A state of the search is the fleet after some steps, each step one block taking the
next step of the way (seoib.plan.chains) it has chosen, as a wave of its own. From a
state every block may take its next step; the step is run on a copy of the rollout
(seoib.plan.rollout.Rollout.fork) exactly as `seoib check` would run it, and it is
refused when the check finds a block the rollout causes (one the fleet already has is
no reason: it is reported, never avoided). The search goes depth first, trying in
each state the kernel steps, then the parking steps, then both at once, then the
QEMU steps, and keeps the state whose cold boots fix the most VMs (then: every block
at its target, fewer warnings, fewer steps). It stops when a state fixes every VM
some reachable stack could fix with every block at its target, when every state has
been seen, or at its budget; it says which.

Two states are the same when every block is at the same point of the same way and
the same populations sit in the same places: the history beyond that (which VMs
booted where) is part of what the check judges, so it is part of the state.

Every step refused on the way to the chosen state is kept with the finding that
refused it: the plan says which steps had to wait, and for what.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .blocks import Layout, Run
from .chains import Chain, Step
from .planfile import Wave
from .rollout import Rollout

__all__ = ["Move", "Outcome", "Refusal", "search"]

_ORDER = {"kernel": 0, "quiet": 1, "kernel+qemu": 2, "qemu": 3}


@dataclass(frozen=True)
class Move:
    """Block ``block`` takes step ``step`` of its way ``way``."""

    block: int
    way: int
    step: int


@dataclass(frozen=True)
class Refusal:
    move: Move
    at: int  # how many moves of the chosen path had been taken
    reason: str


@dataclass
class _Node:
    walk: Rollout
    ways: tuple[tuple[int, int], ...]  # per block: (way or -1, steps taken)
    path: tuple[Move, ...]
    warns: int  # warnings the rollout causes so far


@dataclass
class Outcome:
    path: tuple[Move, ...]  # the best order found
    fixed: int
    warns: int
    complete: bool  # every block at the end of its way
    refusals: list[Refusal] = field(default_factory=list)  # on the way to it
    first: list[Refusal] = field(default_factory=list)  # every first step refused
    tried: int = 0  # steps run
    exhausted: bool = True  # every reachable state seen (False: stopped at the budget)
    bound: int = 0  # VMs some reachable stack fixes: no order can fix more


class _Search:
    def __init__(self, root: Rollout, layout: Layout, ways: Sequence[Sequence[Chain]],
                 bound: int, budget: int, seconds: float) -> None:
        self.layout, self.ways, self.bound = layout, ways, bound
        self.budget, self.deadline = budget, time.monotonic() + seconds
        self.tried = 0
        self.refused: dict[tuple[Move, ...], list[Refusal]] = {}
        blocks = len(layout.blocks)
        self.root = _Node(root, ((-1, 0),) * blocks, (), 0)

    def step_of(self, move: Move) -> Step:
        return self.ways[move.block][move.way].steps[move.step]

    def wave(self, move: Move) -> tuple[Wave, tuple[Run, ...]]:
        block = self.layout.blocks[move.block]
        step = self.step_of(move)
        wave = Wave(f"{block.name} {step.kind}", block.names, step.set, 1,
                    (1,) * len(block.names))
        return wave, (Run(block.id, 0, block.hosts, 1, block.names),)

    def moves(self, node: _Node) -> Iterator[Move]:
        out = []
        for b, (way, taken) in enumerate(node.ways):
            if way < 0:
                out.extend(Move(b, w, 0) for w in range(len(self.ways[b])))
            elif taken < len(self.ways[b][way].steps):
                out.append(Move(b, way, taken))
        out.sort(key=lambda m: (_ORDER[self.step_of(m).kind], m.block, m.way))
        return iter(out)

    def take(self, node: _Node, move: Move) -> _Node | Refusal:
        walk = node.walk.fork()
        added = walk.wave(*self.wave(move))
        self.tried += 1
        caused = [f for f in added if f.cause == "rollout"]
        blocks = [f for f in caused if f.severity == "block"]
        if blocks:
            return Refusal(move, len(node.path), f"{blocks[0].check}: {blocks[0].message}")
        ways = list(node.ways)
        ways[move.block] = (move.way, move.step + 1)
        return _Node(walk, tuple(ways), (*node.path, move),
                     node.warns + sum(1 for f in caused if f.severity == "warn"))

    def complete(self, node: _Node) -> bool:
        return all(not self.ways[b] or (way >= 0 and taken == len(self.ways[b][way].steps))
                   for b, (way, taken) in enumerate(node.ways))

    def score(self, node: _Node) -> tuple[int, bool, int, int]:
        fixed = node.walk.end_state().tally()[0]
        return (fixed, self.complete(node), -node.warns, -len(node.path))

    def signature(self, node: _Node) -> tuple:
        pops = node.walk.pops
        return (node.ways, frozenset(pops._by_key),
                frozenset((k, n) for k, n in pops.resident.items() if n))

    def run(self) -> Outcome:
        best, best_score = self.root, self.score(self.root)
        first: list[Refusal] = []
        seen = {self.signature(self.root)}
        stack: list[tuple[_Node, Iterator[Move]]] = [(self.root, self.moves(self.root))]
        exhausted = True
        while stack:
            node, moves = stack[-1]
            move = next(moves, None)
            if move is None:
                stack.pop()
                continue
            if self.tried >= self.budget or time.monotonic() > self.deadline:
                exhausted = False
                break
            child = self.take(node, move)
            if isinstance(child, Refusal):
                self.refused.setdefault(node.path, []).append(child)
                if not node.path:
                    first.append(child)
                continue
            key = self.signature(child)
            if key in seen:
                continue
            seen.add(key)
            score = self.score(child)
            if score > best_score:
                best, best_score = child, score
                if score[0] >= self.bound and score[1]:
                    break  # every VM that can be fixed is, with every block at its target
            stack.append((child, self.moves(child)))
        refusals = [r for i in range(len(best.path) + 1)
                    for r in self.refused.get(best.path[:i], [])]
        return Outcome(best.path, best_score[0], best.warns, best_score[1], refusals, first,
                       self.tried, exhausted, self.bound)


def search(root: Rollout, layout: Layout, ways: Sequence[Sequence[Chain]], bound: int, *,
           budget: int = 4000, seconds: float = 120.0) -> Outcome:
    """The best order of single-block steps from ``root`` (a rollout already started)."""
    return _Search(root, layout, ways, bound, budget, seconds).run()
