"""index.html: one self-contained heat map page (inline CSS and JS, no network).

Every cell is a focusable table cell holding its outcome code, so the page
reads without colour and without script; the script only adds the tooltip
(reasons and sources, from one shared verdict table) and the filters.
"""

from __future__ import annotations

import json
from html import escape

from .build import Matrix, VMTable
from .json_out import _citations
from .markdown import _Ids, cell_code, policy_code
from .space import GUESTS

__all__ = ["index_html"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#111}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em}h3{font-size:1em;font-family:monospace}
table.m{border-collapse:collapse;margin:.4em 0 1em}
table.m th,table.m td{border:1px solid #999;padding:1px 4px;font:12px monospace;text-align:center;
white-space:nowrap}
table.m th{background:#eee;font-weight:normal}
td.ok{background:#c8ebc8}td.warn{background:#ffe08a}td.block{background:#f3a3a3}
td[data-v]:focus{outline:3px solid #000;outline-offset:-2px}
#tip{position:absolute;display:none;max-width:44em;background:#fff;border:1px solid #333;
padding:.5em .7em;box-shadow:2px 2px 6px #0004;font-size:12px;z-index:9}
#tip ul{margin:.3em 0;padding-left:1.2em}#tip .src{color:#555}
.filters{position:sticky;top:0;background:#fff;padding:.4em 0;border-bottom:1px solid #ccc}
.legend span{display:inline-block;padding:1px 6px;margin-right:.5em;border:1px solid #999}
[hidden]{display:none!important}
"""

_JS = """
(function(){
var V=JSON.parse(document.getElementById('verdicts').textContent);
var C=V.citations,tip=document.getElementById('tip');
function text(v){var s=v.outcome+' ('+v.severity+')';
 if(v.policy)s+='; policy '+v.policy;
 if(v.src_state)s+='; src '+v.src_state.policy;
 if(v.dst_state)s+='; dst '+v.dst_state.policy;
 return s;}
function show(td){var v=V.verdicts[+td.dataset.v];if(!v)return;
 var h='<b>'+esc(td.closest('table').dataset.vm)+'</b><br>'+esc(td.dataset.t||'')+
  '<br><b>'+text(v)+'</b><ul>';
 var plain=text(v);
 v.reasons.forEach(function(i){var c=C[i];
  h+='<li>'+esc(c.text)+' <span class="src">['+esc(c.rule)+' | '+esc(c.source)+
   ']</span></li>';
  plain+='\\n- '+c.text+' ['+c.rule+' | '+c.source+']';});
 h+='</ul>simulator: '+(v.witness.agrees?'agrees':'DISAGREES')+' ('+v.witness.outcome+')';
 tip.innerHTML=h;if(!td.title)td.title=plain;td.setAttribute('aria-describedby','tip');
 var r=td.getBoundingClientRect();tip.style.display='block';
 tip.style.left=(window.scrollX+Math.min(r.left,window.innerWidth-460))+'px';
 tip.style.top=(window.scrollY+r.bottom+4)+'px';}
var ENT={'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'};
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return ENT[c];});}
function hide(){tip.style.display='none';}
document.addEventListener('mouseover',function(e){
 var td=e.target.closest('td[data-v]');if(td)show(td);else hide();});
document.addEventListener('focusin',function(e){var td=e.target.closest('td[data-v]');if(td)show(td);});
document.addEventListener('keydown',function(e){if(e.key==='Escape')hide();});
function apply(){var g=document.getElementById('guest').value;
 var off=[];document.querySelectorAll('input.design').forEach(function(b){if(!b.checked)off.push(b.value);});
 document.querySelectorAll('section[data-guest]').forEach(function(s){s.hidden=(g!=='all'&&s.dataset.guest!==g);});
 document.querySelectorAll('[data-d]').forEach(function(el){el.hidden=off.indexOf(el.dataset.d)>=0;});
 hide();}
document.getElementById('guest').addEventListener('change',apply);
document.querySelectorAll('input.design').forEach(function(b){b.addEventListener('change',apply);});
})();
"""


def _cell(m: Matrix, vi: int, design: int, title: str) -> str:
    v = m.verdicts[vi]
    code = cell_code(v["outcome"], v["severity"])
    extra = policy_code(v.get("policy"), v["outcome"])
    return (f'<td tabindex="0" class="{v["severity"]}" data-v="{vi}" data-d="{design}" '
            f'data-t="{escape(title)}">{escape(code)}{" " + extra if extra else ""}</td>')


def _migration(m: Matrix, t: VMTable, ids: _Ids, design_ix: dict[str, int]) -> list[str]:
    assert t.migration is not None
    head = "".join(f'<th scope="col" data-d="{design_ix[s.design]}" title="{escape(s.label)}">'
                   f'{ids.stack[s.label]}</th>' for s in t.stacks)
    out = [f'<section data-guest="{escape(t.vm.guest)}"><h3>{escape(t.vm.label)}</h3>',
           f'<table class="m" data-vm="{escape(t.vm.label)}"><tr><th>src \\ dst</th>{head}</tr>']
    for src, line in zip(t.stacks, t.migration, strict=True):
        cells = "".join(_cell(m, vi, design_ix[dst.design],
                              f"{ids.stack[src.label]} -> {ids.stack[dst.label]}")
                        for dst, vi in zip(t.stacks, line, strict=True))
        out.append(f'<tr data-d="{design_ix[src.design]}"><th scope="row" '
                   f'title="{escape(src.label)}">{ids.stack[src.label]}</th>{cells}</tr>')
    out.append("</table></section>")
    return out


def _policy(m: Matrix, ids: _Ids, design_ix: dict[str, int]) -> list[str]:
    kernels, designs = m.space.kernels, m.space.designs
    head = "".join(f'<th scope="col" data-d="{design_ix[d]}">{ids.kernel[k.label]} {escape(d)}</th>'
                   for k in kernels for d in designs)
    out = []
    for guest in sorted({t.vm.guest for t in m.tables}, key=list(GUESTS).index):
        out.append(f'<section data-guest="{escape(guest)}"><h3>guest={escape(guest)}</h3>')
        out.append(f'<table class="m" data-vm="power-on, guest={escape(guest)}">'
                   f'<tr><th>VM</th><th>QEMU</th>{head}</tr>')
        for t in (t for t in m.tables if t.vm.guest == guest):
            cells = {(s.kernel.label, s.qemu_label, s.design): vi
                     for s, vi in zip(t.stacks, t.policy, strict=True)}
            for q in dict.fromkeys(s.qemu_label for s in t.stacks):
                row = "".join(_cell(m, cells[(k.label, q, d)], design_ix[d],
                                    f"{t.vm.label} on kernel {k.label} | QEMU {q} | {d}")
                              for k in kernels for d in designs)
                out.append(f'<tr><th scope="row">{escape(t.vm.label)}</th><td>{escape(q)}</td>'
                           f'{row}</tr>')
        out.append("</table></section>")
    return out


def index_html(m: Matrix) -> bytes:
    ids = _Ids(m)
    design_ix = {d: i for i, d in enumerate(m.space.designs)}
    citations, verdicts = _citations(m)
    data = json.dumps({"verdicts": verdicts, "citations": citations}, separators=(",", ":"))
    data = data.replace("</", "<\\/")  # never close the script element early
    guests = sorted({t.vm.guest for t in m.tables}, key=list(GUESTS).index)
    options = "".join(f'<option value="{escape(g)}">{escape(g)}</option>' for g in guests)
    boxes = "".join(f'<label><input type="checkbox" class="design" value="{i}" checked> '
                    f'{escape(d)}</label> ' for d, i in design_ix.items())
    kernels = "".join(f"<li>{i}: kernel {escape(lab)}</li>" for lab, i in ids.kernel.items())
    stacks = "".join(f"<li>{ids.stack[s.label]}: {escape(s.label)}</li>" for s in ids.stacks)
    t = m.tally()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>SEOIB policy and migration matrices</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>SEOIB policy and migration matrices</h1>",
        f"<p>Generated by <code>seoib matrix</code>. Rules digest <code>{m.digest}</code>. "
        f"Cells: {t['policy_cells']} policy, {t['migration_cells']} migration; evaluations "
        f"{t['evaluations']}, simulator-validated {t['validated']}, disagreements "
        f"{t['disagreements']}. Hover or focus (Tab) a cell for its reasons and sources.</p>",
        '<p class="legend">Severity: <span class="ok" style="background:#c8ebc8">ok: lowercase</span>'
        '<span style="background:#ffe08a">warn: trailing !</span>'
        '<span style="background:#f3a3a3">block: UPPERCASE</span> '
        "Policy letters: Q quirked, R respected, N not-advertised, - no KVM LAPIC.</p>",
        f'<div class="filters"><label>guest <select id="guest"><option value="all">all</option>'
        f"{options}</select></label> designs: {boxes}</div>",
        f"<details><summary>Kernel classes and stack ids</summary><ul>{kernels}</ul>"
        f"<ul>{stacks}</ul></details>",
        "<h2>Policy at power-on</h2>",
        *_policy(m, ids, design_ix),
        "<h2>Live migration (rows: source stack, columns: destination stack)</h2>",
    ]
    for table in m.tables:
        if table.migration is not None:
            parts += _migration(m, table, ids, design_ix)
    parts += ['<div id="tip" role="tooltip"></div>',
              f'<script type="application/json" id="verdicts">{data}</script>',
              f"<script>{_JS}</script>", "</body></html>"]
    return ("\n".join(parts) + "\n").encode()
