"""Build the policy, migration and snapshot matrices over the class space, every cell validated.

A snapshot cell judges a QMP loadvm of the source's snapshot into a VM running
on the destination (`seoib migrate --snapshot`), over the same VM classes and
stacks as the live-migration cells.

Cost follows classes, not releases: cells that resolve to the same class pair (the
same input facts and guest) share one evaluation and one simulation, across every
VM class a worker process sees (one ClassSolver per process and rule set). A cell
still cites its own releases, design and machine type (the solver's member
reasons), and cells with the same content share one verdict index. The walk order
is fixed, so verdict indices, and with them every artifact, are stable; the tally
counts distinct class pairs, whichever worker evaluated them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import Disagreement
from ..parallel import fork_map
from ..query.classes import ClassSolver, VMClass
from ..rules.resolve import guest_ioapics
from ..rules.ruleset import RuleSet
from .lookup import panel_lookup
from .portable import portable
from .space import Space, Stack, default_space, qemu_groups

__all__ = ["Matrix", "VMTable", "build_matrix"]


@dataclass
class VMTable:
    """One VM class: the stacks it distinguishes, its policy, migration and snapshot cells."""

    vm: VMClass
    stacks: list[Stack]
    policy: list[int]  # verdict index per stack
    migration: list[list[int]] | None = None  # verdict index [src][dst]
    snapshot: list[list[int]] | None = None  # loadvm verdict index [src][dst]
    # Per stack: does its QEMU register the VM's machine type? Where it does
    # not, a cell says nothing about SEOIB; readers show it as n/a.
    registered: list[bool] = field(default_factory=list)
    machine_irqchip: str = ""  # the machine type's default irqchip mode
    machine_ioapic: str = ""  # the machine type's default IOAPIC version
    ioapics: tuple[tuple[str, str], ...] = ()  # what the guest sees (resolve.guest_ioapics)

    @property
    def irqchip(self) -> str:
        """The effective irqchip mode: the class's, else the machine type's default."""
        return self.vm.irqchip or self.machine_irqchip

    @property
    def ioapic(self) -> str:
        """The configured version of QEMU's IOAPIC: the class's, else the machine type's."""
        return self.vm.ioapic or self.machine_ioapic


@dataclass
class Matrix:
    digest: str
    space: Space
    tables: list[VMTable]
    verdicts: list[dict[str, Any]]
    evaluations: int
    validated: int
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    # rule data the query panel resolves typed stacks with (seoib.matrix.lookup)
    lookup: dict[str, Any] = field(default_factory=dict)

    def policy_cells(self) -> int:
        return sum(len(t.policy) for t in self.tables)

    def migration_cells(self) -> int:
        return sum(len(t.stacks) ** 2 for t in self.tables if t.migration is not None)

    def snapshot_cells(self) -> int:
        return sum(len(t.stacks) ** 2 for t in self.tables if t.snapshot is not None)

    def tally(self) -> dict[str, int]:
        return {"policy_cells": self.policy_cells(), "migration_cells": self.migration_cells(),
                "snapshot_cells": self.snapshot_cells(),
                "evaluations": self.evaluations, "validated": self.validated,
                "disagreements": len(self.disagreements)}


def _compact(summary: dict[str, Any]) -> dict[str, Any]:
    """What a cell's verdict carries into the artifacts: no traces, no paths."""
    return _Compactor().compact(summary, summary["reasons"])[0]


def content_key(compact: dict[str, Any]) -> str:
    return json.dumps(compact, sort_keys=True)


class _Compactor:
    """Compact verdicts and their content keys, built from parts kept by identity.

    A cell is a class verdict (its outcome, states, findings, witness) and the cell's
    own reasons, each reason one shared dictionary: the class part and every reason
    are rendered (and their canonical JSON written) once, and a cell's content key is
    the join of those strings - equal content, equal key - with no JSON per cell.
    """

    def __init__(self) -> None:
        self._classes: dict[int, tuple[dict[str, Any], dict[str, Any], str]] = {}
        self._reasons: dict[int, tuple[dict[str, Any], str]] = {}
        self._keep: list[Any] = []  # the objects whose ids key the memos stay alive

    def compact(self, first: dict[str, Any], why: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
        return self.build(first, why), self.key(first, why)

    def key(self, first: dict[str, Any], why: list[dict[str, Any]]) -> str:
        """The content key of a cell: equal for equal compact verdicts, and only then."""
        return self._head(first)[2] + "\x1f" + "\x1f".join([self._reason(r)[1] for r in why])

    def build(self, first: dict[str, Any], why: list[dict[str, Any]]) -> dict[str, Any]:
        before, after, _ = self._head(first)
        return {**before, "reasons": [self._reason(r)[0] for r in why], **after}

    def _head(self, first: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str]:
        head = self._classes.get(id(first))
        if head is None:
            head = self._classes[id(first)] = self._class_part(first)
            self._keep.append(first)
        return head

    @staticmethod
    def _class_part(summary: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str]:
        w = summary["witness"]
        before: dict[str, Any] = {"outcome": summary["outcome"], "severity": summary["severity"]}
        for key in ("policy", "src_state", "dst_state"):
            if key in summary:
                before[key] = summary[key]
        before["findings"] = [f["outcome"] for f in summary["findings"]]
        after = {"witness": {"ran": bool(w.get("ran")), "agrees": w.get("agrees"),
                             "outcome": w.get("outcome"),
                             "counters": dict(sorted(w.get("counters", {}).items()))}}
        return before, after, json.dumps([before, after], sort_keys=True)

    def _reason(self, r: dict[str, Any]) -> tuple[dict[str, Any], str]:
        hit = self._reasons.get(id(r))
        if hit is None:
            out = {k: portable(v) if isinstance(v, str) else v for k, v in r.items()}
            hit = self._reasons[id(r)] = (out, json.dumps(out, sort_keys=True))
            self._keep.append(r)
        return hit


class _Verdicts:
    """Interns verdicts as stable indices; cells with the same verdict content share one."""

    def __init__(self) -> None:
        self.by_content: dict[str, int] = {}
        self.items: list[dict[str, Any]] = []

    def add(self, compact: dict[str, Any], key: str | None = None) -> int:
        """The index of ``compact``; ``key`` is its content key when the caller has it."""
        key = key or content_key(compact)
        found = self.by_content.get(key)
        if found is None:
            found = self.by_content[key] = len(self.items)
            self.items.append(compact)
        return found


@dataclass
class _Job:
    """One VM class: its stacks, and whether it gets a migration table."""

    vm: VMClass
    stacks: list[Stack]
    migration: bool


@dataclass
class _Result:
    policy: list[int]  # indices into verdicts (local to the job)
    migration: list[list[int]] | None
    snapshot: list[list[int]] | None
    verdicts: list[dict[str, Any]]  # distinct by content: few come back over the pipe
    keys: list[str]  # their content keys, computed in the worker
    classes: set[int]  # hashes of the class keys the job's cells resolved to
    validated: set[int]  # those whose witness ran (in this worker, for any job)
    disagreements: list[dict[str, Any]]


# One solver (and its compactor) per process and rule set: workers are forked once and
# run many jobs, so a class pair that two VM classes share is evaluated, simulated and
# rendered once per worker.
_SHARED: list[tuple[RuleSet, ClassSolver, _Compactor]] = []


def _solver(rs: RuleSet) -> tuple[ClassSolver, _Compactor]:
    if not _SHARED or _SHARED[0][0] is not rs:
        _SHARED[:] = [(rs, ClassSolver(rs, validate=True), _Compactor())]
    return _SHARED[0][1], _SHARED[0][2]


def _run_job(rs: RuleSet, job: _Job) -> _Result:
    """Every cell of one VM class, from the process's ClassSolver.

    A cell is its class's verdict with the cell's own reasons; cells whose verdict and
    reasons are the same objects share one compact verdict without rendering it again.
    """
    solver, compactor = _solver(rs)
    local: dict[tuple[int, ...], int] = {}
    verdicts = _Verdicts()
    keys: list[str] = []
    seen_before = len(solver.disagreements)
    classes: set[int] = set()
    validated: set[int] = set()

    def intern(parts: tuple[dict[str, Any], list[dict[str, Any]]]) -> int:
        first, why = parts
        ident = (id(first), *map(id, why))  # both live in the solver as long as the job
        found = local.get(ident)
        if found is None:
            h = solver.class_ids[id(first)]
            classes.add(h)
            if first["witness"].get("ran"):
                validated.add(h)
            key = compactor.key(first, why)
            found = verdicts.by_content.get(key)
            if found is None:
                found = verdicts.add(compactor.build(first, why), key)
            local[ident] = found
            if len(keys) < len(verdicts.items):
                keys.append(key)
        return found

    vmc = job.vm
    reps = [s.rep for s in job.stacks]
    policy = [intern(solver.policy_parts(s, vmc)) for s in reps]
    migration = snapshot = None
    if job.migration:
        migration = [[intern(solver.migrate_parts(src, dst, vmc)) for dst in reps] for src in reps]
        snapshot = [[intern(solver.migrate_parts(src, dst, vmc, snapshot=True)) for dst in reps]
                    for src in reps]
    return _Result(policy, migration, snapshot, verdicts.items, keys, classes, validated,
                   solver.disagreements[seen_before:])


def _results(rs: RuleSet, jobs: list[_Job]) -> Iterator[_Result]:
    """Results in job order, on both cores where possible."""
    return fork_map(_run_job, rs, jobs)


Progress = Callable[[int, int], None]  # (cells done, cells in all)


def _cells(job: _Job) -> int:
    return len(job.stacks) + (2 * len(job.stacks) ** 2 if job.migration else 0)


def _describe(rs: RuleSet, table: VMTable) -> None:
    """Registration per stack and the VM's effective irqchip and IOAPIC, for readers."""
    r = rs.resolver
    machine = r.machines.parse(table.vm.machine.machine)
    table.registered = [r.qemu.registers(r.qemu.resolve(s.qemus[-1]), machine)
                        for s in table.stacks]
    defaults = r.machines.defaults(machine)[0]
    table.machine_irqchip = str(defaults["irqchip"])
    table.machine_ioapic = str(defaults["ioapic"])
    table.ioapics = guest_ioapics(r.machines.ioapics.get(machine.family.id, 1), table.irqchip,
                                  table.ioapic)


def _stacks(rs: RuleSet, space: Space, vmc: VMClass) -> list[Stack]:
    groups = qemu_groups(rs, space, vmc)
    return [Stack(k, qemus, label, d) for k in space.kernels for qemus, label in groups
            for d in space.designs]


def build_matrix(rs: RuleSet, space: Space | None = None, *, progress: Progress | None = None,
                 strict: bool = True) -> Matrix:
    """Every policy and migration cell of ``space`` (default: :func:`default_space`).

    With ``strict`` a simulator disagreement raises Disagreement (exit 4): a
    matrix is never produced as if it were fine.
    """
    space = space or default_space(rs)
    migration_vms = set(space.migration_vms)
    policy_vms = set(space.policy_vms)
    order = space.policy_vms + tuple(v for v in space.migration_vms if v not in policy_vms)
    jobs = [_Job(vmc, _stacks(rs, space, vmc), vmc in migration_vms) for vmc in order]
    # The biggest tables first keeps both workers busy; results are re-ordered below.
    by_size = sorted(range(len(jobs)), key=lambda i: -len(jobs[i].stacks) ** (2 if jobs[i].migration else 1))
    total = sum(_cells(j) for j in jobs)
    done = 0
    report = progress or (lambda d, t: None)
    results: dict[int, _Result] = {}
    try:
        for i, res in zip(by_size, _results(rs, [jobs[i] for i in by_size]), strict=True):
            results[i] = res
            done += _cells(jobs[i])
            report(done, total)
    finally:
        _SHARED.clear()  # jobs that ran in this process: their memos go with the build
    verdicts = _Verdicts()
    tables: list[VMTable] = []
    classes: set[int] = set()
    validated: set[int] = set()
    disagreements: list[dict[str, Any]] = []
    for i, job in enumerate(jobs):
        res = results[i]
        ix = [verdicts.add(v, k) for v, k in zip(res.verdicts, res.keys, strict=True)]
        table = VMTable(job.vm, job.stacks, [ix[k] for k in res.policy])
        if res.migration is not None:
            table.migration = [[ix[k] for k in line] for line in res.migration]
        if res.snapshot is not None:
            table.snapshot = [[ix[k] for k in line] for line in res.snapshot]
        _describe(rs, table)
        tables.append(table)
        classes |= res.classes
        validated |= res.validated
        disagreements += res.disagreements
    m = Matrix(rs.digest, space, tables, verdicts.items, len(classes), len(validated), disagreements,
               panel_lookup(rs, space.kernels, space.qemus))
    unvalidated = sum(1 for v in m.verdicts if not v["witness"]["ran"])
    if strict and (m.disagreements or unvalidated):
        first = m.disagreements[0] if m.disagreements else {}
        diffs = "; ".join(first.get("differences", [])) or "a verdict was not simulated"
        raise Disagreement(f"the solver and the simulator disagree on {len(m.disagreements)} "
                           f"verdict(s), {unvalidated} not simulated; the matrix was not written "
                           f"(first: {diffs})")
    return m
