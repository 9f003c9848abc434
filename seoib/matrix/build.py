"""Build the policy, migration and snapshot matrices over the class space, every cell validated.

A snapshot cell judges a QMP loadvm of the source's snapshot into a VM running
on the destination (`seoib migrate --snapshot`), over the same VM classes and
stacks as the live-migration cells.

Cells share verdicts: ClassSolver memoizes by input facts, so a verdict is
evaluated (and simulated) once and every cell refers to it by index. The walk
order is fixed, so verdict indices, and with them every artifact, are stable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..query.classes import ClassSolver, VMClass
from ..errors import Disagreement
from ..parallel import fork_map
from ..rules.resolve import guest_ioapics
from ..rules.ruleset import RuleSet
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


# A checkout, a temp copy or a wheel put the rule files at different absolute
# paths; artifacts must not depend on where the rules were read from.
_PATH = re.compile(r"(?<![\w.])/(?:[^\s/]+/)*([^\s/]+\.ya?ml)\b")


@lru_cache(maxsize=4096)
def portable(text: str) -> str:
    return _PATH.sub(r"\1", text)


def _compact(summary: dict[str, Any]) -> dict[str, Any]:
    """What a cell's verdict carries into the artifacts: no traces, no paths."""
    w = summary["witness"]
    out: dict[str, Any] = {"outcome": summary["outcome"], "severity": summary["severity"]}
    for key in ("policy", "src_state", "dst_state"):
        if key in summary:
            out[key] = summary[key]
    out["findings"] = [f["outcome"] for f in summary["findings"]]
    out["reasons"] = [{k: portable(v) if isinstance(v, str) else v for k, v in r.items()}
                      for r in summary["reasons"]]
    out["witness"] = {"ran": bool(w.get("ran")), "agrees": w.get("agrees"),
                      "outcome": w.get("outcome"), "counters": dict(sorted(w.get("counters", {}).items()))}
    return out


def content_key(compact: dict[str, Any]) -> str:
    return json.dumps(compact, sort_keys=True)


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
    evaluations: int
    validated: int
    disagreements: list[dict[str, Any]]


def _run_job(rs: RuleSet, job: _Job) -> _Result:
    """Every cell of one VM class, with one ClassSolver per design pair.

    ClassSolver shares a verdict between queries with equal input facts; those
    give the same outcome, but the input rules they cite (a design, a QEMU
    release) come from whichever query came first. A solver per VM class and
    design pair keeps every cell's reasons its own; across VM classes the
    facts differ anyway, so little sharing is lost.
    """
    solvers: dict[tuple[str, ...], ClassSolver] = {}
    local: dict[int, int] = {}
    verdicts = _Verdicts()
    keys: list[str] = []

    def solver(*designs: str) -> ClassSolver:
        return solvers.setdefault(designs, ClassSolver(rs, validate=True))

    def intern(summary: dict[str, Any]) -> int:
        if id(summary) not in local:
            compact = _compact(summary)
            key = content_key(compact)
            local[id(summary)] = verdicts.add(compact, key)
            if len(keys) < len(verdicts.items):
                keys.append(key)
        return local[id(summary)]

    vmc = job.vm
    policy = [intern(solver(s.design).policy(s.rep, vmc)) for s in job.stacks]
    migration = snapshot = None
    if job.migration:
        migration = [[intern(solver(src.design, dst.design).migrate(src.rep, dst.rep, vmc))
                      for dst in job.stacks] for src in job.stacks]
        snapshot = [[intern(solver(src.design, dst.design).migrate(src.rep, dst.rep, vmc,
                                                                   snapshot=True))
                     for dst in job.stacks] for src in job.stacks]
    return _Result(policy, migration, snapshot, verdicts.items, keys, sum(x.evaluations() for x in solvers.values()),
                   sum(x.validated for x in solvers.values()),
                   [d for x in solvers.values() for d in x.disagreements])


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
    for i, res in zip(by_size, _results(rs, [jobs[i] for i in by_size]), strict=True):
        results[i] = res
        done += _cells(jobs[i])
        report(done, total)
    verdicts = _Verdicts()
    tables: list[VMTable] = []
    evaluations = validated = 0
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
        evaluations += res.evaluations
        validated += res.validated
        disagreements += res.disagreements
    m = Matrix(rs.digest, space, tables, verdicts.items, evaluations, validated, disagreements)
    unvalidated = sum(1 for v in m.verdicts if not v["witness"]["ran"])
    if strict and (m.disagreements or unvalidated):
        first = m.disagreements[0] if m.disagreements else {}
        diffs = "; ".join(first.get("differences", [])) or "a verdict was not simulated"
        raise Disagreement(f"the solver and the simulator disagree on {len(m.disagreements)} "
                           f"verdict(s), {unvalidated} not simulated; the matrix was not written "
                           f"(first: {diffs})")
    return m
