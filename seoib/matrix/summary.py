"""README.md: the matrices in two minutes - per design, which stack pairs are safe and why not.

A stack pair is a source and a destination (kernel class, QEMU release) with
the same SEOIB design. Over every VM class of the migration tables that runs
well on the source (its power-on there does not block), a pair is *safe* when
no move blocks or warns, *warns* when the worst is a warning, and *breaks*
when some VM class blocks; a breaking pair is listed under each cause (the
outcome and the first rule that decided it). A destination QEMU that does not
register a VM's machine type is n/a for that VM, as on the page. The full
tables are in one file per design (:mod:`seoib.matrix.markdown`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..vocabulary import SEVERITY_RANK
from .build import Matrix
from .markdown import OUTCOME_WORDS, table_file
from .pools import blocked_moves, describe, matrix_pools

__all__ = ["readme"]



@dataclass
class _Pair:
    worst: str = "ok"
    causes: set[tuple[str, str]] = field(default_factory=set)  # (outcome, first reason text)


_StackKey = tuple[str, tuple[str, ...], str]  # kernel class, QEMU releases, design


def _cells(m: Matrix, grid_of: str) -> Iterator[tuple[_StackKey, _StackKey, dict[str, Any]]]:
    """(src, dst, verdict) per stack pair of every runnable, registered cell."""
    for t in m.tables:
        grid = getattr(t, grid_of)
        if grid is None:
            continue
        keys = [(s.kernel.label, s.qemus, s.design) for s in t.stacks]
        for i, line in enumerate(grid):
            if not t.registered[i] or m.verdicts[t.policy[i]]["severity"] == "block":
                continue
            for j, vi in enumerate(line):
                if t.registered[j]:
                    yield keys[i], keys[j], m.verdicts[vi]


def _pairs(m: Matrix, grid_of: str) -> dict[tuple[tuple[str, str, str], tuple[str, str, str]], _Pair]:
    """Per release pair (kernel class, QEMU release, design on each side): the worst
    severity over every VM class, and the causes of the blocking ones. Cells are folded
    per stack pair first, then spread over the releases each stack stands for."""
    stacked: dict[tuple[_StackKey, _StackKey], _Pair] = {}
    for src, dst, v in _cells(m, grid_of):
        p = stacked.get((src, dst))
        if p is None:
            p = stacked[(src, dst)] = _Pair()
        if SEVERITY_RANK[v["severity"]] > SEVERITY_RANK[p.worst]:
            p.worst = v["severity"]
        if v["severity"] == "block":
            p.causes.add((v["outcome"], v["reasons"][0]["text"] if v["reasons"] else ""))
    pairs: dict[tuple[tuple[str, str, str], tuple[str, str, str]], _Pair] = {}
    for ((sk, sqs, sd), (dk, dqs, dd)), sp in stacked.items():
        for qs in sqs:
            for qd in dqs:
                if (sk, qs, sd) == (dk, qd, dd):
                    continue
                p = pairs.setdefault(((sk, qs, sd), (dk, qd, dd)), _Pair())
                if SEVERITY_RANK[sp.worst] > SEVERITY_RANK[p.worst]:
                    p.worst = sp.worst
                p.causes |= sp.causes
    return pairs


def _stack(s: tuple[str, str, str]) -> str:
    return f"kernel {s[0]} + QEMU {s[1]}"


def _design_section(m: Matrix, design: str, live: dict, snap: dict) -> list[str]:
    out = [f"### {design}", ""]
    for what, pairs in (("Live migration", live), ("Snapshot restore (loadvm)", snap)):
        mine = {k: p for k, p in pairs.items() if k[0][2] == design and k[1][2] == design}
        n = Counter(p.worst for p in mine.values())
        out.append(f"- **{what}**: {len(mine)} stack pairs: {n['ok']} safe, {n['warn']} warn, "
                   f"{n['block']} break.")
        causes: dict[tuple[str, str], list[tuple[tuple[str, str, str], tuple[str, str, str]]]] = {}
        for k, p in mine.items():
            for c in p.causes:
                causes.setdefault(c, []).append(k)
        for (outcome, why), ks in sorted(causes.items(), key=lambda x: (-len(x[1]), x[0])):
            kernels = Counter((a[0], b[0]) for a, b in ks)
            where = "; ".join(f"{a} -> {b}" for (a, b), _ in kernels.most_common(3))
            more = f" and {len(kernels) - 3} more kernel pairs" if len(kernels) > 3 else ""
            out.append(f"  - {len(ks)} break with **{outcome}** ({why}); kernels {where}{more}.")
    return [*out, ""]


def _cross(live: dict, designs: tuple[str, ...]) -> list[str]:
    out = ["| from \\ to | " + " | ".join(designs) + " |", "|---" * (len(designs) + 1) + "|"]
    for a in designs:
        row = []
        for b in designs:
            mine = [p.worst for k, p in live.items() if k[0][2] == a and k[1][2] == b]
            n = Counter(mine)
            row.append(f"{n['ok']} / {n['warn']} / {n['block']}")
        out.append(f"| {a} | " + " | ".join(row) + " |")
    return out


def readme(m: Matrix) -> bytes:
    sp = m.space
    t = m.tally()
    live, snap = _pairs(m, "migration"), _pairs(m, "snapshot")
    blocked = blocked_moves(m)
    pools = matrix_pools(m, blocked)
    seen = sorted({(v["outcome"], v["severity"]) for v in m.verdicts},
                  key=lambda x: (SEVERITY_RANK[x[1]], x[0]))
    out = [
        "# SEOIB migration matrices: the summary",
        "",
        "Generated by `seoib matrix` from the built-in rules; do not edit. `seoib matrix --check` "
        f"tells whether this folder is current. Rules digest `{m.digest}`.",
        "",
        "Open `index.html` to ask one question (source stack, destination stack, VM: the verdict "
        "with its reasons and sources). Full tables, one file per design: "
        + ", ".join(f"[`{table_file(d)}`]({table_file(d)})" for d in sp.designs)
        + ". Every cell: `migration.csv` (live and snapshot columns), `policy.csv`, `matrix.json`.",
        "",
        f"Space: {len(sp.kernels)} kernel classes x QEMU {', '.join(sp.qemus)} x {len(sp.designs)} "
        f"designs; {t['policy_cells']} power-on, {t['migration_cells']} live-migration and "
        f"{t['snapshot_cells']} snapshot cells, {t['evaluations']} distinct class pairs, each re-derived "
        f"by the simulator: {t['validated']} validated, {t['disagreements']} disagreements.",
        "",
        "Kernel classes: " + "; ".join(f"`{k.label}`" + (f" (longterm {', '.join(k.longterm)})"
                                                         if k.longterm else "")
                                       for k in sp.kernels) + ".",
        "",
        "## Outcomes",
        "",
        *(f"- `{o}` ({s}): {OUTCOME_WORDS.get(o, o)}" for o, s in seen),
        "",
        "## Pools",
        "",
        "Stacks (kernel class, QEMU release, design) between which every VM class that runs well "
        "on the source moves without a blocking verdict, in both directions (strongly connected; "
        "some direct moves may need a hop, the page says which):",
        "",
    ]
    for i, ms in enumerate(pools.members):
        out.append(f"{i + 1}. {len(ms)} stack{'s' if len(ms) != 1 else ''}: "
                   + "; ".join(x.strip() for x in describe(ms, sp.qemus, sp.designs)) + ".")
    if pools.oneway:
        out += ["", "One-way moves: " + ", ".join(f"pool {a + 1} -> pool {b + 1}"
                                                 for a, b in pools.oneway) + "."]
    out += [
        "",
        "## Per design: which stack pairs are safe, which break and why",
        "",
        "A pair is a source and a destination (kernel class + QEMU release) with the same design; "
        "it breaks when some VM class that runs well on the source blocks, and warns when the "
        "worst is storm-risk (the VM stays quirked on a split irqchip: a guest that uses SEOIB "
        "would storm). A destination QEMU without the VM's machine type is n/a for that VM.",
        "",
    ]
    for d in sp.designs:
        out += _design_section(m, d, live, snap)
    out += ["## Across designs (live migration)", "",
            "Stack pairs safe / warn / break when the QEMU build changes its design:", "",
            *_cross(live, sp.designs), ""]
    return ("\n".join(out).rstrip("\n") + "\n").encode()
