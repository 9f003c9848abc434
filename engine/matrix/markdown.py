"""README.md: the matrices as tables a reviewer can read on a code host.

Tables are wide, so cells hold short codes (UPPERCASE blocks, a trailing !
warns) and headers hold short ids explained in legends: readable without
colour, and one line per row keeps diffs small.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .build import Matrix, VMTable
from .space import GUESTS, Stack

__all__ = ["cell_code", "policy_code", "readme"]

# Short forms of the outcomes in rules/queries.yaml; an unknown outcome shows in full.
_SHORT = {"not-applicable": "n/a", "storm-risk": "risk", "start-fails": "nostart",
          "unsupported": "unsup", "dest-abort": "abort", "cpu-model-change": "cpu"}
_POLICY = {"quirked": "Q", "respected": "R", "not-advertised": "N", "n/a": "-"}


def cell_code(outcome: str, severity: str) -> str:
    code = _SHORT.get(outcome, outcome)
    return {"block": code.upper(), "warn": code + "!"}.get(severity, code)


def policy_code(policy: Any, outcome: str = "") -> str:
    # A VM that never starts has no policy worth showing.
    return _POLICY.get(str(policy), "") if policy and outcome != "start-fails" else ""


def _esc(text: str) -> str:
    return text.replace("|", "\\|")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows), ""]


class _Ids:
    """Short ids (K1, S01) for kernel classes and stack labels, in first-seen order."""

    def __init__(self, m: Matrix) -> None:
        self.kernel = {k.label: f"K{i + 1}" for i, k in enumerate(m.space.kernels)}
        labels: dict[str, Stack] = {}
        for t in m.tables:
            if t.migration is not None:
                for s in t.stacks:
                    labels.setdefault(s.label, s)
        width = len(str(len(labels)))
        self.stack = {lab: f"S{i + 1:0{width}d}" for i, lab in enumerate(labels)}
        self.stacks = list(labels.values())


def _space_text(m: Matrix) -> list[str]:
    sp = m.space
    mig = [t for t in m.tables if t.migration is not None]
    machines = sorted({t.vm.machine.label for t in mig}, key=[t.vm.machine.label for t in mig].index)
    return [
        "## Class space",
        "",
        "Releases the rules cannot tell apart are one class (kernel classes by the capabilities "
        "they give, machine classes by compat values, registration and design gates). The full "
        "cross product is far too big to read, so the matrix keeps:",
        "",
        f"- **Stacks**: {len(sp.kernels)} kernel classes x {len(sp.qemus)} QEMU releases "
        f"({', '.join(sp.qemus)}) x {len(sp.designs)} designs ({', '.join(sp.designs)}). In each "
        "VM class's table, QEMU releases that give that VM identical input facts are merged "
        "into one range (they differ only in machine types the VM does not use).",
        f"- **Migration VM classes** ({len(mig)}): per machine family the newest class every "
        "QEMU release registers (what a mixed fleet can live-migrate), the newest class of the "
        "last versioned family (the only one past a design's gate), each with the irqchip "
        "default and `split`, one IOAPIC 0x11 variant (split, where suppression without an EOI "
        "register gets stuck), and the guests " + ", ".join(f"`{g}`" for g in GUESTS) +
        " (unknown, uses SEOIB, does not). The other versioned families have the same "
        "defaults there, so their newest class would repeat tables. Machine classes: " +
        ", ".join(f"`{x}`" for x in machines) + ".",
        f"- **Policy VM classes** ({len(m.tables)}): every machine class with both irqchip "
        "modes, the same variant and guests (a power-on is cheap).",
        "",
        f"Cells: {m.policy_cells()} policy + {m.migration_cells()} migration; distinct "
        f"evaluations: {m.evaluations}, each held against the simulator "
        f"(validated {m.validated}, disagreements {len(m.disagreements)}).",
        "",
    ]


def _legend(m: Matrix, ids: _Ids) -> list[str]:
    seen: Counter[tuple[str, str]] = Counter((v["outcome"], v["severity"]) for v in m.verdicts)
    rows = [[f"`{cell_code(o, s)}`", o, s] for o, s in sorted(seen, key=lambda x: (x[1], x[0]))]
    out = ["## Legend", "",
           "Codes: UPPERCASE blocks, a trailing `!` is a warning, lowercase is fine. Policy "
           "letters: Q quirked, R respected, N not-advertised, - none (no KVM LAPIC).", ""]
    out += _table(["code", "outcome", "severity"], rows)
    out += ["Kernel classes:", ""]
    out += _table(["id", "kernel releases"],
                  [[i, _esc(lab)] for lab, i in ids.kernel.items()])
    out += ["Stacks in the migration tables:", ""]
    out += _table(["id", "kernel", "QEMU", "design"],
                  [[ids.stack[s.label], ids.kernel[s.kernel.label], s.qemu_label, s.design]
                   for s in ids.stacks])
    return out


def _policy_tables(m: Matrix, ids: _Ids) -> list[str]:
    out = ["## Policy at power-on", "",
           "One table per guest. Rows: VM configuration and the QEMU releases that treat it "
           "alike; columns: kernel class and design. Cell: outcome code and policy letter.", ""]
    designs = m.space.designs
    kernels = m.space.kernels
    header = ["VM", "QEMU"] + [f"{ids.kernel[k.label]} {d}" for k in kernels for d in designs]
    for guest in sorted({t.vm.guest for t in m.tables}, key=list(GUESTS).index):
        rows = []
        for t in (t for t in m.tables if t.vm.guest == guest):
            config = t.vm.label.rsplit(",guest=", 1)[0]
            cells = {(s.kernel.label, s.qemu_label, s.design): vi
                     for s, vi in zip(t.stacks, t.policy, strict=True)}
            for qlabel in dict.fromkeys(s.qemu_label for s in t.stacks):
                row = [f"`{config}`", qlabel]
                for k in kernels:
                    for d in designs:
                        v = m.verdicts[cells[(k.label, qlabel, d)]]
                        row.append(f"{cell_code(v['outcome'], v['severity'])} "
                                   f"{policy_code(v.get('policy'), v['outcome'])}".strip())
                rows.append(row)
        out += [f"### guest={guest}", "", *_table(header, rows)]
    return out


def _migration_table(m: Matrix, t: VMTable, ids: _Ids) -> list[str]:
    assert t.migration is not None
    header = ["src \\ dst"] + [ids.stack[s.label] for s in t.stacks]
    rows = []
    for src, line in zip(t.stacks, t.migration, strict=True):
        rows.append([ids.stack[src.label]] + [
            cell_code(m.verdicts[vi]["outcome"], m.verdicts[vi]["severity"]) for vi in line])
    counts = Counter(m.verdicts[vi]["outcome"] for line in t.migration for vi in line)
    summary = ", ".join(f"{o} {n}" for o, n in sorted(counts.items()))
    return [f"### `{t.vm.label}`", "", f"{len(t.stacks)} x {len(t.stacks)} stacks: {summary}.", "",
            *_table(header, rows)]


def readme(m: Matrix) -> bytes:
    ids = _Ids(m)
    out = [
        "# SEOIB policy and migration matrices",
        "",
        "Generated by `seoib matrix` from the built-in rules; do not edit. "
        "`seoib matrix --check` tells whether this folder is current.",
        "",
        f"Rules digest `{m.digest}`. Files: `migration.csv`, `policy.csv`, `matrix.json` "
        "(cells, verdicts with reasons and sources, simulator tally), `index.html` (heat map; "
        "hover or focus a cell for its reasons), `designs.md` (the QEMU SEOIB designs compared "
        "on a representative fleet).",
        "",
    ]
    out += _space_text(m) + _legend(m, ids) + _policy_tables(m, ids)
    out += ["## Live migration", "",
            "One table per VM class. Rows: source stack (where the VM was cold-booted); columns: "
            "destination stack. Stack ids are in the legend.", ""]
    for t in m.tables:
        if t.migration is not None:
            out += _migration_table(m, t, ids)
    return ("\n".join(out).rstrip("\n") + "\n").encode()
