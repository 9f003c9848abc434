"""tables-<design>.md: every matrix cell as tables a reviewer can read on a code host.

One file per SEOIB design: power-on tables with that design's columns, and the
live-migration and snapshot-restore tables whose rows (source stacks) have that
design, every destination as a column. Tables are wide, so cells hold short
codes (UPPERCASE blocks, a trailing ! warns, n/a where the QEMU does not
register the machine type) and headers hold short ids explained in the file's
legend: readable without colour, and one line per row keeps diffs small.
README.md is the summary (:mod:`seoib.matrix.summary`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .build import Matrix, VMTable
from .space import GUESTS, Stack

__all__ = ["OUTCOME_WORDS", "cell_code", "design_tables", "policy_code", "table_file"]

# What each outcome of rules/queries.yaml means to the person reading it.
OUTCOME_WORDS = {
    "ok": "interrupts are handled correctly",
    "not-applicable": "no KVM LAPIC or no x2APIC: the guest cannot see SEOIB",
    "storm-risk": "completes, but the VM stays quirked on a split irqchip; a guest that uses "
                  "SEOIB storms",
    "storm": "the guest's level-triggered interrupts storm",
    "stuck": "suppression is honored but the IOAPIC has no EOI register: interrupts get stuck",
    "start-fails": "KVM or QEMU refuses the configuration",
    "unsupported": "not a supported move (the source VM does not start, the machine type is "
                   "missing on the destination, or the destination kernel lacks split irqchip)",
    "refused": "the destination rejects the stream; the source keeps running",
    "dest-abort": "the destination QEMU aborts while loading, after the whole stream was sent: "
                  "the source QEMU reports completed and stays paused (postmigrate) until `cont` "
                  "(a plain QMP client must send it; libvirt resumes the source when the "
                  "destination's Finish step fails)",
    "cpu-model-change": "LVR bit 24 changes under the running guest",
}


def table_file(design: str) -> str:
    """The file name of one design's full tables."""
    return f"tables-{design}.md"

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


def _legend(m: Matrix, ids: _Ids) -> list[str]:
    seen: Counter[tuple[str, str]] = Counter((v["outcome"], v["severity"]) for v in m.verdicts)
    rows = [[f"`{cell_code(o, s)}`", o, s, OUTCOME_WORDS.get(o, "")]
            for o, s in sorted(seen, key=lambda x: (x[1], x[0]))]
    rows.append(["`n/a`", "(any)", "-", "the QEMU does not register the machine type: nothing "
                 "about SEOIB (on a migration: the source or the destination lacks it)"])
    out = ["## Legend", "",
           "Codes: UPPERCASE blocks, a trailing `!` is a warning, lowercase is fine. Policy "
           "letters: Q quirked, R respected, N not-advertised, - none (no KVM LAPIC).", ""]
    out += _table(["code", "outcome", "severity", "meaning"], rows)
    out += ["Kernel classes:", ""]
    longterm = {k.label: ", ".join(k.longterm) for k in m.space.kernels}
    out += _table(["id", "kernel releases", "longterm lines in it"],
                  [[i, _esc(lab), _esc(longterm.get(lab, "")) or "-"] for lab, i in ids.kernel.items()])
    out += ["Stacks in the migration tables:", ""]
    out += _table(["id", "kernel", "QEMU", "design"],
                  [[ids.stack[s.label], ids.kernel[s.kernel.label], s.qemu_label, s.design]
                   for s in ids.stacks])
    return out


def _policy_tables(m: Matrix, ids: _Ids, design: str) -> list[str]:
    out = ["## Policy at power-on", "",
           "One table per guest. Rows: VM configuration and the QEMU releases that treat it "
           "alike; columns: kernel class. Cell: outcome code and policy letter.", ""]
    designs = (design,)
    kernels = m.space.kernels
    header = ["VM", "QEMU"] + [ids.kernel[k.label] for k in kernels]
    for guest in sorted({t.vm.guest for t in m.tables}, key=list(GUESTS).index):
        rows = []
        for t in (t for t in m.tables if t.vm.guest == guest):
            config = t.vm.label.rsplit(",guest=", 1)[0]
            cells = {(s.kernel.label, s.qemu_label, s.design): (vi, ok)
                     for s, vi, ok in zip(t.stacks, t.policy, t.registered, strict=True)}
            for qlabel in dict.fromkeys(s.qemu_label for s in t.stacks):
                row = [f"`{config}`", qlabel]
                for k in kernels:
                    for d in designs:
                        vi, ok = cells[(k.label, qlabel, d)]
                        v = m.verdicts[vi]
                        row.append(f"{cell_code(v['outcome'], v['severity'])} "
                                   f"{policy_code(v.get('policy'), v['outcome'])}".strip()
                                   if ok else "n/a")
                rows.append(row)
        out += [f"### guest={guest}", "", *_table(header, rows)]
    return out


def _grid_table(m: Matrix, t: VMTable, grid: list[list[int]], ids: _Ids, design: str) -> list[str]:
    header = ["src \\ dst"] + [ids.stack[s.label] for s in t.stacks]
    rows = []
    counts: Counter[str] = Counter()
    for i, (src, line) in enumerate(zip(t.stacks, grid, strict=True)):
        if src.design != design:
            continue
        row = [ids.stack[src.label]]
        for j, vi in enumerate(line):
            v = m.verdicts[vi]
            ok = t.registered[i] and t.registered[j]
            row.append(cell_code(v["outcome"], v["severity"]) if ok else "n/a")
            counts[v["outcome"] if ok else "n/a"] += 1
        rows.append(row)
    summary = ", ".join(f"{o} {n}" for o, n in sorted(counts.items()))
    return [f"### `{t.vm.label}`", "", f"{len(rows)} x {len(t.stacks)} stacks: {summary}.", "",
            *_table(header, rows)]


def _design_file(m: Matrix, design: str) -> bytes:
    ids = _Ids(m)
    out = [f"# SEOIB matrices, design `{design}`: every cell", "",
           "Generated by `seoib matrix`; do not edit. The summary is in README.md; `index.html` "
           "answers one question at a time.", "",
           f"Rules digest `{m.digest}`.", ""]
    out += _legend(m, ids) + _policy_tables(m, ids, design)
    for title, attr, what in (
            ("Live migration", "migration", "live migration"),
            ("Snapshot restore (QMP loadvm)", "snapshot",
             "QMP loadvm of the source's snapshot into a VM running on the destination")):
        out += [f"## {title}", "",
                f"One table per VM class: {what}. Rows: source stacks with design `{design}` "
                "(where the VM was cold-booted); columns: every destination stack. Stack ids are "
                "in the legend.", ""]
        for t in m.tables:
            grid = getattr(t, attr)
            if grid is not None:
                out += _grid_table(m, t, grid, ids, design)
    return ("\n".join(out).rstrip("\n") + "\n").encode()


def design_tables(m: Matrix) -> dict[str, bytes]:
    """tables-<design>.md for every design of the space."""
    return {table_file(d): _design_file(m, d) for d in m.space.designs}
