"""index.html in a real headless Chromium: the query panel answers typed queries, every
heat-map cell is rendered with its outcome (n/a where the QEMU lacks the machine type), and
the panel and the legend are on the first screen at 1400x1000 (with a screenshot)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from matrix_support import FULL, SMALL  # noqa: F401 (fixtures)

from seoib.matrix.build import Matrix, VMTable
from seoib.matrix.html_out import index_html
from seoib.matrix.json_out import matrix_document
from seoib.matrix.markdown import cell_code

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(Debian: apt-get install -y chromium)")


class _Cells(HTMLParser):
    """Collects every verdict cell: its attributes and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.scripts: list[str] = []
        self._in: dict[str, str] | None = None
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "td" and "data-v" in a:
            self._in = {**a, "text": ""}
        if tag == "script":
            self._script = True
            self.scripts.append(a.get("src", ""))
        if tag in ("link", "img", "iframe") and (a.get("href") or a.get("src", "")).startswith("http"):
            self.scripts.append(a.get("href") or a.get("src", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._in is not None:
            self.cells.append(self._in)
            self._in = None
        if tag == "script":
            self._script = False

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._in["text"] += data


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    return subprocess.run([CHROMIUM or "chromium", *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=False)


def _probe(tmp_path: Path, html: str, script: str, *args: str) -> dict[str, Any]:
    """Load ``html`` with ``script`` run after load; return the JSON it stored in the DOM."""
    page = tmp_path / "index.html"
    probe = ("<script>window.addEventListener('load', function(){var R=(function(){" + script +
             "})();document.body.setAttribute('data-result', JSON.stringify(R));});</script></body>")
    page.write_text(html.replace("</body>", probe))
    run = _chromium(tmp_path, *args, "--dump-dom", page.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    marker = 'data-result="'
    raw = run.stdout[run.stdout.index(marker) + len(marker):]
    raw = raw[:raw.index('"')].replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return json.loads(raw.replace("&amp;", "&"))


def test_rendered_dom_has_every_cell_with_its_outcome(full_matrix: Matrix, tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_bytes(index_html(full_matrix))
    run = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    parser = _Cells()
    parser.feed(run.stdout)
    doc = matrix_document(full_matrix)
    assert len(parser.cells) == len(doc["policy"]) + len(doc["migration"])
    assert sum("data-s" in c for c in parser.cells) == len(doc["snapshot"]), \
        "every migration cell carries its snapshot verdict"
    verdicts = doc["verdicts"]
    na = 0
    for cell in parser.cells:
        v = verdicts[int(cell["data-v"])]
        assert cell["tabindex"] == "0", "every cell is focusable for its tooltip"
        if cell["class"] == "na":
            assert cell["text"] == "n/a"
            na += 1
            continue
        assert cell["text"].split(" ")[0] == cell_code(v["outcome"], v["severity"])
        assert cell["class"] == v["severity"], "colour follows severity"
    unregistered = {k: set(vm["unregistered"]) for k, vm in enumerate(doc["vms"])}
    want = sum(c["host"] in unregistered[c["vm"]] for c in doc["policy"]) + sum(
        bool({c["src"], c["dst"]} & unregistered[c["vm"]]) for c in doc["migration"])
    assert na == want > 0, "machine types a QEMU does not register are n/a, nothing else"
    assert all(src == "" for src in parser.scripts), "self-contained: no external resources"
    assert "<div id=\"tip\" role=\"tooltip\"" in run.stdout
    assert 'id="answer" role="status" aria-live="polite"' in run.stdout


def _typed(release_range: str) -> str:
    """A release a person would type for a kernel-class member: 6.18.0..6.18.16 -> 6.18.16."""
    return release_range.split("..")[-1].rstrip("+")


def _query_cell(m: Matrix) -> tuple[VMTable, int, int]:
    """A snapshot cell that differs from the live cell of the same move, on a split VM."""
    for t in m.tables:
        if t.snapshot is None or t.migration is None or t.vm.irqchip != "split":
            continue
        for i, src in enumerate(t.stacks):
            for j, dst in enumerate(t.stacks):
                live, snap = (m.verdicts[t.migration[i][j]], m.verdicts[t.snapshot[i][j]])
                if (t.registered[i] and t.registered[j] and src.kernel != dst.kernel
                        and live["outcome"] != snap["outcome"]):
                    return t, i, j
    raise AssertionError("no snapshot cell differs from its live cell")


_TYPE = """
function type(id, value){var el=document.getElementById(id);el.focus();el.value=value;
 el.dispatchEvent(new Event('input',{bubbles:true}));el.dispatchEvent(new Event('change',{bubbles:true}));}
function pick(id, text){var el=document.getElementById(id);
 for(var i=0;i<el.options.length;i++)if(el.options[i].text===text)el.selectedIndex=i;
 el.dispatchEvent(new Event('change',{bubbles:true}));}
function ask(q){type('q-sk',q.sk);pick('q-sq',q.sq);pick('q-sd',q.sd);type('q-dk',q.dk);pick('q-dq',q.dq);
 pick('q-dd',q.dd);type('q-machine',q.machine);pick('q-irqchip',q.irqchip);pick('q-ioapic',q.ioapic);
 pick('q-guest',q.guest);pick('q-mode',q.mode);var a=document.getElementById('answer');
 var h=a.querySelector('.head');return {head:h?h.textContent:'',cls:h?h.className:'',text:a.textContent};}
"""


def test_query_panel_answers_a_typed_query(full_matrix: Matrix, tmp_path: Path) -> None:
    """Type stacks and a VM into the panel, read the verdict it computes from the cells."""
    m = full_matrix
    t, i, j = _query_cell(m)
    src, dst = t.stacks[i], t.stacks[j]
    query = {"sk": _typed(src.kernel.members[-1]), "sq": src.qemus[-1], "sd": src.design,
             "dk": _typed(dst.kernel.members[0]), "dq": dst.qemus[0], "dd": dst.design,
             "machine": t.vm.machine.members[0], "irqchip": t.vm.irqchip or "default",
             "ioapic": t.vm.ioapic or "default", "guest": t.vm.guest}
    # The n/a case: a machine type on a QEMU that does not register it, as the source.
    na_t, na_i = next((x, k) for x in m.tables if x.migration is not None
                      for k, ok in enumerate(x.registered) if not ok)
    na_src = na_t.stacks[na_i]
    na_query = {**query, "sk": na_src.kernel.release, "sq": na_src.qemus[0], "sd": na_src.design,
                "machine": na_t.vm.machine.members[-1], "irqchip": na_t.vm.irqchip or "default",
                "ioapic": na_t.vm.ioapic or "default", "guest": na_t.vm.guest, "mode": "live"}
    script = _TYPE + "return [" + ",".join(
        f"ask({json.dumps(q)})" for q in (
            {**query, "mode": "live migration"},
            {**query, "mode": "snapshot restore (QMP loadvm)"},
            {**na_query, "mode": "live migration"},
            {**query, "sk": "not-a-kernel", "mode": "live migration"})) + "];"
    live, snap, na, bad = _probe(tmp_path, index_html(m).decode(), script)
    from seoib.query.api import Engine

    engine = Engine()
    vm = t.vm.spec()
    vm_text = ",".join(f"{k}={v}" for k, v in (("machine", query["machine"]), ("irqchip", vm.irqchip),
                                                ("ioapic", vm.ioapic), ("guest", vm.guest)) if v)
    for got, grid, snapshot in ((live, t.migration, False), (snap, t.snapshot, True)):
        assert grid is not None
        v = m.verdicts[grid[i][j]]
        assert f": {v['outcome']} " in got["head"], (got["head"], v["outcome"])
        assert v["severity"] in got["cls"]
        # The reasons of the stacks typed (a class member), as the command line gives them.
        typed = engine.migrate(f"kernel={query['sk']},qemu={query['sq']},seoib={query['sd']}",
                               f"kernel={query['dk']},qemu={query['dq']},seoib={query['dd']}",
                               vm_text, snapshot=snapshot)
        assert typed["outcome"] == v["outcome"]
        for r in typed["reasons"]:
            assert r["rule"] in got["text"] and r["text"] in got["text"], ("reasons with sources", r)
        assert "Simulator: agrees" in got["text"]
    assert live["head"].startswith("live migration") and snap["head"].startswith("snapshot restore")
    assert "--snapshot" in snap["text"] and "--snapshot" not in live["text"]
    assert "Pools: the source stack is in pool " in live["text"]
    assert na["head"].startswith("n/a") and "na" in na["cls"].split(), na["head"]
    assert bad["head"].startswith("Not in this matrix") and "not-a-kernel" in bad["head"]


def test_first_screen_shows_the_panel_and_the_legend(full_matrix: Matrix, tmp_path: Path) -> None:
    """At 1400x1000 the legend, the form and the verdict are above the fold; a screenshot too.

    The screenshot lands in SEOIB_SCREENSHOT_DIR if set, else in the test's tmp dir.
    """
    html = index_html(full_matrix).decode()
    script = """var out={};['legend','q-form','answer','pools'].forEach(function(id){
      var r=document.getElementById(id).getBoundingClientRect();out[id]=[r.top,r.bottom];});
      out.head=document.querySelector('#answer .head').getBoundingClientRect().bottom;
      out.height=window.innerHeight;return out;"""
    box = _probe(tmp_path, html, script, "--window-size=1400,1000")
    assert box["height"] <= 1000
    assert box["legend"][1] < box["q-form"][0], "the legend comes before the panel"
    assert box["q-form"][1] < box["height"] and box["head"] < box["height"]
    assert box["pools"][0] > box["answer"][0], "then the pools"
    out = Path(os.environ.get("SEOIB_SCREENSHOT_DIR", tmp_path)) / "matrix-index.png"
    page = tmp_path / "shot.html"
    page.write_text(html)
    run = _chromium(tmp_path, "--window-size=1400,1000", f"--screenshot={out}", page.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    assert out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tooltip_and_filters_work_in_the_browser(small_matrix: Matrix, tmp_path: Path) -> None:
    """Focus a cell and filter by guest and design, then read the DOM the script left."""
    page = tmp_path / "index.html"
    html = index_html(small_matrix).decode()
    probe = """<script>
    window.addEventListener('load', function(){
      var td=document.querySelector('section table.m td[data-v]');td.focus();
      var tip=document.getElementById('tip');
      var g=document.getElementById('guest');g.value=g.options[1].value;
      g.dispatchEvent(new Event('change'));
      var box=document.querySelector('input.design');box.checked=false;
      box.dispatchEvent(new Event('change'));
      var shown=[].filter.call(document.querySelectorAll('section[data-guest]'),
        function(s){return !s.hidden;}).map(function(s){return s.dataset.guest;});
      var hiddenCells=document.querySelectorAll('td[data-d="'+box.value+'"][hidden]').length;
      var V=JSON.parse(document.getElementById('data').textContent);
      var mode=document.getElementById('hm-mode');mode.value='snapshot';
      mode.dispatchEvent(new Event('change'));
      var swapped=[].filter.call(document.querySelectorAll('td[data-s]:not(.na)'),function(c){
        return c.textContent!==V.codes[+c.dataset.s];}).length;
      document.body.setAttribute('data-result', JSON.stringify({tip: tip.textContent,
        title: td.title, described: td.getAttribute('aria-describedby'), guest: g.value,
        shown: shown, hiddenCells: hiddenCells, swapped: swapped}));
    });</script></body>"""
    page.write_text(html.replace("</body>", probe))
    run = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    marker = 'data-result="'
    raw = run.stdout[run.stdout.index(marker) + len(marker):]
    raw = raw[:raw.index('"')].replace("&quot;", '"').replace("&amp;", "&")
    result = json.loads(raw)
    assert result["described"] == "tip"
    assert "simulator: agrees" in result["tip"] and "[" in result["tip"], "reasons with sources"
    assert "\n- " in result["title"], "the title carries the reasons too (plain text)"
    assert set(result["shown"]) == {result["guest"]}
    assert result["hiddenCells"] > 0
    assert result["swapped"] == 0, "the snapshot view shows every cell's loadvm verdict"


def _panel_query(sk: str, sq: str, sd: str, dk: str, dq: str, dd: str, machine: str,
                 irqchip: str = "default", guest: str = "any", mode: str = "live migration"
                 ) -> dict[str, str]:
    return {"sk": sk, "sq": sq, "sd": sd, "dk": dk, "dq": dq, "dd": dd, "machine": machine,
            "irqchip": irqchip, "ioapic": "default", "guest": guest, "mode": mode}


def test_query_panel_resolves_what_the_cli_resolves(full_matrix: Matrix, tmp_path: Path) -> None:
    """Aliases, distribution kernels and downstream machine types typed into the panel give
    the command line's verdict, and the explanation names the stack that was typed."""
    from seoib.query.api import Engine

    queries = [
        # Debian 12 to Fedora's 7.0 on Debian's QEMU, the q35 alias
        _panel_query("6.1.0-28-amd64", "7.2", "none", "7.0.3-200.fc43.x86_64", "7.2", "none",
                     "q35", "split"),
        # a respected VM to a Debian kernel (judged without the flags)
        _panel_query("7.0.3-200.fc43.x86_64", "11.0", "rfc-v2", "6.1.0-28-amd64", "11.0", "rfc-v2",
                     "q35", "split"),
        # one stable release short of the backport, on a range's first release
        _panel_query("7.0.3", "10.1", "rfc-v2", "6.18.16", "10.1", "rfc-v2", "pc-q35-7.2", "split"),
        # a 6.18 release past the backport: its own path (6.18.17), not 7.0's
        _panel_query("7.0.3", "11.0", "rfc-v2", "6.18.20", "11.0", "rfc-v2", "q35", "split"),
        # the pc alias and a Proxmox kernel; a RHEL machine type on RHEL 9.6's QEMU
        _panel_query("6.8.12-4-pve", "7.2", "none", "6.18.44-fc-v1300", "7.2", "none", "pc"),
        _panel_query("5.14.0-503.15.1.el9_5.x86_64", "9.1", "none", "6.12.0-55.el10.x86_64", "9.1",
                     "none", "pc-q35-rhel9.6.0", "split", "windows-hyperv"),
    ]
    script = _TYPE + "return [" + ",".join(f"ask({json.dumps(q)})" for q in queries) + "];"
    answers = _probe(tmp_path, index_html(full_matrix).decode(), script)
    engine = Engine()
    for q, got in zip(queries, answers, strict=True):
        vm = f"machine={q['machine']},guest={q['guest']}" + \
            (f",irqchip={q['irqchip']}" if q["irqchip"] != "default" else "")
        want = engine.migrate(f"kernel={q['sk']},qemu={q['sq']},seoib={q['sd']}",
                              f"kernel={q['dk']},qemu={q['dq']},seoib={q['dd']}", vm)
        assert not got["head"].startswith("Not in this matrix"), got["head"]
        if got["head"].startswith("This VM class has power-on cells only"):
            assert q["machine"] == "pc-q35-rhel9.6.0"  # a machine class without a migration table
            assert "pc-q35-rhel9.6.0 is a rhel machine type following upstream pc-q35-9.1" in got["text"]
            continue
        assert f": {want['outcome']} " in got["head"], (q, got["head"], want["outcome"])
        for r in want["reasons"]:
            if not r["rule"].startswith("kernel.distribution."):  # a cell cites its class's data
                assert r["text"] in got["text"], (q, r)
        assert f"kernel={q['sk']},qemu={q['sq']}" in got["text"], "the command line as typed"
    debian = "[inferred] kernel 6.1.0-28-amd64 is a distribution build (debian) of series 6.1"
    assert debian in answers[0]["text"]
    assert "kernel 6.19.0" not in answers[2]["text"] and "kernel 6.18.16:" in answers[2]["text"]
    assert "kernel.seoib-flags-6.18.17" in answers[3]["text"]
    assert "alias pc resolves to pc-i440fx-7.2 on QEMU 7.2" in answers[4]["text"]
