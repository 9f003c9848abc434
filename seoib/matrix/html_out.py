"""index.html: one self-contained page (inline CSS, script and data; no network, no server).

First a query panel: pick or type the source stack, the destination stack and
the VM, and read the verdict with its reasons and sources, computed by the
page's script from the embedded cells. Then the migration pools, then the heat
maps. Every heat-map cell is a focusable table cell holding its outcome code,
so the maps read without colour and without script. A cell whose QEMU does not
register the VM's machine type says nothing about SEOIB: it shows a neutral n/a.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from itertools import groupby
from typing import Any

from ..query.text import ioapic_words
from ..vocabulary import SEVERITY_RANK
from .build import Matrix, VMTable
from .json_out import _citations
from .markdown import OUTCOME_WORDS, cell_code, policy_code
from .page_script import CSS, JS
from .pools import Pools, blocked_moves, describe, matrix_pools
from .space import GUESTS, Stack
from .svg import pools_svg

__all__ = ["index_html", "vm_words"]



def vm_words(t: VMTable) -> str:
    """A VM class as a person says it: machine, irqchip, the IOAPIC(s) the guest sees, guest."""
    irq = t.irqchip + (" (default)" if t.vm.irqchip is None else "")
    userspace = any(d == "ioapic" for d, _ in t.ioapics)
    io = ioapic_words(t.ioapics) + (" (default)" if t.vm.ioapic is None and userspace else "")
    return f"{t.vm.machine.label}, irqchip {irq}, {io}, guest {t.vm.guest}"


def _code(v: dict[str, Any]) -> str:
    return cell_code(v["outcome"], v["severity"])


class _Page:
    """Indices shared by the markup and the embedded data."""

    def __init__(self, m: Matrix) -> None:
        self.m = m
        self.kernels = {k.label: i for i, k in enumerate(m.space.kernels)}
        self.designs = {d: i for i, d in enumerate(m.space.designs)}
        self.stacks: dict[tuple[str, tuple[str, ...], str], int] = {}
        self.stack_list: list[dict[str, Any]] = []

    def sid(self, s: Stack) -> int:
        key = (s.kernel.label, s.qemus, s.design)
        if key not in self.stacks:
            self.stacks[key] = len(self.stack_list)
            self.stack_list.append({"k": self.kernels[s.kernel.label], "q": list(s.qemus),
                                    "d": self.designs[s.design]})
        return self.stacks[key]

    def data(self, pools: Pools) -> str:
        """The embedded JSON the script reads.

        ``kernels`` (label, release, members), ``designs``, ``stacks`` ({k: kernel
        index, q: QEMU releases, d: design index}), ``vms`` (one per table: words,
        machines, guest, class irqchip/ioapic ``ci``/``co`` (null: the machine's
        default ``mi``/``mo``), stack ids ``st``, registered ``r``, verdict indices
        ``p`` per stack and ``m``/``s`` [src][dst] for live/snapshot or null),
        ``verdicts`` and ``citations`` as in matrix.json, outcome ``words``, cell
        ``codes`` per verdict, ``pools`` (stack label -> pool, one-way edges), and
        ``lookup``: the rule data that resolves typed kernels and machine types as the
        command line does (seoib.matrix.lookup).
        """
        m = self.m
        citations, verdicts = _citations(m)
        vms = []
        for t in m.tables:
            vms.append({"words": vm_words(t), "machines": list(t.vm.machine.members),
                        "guest": t.vm.guest, "ci": t.vm.irqchip, "co": t.vm.ioapic,
                        "mi": t.machine_irqchip, "mo": t.machine_ioapic,
                        "st": [self.sid(s) for s in t.stacks], "r": [int(x) for x in t.registered],
                        "p": t.policy, "m": t.migration, "s": t.snapshot})
        doc = {"kernels": [{"label": k.label, "release": k.release, "members": list(k.members),
                            "longterm": list(k.longterm)} for k in m.space.kernels],
               "designs": list(m.space.designs), "stacks": self.stack_list, "vms": vms,
               "verdicts": verdicts, "citations": citations, "words": OUTCOME_WORDS,
               "codes": [_code(v) for v in m.verdicts],
               "pools": {"of": pools.pool_of(), "oneway": [list(e) for e in pools.oneway]},
               "lookup": m.lookup}
        # Never close the script element early.
        return json.dumps(doc, separators=(",", ":")).replace("</", "<\\/")


def _legend(m: Matrix) -> str:
    seen = sorted({(v["outcome"], v["severity"]) for v in m.verdicts},
                  key=lambda x: (SEVERITY_RANK[x[1]], x[0]))
    codes = "".join(f'<span title="{escape(OUTCOME_WORDS.get(o, o))}"><span class="sw {s}">'
                    f"{escape(cell_code(o, s))}</span>{escape(o)}</span>" for o, s in seen)
    return ('<div class="legend" id="legend" aria-label="legend"><b>Legend</b>'
            '<span><span class="sw ok">ok</span>fine (lowercase)</span>'
            '<span><span class="sw warn">risk!</span>warning (trailing !)</span>'
            '<span><span class="sw block">STORM</span>blocks (UPPERCASE)</span>'
            '<span><span class="sw na">n/a</span>machine type not registered on that QEMU '
            "(not an SEOIB problem)</span>"
            "<span>Policy letters: Q quirked, R respected, N not-advertised, - no KVM LAPIC</span>"
            f"</div><p class=\"legend\"><b>Outcomes</b> {codes}</p>")


def _label(note: str) -> str:
    return f' label="{escape(note)}"' if note else ""


def _options(values: Sequence[str], chosen: str | None = None) -> str:
    return "".join(f'<option value="{escape(v)}"{" selected" if v == chosen else ""}>{escape(v)}'
                   "</option>" for v in values)


def _default_query(m: Matrix) -> tuple[VMTable, str]:
    """The VM class and design the panel opens with: the first live move that blocks.

    Newest kernel class to the one before it, newest QEMU: a reader sees at once
    what a broken move looks like. Falls back to the first migration table.
    """
    mig = [t for t in m.tables if t.migration is not None] or m.tables
    kernels = m.space.kernels
    src_k, dst_k = kernels[-1].label, kernels[-2 if len(kernels) > 1 else -1].label
    q = m.space.qemus[-1]
    for d in m.space.designs:
        for t in mig:
            where = {(s.kernel.label, s.design): i for i, s in enumerate(t.stacks) if q in s.qemus}
            i, j = where.get((src_k, d)), where.get((dst_k, d))
            if (t.migration is not None and i is not None and j is not None and t.registered[i]
                    and m.verdicts[t.policy[i]]["severity"] != "block"
                    and m.verdicts[t.migration[i][j]]["severity"] == "block"):
                return t, d
    return mig[0], m.space.designs[0]


def _panel(m: Matrix) -> str:
    sp = m.space
    lk = m.lookup.get("kernels", {})
    examples = [(x, f"{s['id']} kernel") for s in lk.get("schemes", ()) for x in s.get("examples", ())]
    kernels = "".join(f'<option value="{escape(x)}"{_label(note)}>' for x, note in dict.fromkeys(
        [*((x, "") for k in sp.kernels for x in (k.release, *k.members, k.label)),
         *((x, "longterm") for x in lk.get("longterm", ())), *examples]))
    machines = "".join(f'<option value="{escape(x)}"{_label(note)}>' for x, note in dict.fromkeys(
        [*((a, "alias") for a in m.lookup.get("aliases", {})),
         *((x, "") for t in m.tables for x in t.vm.machine.members),
         *((x, f"{d['id']}, follows {up}") for d in m.lookup.get("downstream", ())
           for x, up in d["types"].items())]))
    vm, design = _default_query(m)
    designs = "".join(f'<option value="{i}"{" selected" if d == design else ""}>{escape(d)}</option>'
                      for i, d in enumerate(sp.designs))
    src_k = sp.kernels[-1].release
    dst_k = sp.kernels[-2].release if len(sp.kernels) > 1 else src_k
    guests = [g for g in GUESTS if any(t.vm.guest == g for t in m.tables)]
    irqchips = ["default", *sorted({t.irqchip for t in m.tables})]
    ioapics = ["default", *sorted({t.ioapic for t in m.tables})]

    def stack(side: str, title: str, kernel: str) -> str:
        return (f"<fieldset><legend>{title}</legend>"
                f'<label for="q-{side}k">kernel release</label>'
                f'<input id="q-{side}k" list="kernels" value="{escape(kernel)}" autocomplete="off">'
                f'<label for="q-{side}q">QEMU release</label>'
                f'<select id="q-{side}q">{_options(sp.qemus, sp.qemus[-1])}</select>'
                f'<label for="q-{side}d">SEOIB design of the QEMU build</label>'
                f'<select id="q-{side}d">{designs}</select></fieldset>')

    return (
        '<section aria-labelledby="ask"><h2 id="ask">Ask: can this VM move from one stack to another?</h2>'
        '<form class="q" id="q-form" role="search" aria-describedby="ask-help">'
        + stack("s", "Source stack", src_k) + stack("d", "Destination stack", dst_k) +
        '<fieldset><legend>VM</legend><label for="q-machine">machine type</label>'
        f'<input id="q-machine" list="machines" value="{escape(vm.vm.machine.members[-1])}" '
        'autocomplete="off">'
        f'<label for="q-irqchip">irqchip</label><select id="q-irqchip">'
        f"{_options(irqchips, vm.vm.irqchip or 'default')}</select>"
        f'<label for="q-ioapic">IOAPIC</label><select id="q-ioapic">'
        f"{_options(ioapics, vm.vm.ioapic or 'default')}</select>"
        f'<label for="q-guest">guest</label><select id="q-guest">{_options(guests, vm.vm.guest)}'
        "</select></fieldset>"
        '<fieldset><legend>Move</legend><label for="q-mode">how</label><select id="q-mode">'
        '<option value="live">live migration</option>'
        '<option value="snapshot">snapshot restore (QMP loadvm)</option></select>'
        '<p id="ask-help" style="max-width:16em;font-size:12px">Type a release (e.g. '
        f"{escape(src_k)}), a distribution kernel as <code>uname -r</code> prints it, a machine "
        "type, an alias (<code>q35</code>) or a downstream type, or pick one. The answer "
        "updates as you type.</p></fieldset></form>"
        f'<datalist id="kernels">{kernels}</datalist><datalist id="machines">{machines}</datalist>'
        '<div id="answer" role="status" aria-live="polite" aria-atomic="true">'
        "<noscript>The query panel needs JavaScript; the heat maps below read without it."
        "</noscript></div></section>")


def _pools(m: Matrix, blocked: set[tuple[str, str]], p: Pools) -> str:
    sp = m.space

    def lines(ms: Sequence[str]) -> list[str]:
        return describe(ms, sp.qemus, sp.designs)

    svg = pools_svg(p, "Migration pools (arrows: one-way moves)", lines)
    items = []
    for i, ms in enumerate(p.members):
        inside = sum(1 for a in ms for b in ms if a != b and (a, b) in blocked)
        pairs = len(ms) * (len(ms) - 1)
        note = (f" Inside it, {inside} of {pairs} direct moves block for some VM class: the pool "
                "connects them through other stacks; ask the panel for a direct pair."
                if inside else "")
        items.append(f"<li><b>Pool {i + 1}</b> ({len(ms)} stacks): "
                     f"{escape('; '.join(x.strip() for x in lines(ms)))}.{note}</li>")
    edges = "".join(f"<li>pool {a + 1} &rarr; pool {b + 1}: VMs can move this way, not back</li>"
                    for a, b in p.oneway) or "<li>none</li>"
    return ('<section class="pools" aria-labelledby="pools"><h2 id="pools">Migration pools</h2>'
            "<p>A pool is a strongly connected group of stacks (kernel class, QEMU release, design): "
            "every VM class of the migration tables that runs well on a stack can reach any other "
            "stack of its pool and come back by moves that never block, directly or through other "
            "stacks of the pool, as <code>seoib graph</code> computes them for one VM class. A "
            "destination QEMU without the VM's machine type counts as blocking here. Between pools, "
            "moves go one way only.</p>"
            f"<ol>{''.join(items)}</ol><p>One-way moves between pools:</p><ul>{edges}</ul>"
            f"<figure>{svg}</figure></section>")


def _cell(m: Matrix, vi: int, design: int, registered: bool, snap: int | None = None,
          extra: str = "") -> str:
    v = m.verdicts[vi]
    s = "" if snap is None else f' data-s="{snap}"'
    if not registered:
        return f'<td tabindex="0" class="na" data-v="{vi}"{s} data-d="{design}">n/a</td>'
    return (f'<td tabindex="0" class="{v["severity"]}" data-v="{vi}"{s} data-d="{design}">'
            f"{escape(_code(v))}{' ' + extra if extra else ''}</td>")


def _stack_heads(stacks: Sequence[Stack], design_ix: dict[str, int]) -> str:
    rows = ["<tr><th rowspan=\"3\">from \\ to</th>"]
    for k, run in groupby(stacks, key=lambda s: s.kernel.label):
        rows.append(f'<th scope="colgroup" colspan="{len(list(run))}">kernel {escape(k)}</th>')
    rows.append("</tr><tr>")
    for (_, q), run in groupby(stacks, key=lambda s: (s.kernel.label, s.qemu_label)):
        rows.append(f'<th scope="colgroup" colspan="{len(list(run))}">QEMU {escape(q)}</th>')
    rows.append("</tr><tr>")
    rows += [f'<th scope="col" data-d="{design_ix[s.design]}">{escape(s.design)}</th>' for s in stacks]
    rows.append("</tr>")
    return "".join(rows)


def _migration(m: Matrix, t: VMTable, design_ix: dict[str, int]) -> list[str]:
    assert t.migration is not None
    snap = t.snapshot or [[None] * len(t.stacks)] * len(t.stacks)
    out = [f'<section class="hm" data-guest="{escape(t.vm.guest)}"><h3>{escape(vm_words(t))}</h3>',
           f'<table class="m" data-vm="{escape(vm_words(t))}" data-kind="migration">'
           f"{_stack_heads(t.stacks, design_ix)}"]
    for i, (src, line, sline) in enumerate(zip(t.stacks, t.migration, snap, strict=True)):
        cells = "".join(_cell(m, vi, design_ix[dst.design], t.registered[i] and t.registered[j], si)
                        for j, (dst, vi, si) in enumerate(zip(t.stacks, line, sline, strict=True)))
        out.append(f'<tr data-r data-d="{design_ix[src.design]}"><th scope="row">kernel '
                   f"{escape(src.kernel.label)} &middot; QEMU {escape(src.qemu_label)} &middot; "
                   f"{escape(src.design)}</th>{cells}</tr>")
    out.append("</table></section>")
    return out


def _policy(m: Matrix, design_ix: dict[str, int]) -> list[str]:
    kernels, designs = m.space.kernels, m.space.designs
    head = ('<tr><th rowspan="2">VM on QEMU</th>'
            + "".join(f'<th scope="colgroup" colspan="{len(designs)}">kernel {escape(k.label)}</th>'
                      for k in kernels) + "</tr><tr>"
            + "".join(f'<th scope="col" data-d="{design_ix[d]}">{escape(d)}</th>'
                      for _ in kernels for d in designs) + "</tr>")
    out = []
    for guest in sorted({t.vm.guest for t in m.tables}, key=list(GUESTS).index):
        out.append(f'<section class="hm" data-guest="{escape(guest)}"><h3>guest {escape(guest)}</h3>')
        out.append(f'<table class="m" data-vm="power-on, guest {escape(guest)}" data-kind="policy">'
                   f"{head}")
        for t in (t for t in m.tables if t.vm.guest == guest):
            cells = {(s.kernel.label, s.qemu_label, s.design): (vi, ok)
                     for s, vi, ok in zip(t.stacks, t.policy, t.registered, strict=True)}
            words = vm_words(t).rsplit(", guest ", 1)[0]
            for q in dict.fromkeys(s.qemu_label for s in t.stacks):
                row = ""
                for k in kernels:
                    for d in designs:
                        vi, ok = cells[(k.label, q, d)]
                        v = m.verdicts[vi]
                        row += _cell(m, vi, design_ix[d], ok,
                                     extra=policy_code(v.get("policy"), v["outcome"]))
                out.append(f'<tr><th scope="row">{escape(words)} on QEMU {escape(q)}</th>{row}</tr>')
        out.append("</table></section>")
    return out


def index_html(m: Matrix) -> bytes:
    page = _Page(m)
    design_ix = page.designs
    guests = sorted({t.vm.guest for t in m.tables}, key=list(GUESTS).index)
    boxes = "".join(f'<label><input type="checkbox" class="design" value="{i}" checked> '
                    f"{escape(d)}</label> " for d, i in design_ix.items())
    t = m.tally()
    blocked = blocked_moves(m)
    pools = matrix_pools(m, blocked)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>SEOIB policy, migration and snapshot matrices</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>SEOIB policy, migration and snapshot matrices</h1>",
        f"<p>Generated by <code>seoib matrix</code> from rules digest <code>{m.digest[:16]}</code>. "
        f"{t['policy_cells']} power-on, {t['migration_cells']} live-migration and "
        f"{t['snapshot_cells']} snapshot-restore cells; {t['evaluations']} distinct class pairs, each "
        f"re-derived by the simulator ({t['validated']} validated, {t['disagreements']} "
        "disagreements).</p>",
        _legend(m),
        _panel(m),
        _pools(m, blocked, pools),
        '<h2 id="maps">Heat maps</h2><p>Hover or focus (Tab) a cell for its reasons and sources; '
        "Escape hides them.</p>",
        f'<div class="filters"><label>guest <select id="guest"><option value="all">all</option>'
        f"{_options(guests)}</select></label> designs: {boxes} "
        '<label>migration tables show <select id="hm-mode"><option value="live">live migration'
        '</option><option value="snapshot">snapshot restore (QMP loadvm)</option></select></label>'
        "</div>",
        "<h2>Power-on: outcome and policy</h2>",
        *_policy(m, design_ix),
        '<h2><span class="hm-what">Live migration</span> (rows: source stack, columns: '
        "destination stack)</h2>",
    ]
    for table in m.tables:
        if table.migration is not None:
            parts += _migration(m, table, design_ix)
    parts += ['<div id="tip" role="tooltip"></div>',
              f'<script type="application/json" id="data">{page.data(pools)}</script>',
              f"<script>{JS}</script>", "</body></html>"]
    return ("\n".join(parts) + "\n").encode()
