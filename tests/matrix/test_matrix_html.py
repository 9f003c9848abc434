"""index.html in a real headless Chromium: every cell rendered with its outcome, plus a screenshot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from matrix_support import FULL, SMALL  # noqa: F401 (fixtures)

from engine.matrix.build import Matrix
from engine.matrix.html_out import index_html
from engine.matrix.json_out import matrix_document
from engine.matrix.markdown import cell_code

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


def test_rendered_dom_has_every_cell_with_its_outcome(full_matrix: Matrix, tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_bytes(index_html(full_matrix))
    run = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    parser = _Cells()
    parser.feed(run.stdout)
    doc = matrix_document(full_matrix)
    assert len(parser.cells) == len(doc["policy"]) + len(doc["migration"])
    verdicts = doc["verdicts"]
    for cell in parser.cells:
        v = verdicts[int(cell["data-v"])]
        assert cell["text"].split(" ")[0] == cell_code(v["outcome"], v["severity"])
        assert cell["class"] == v["severity"], "colour follows severity"
        assert cell["tabindex"] == "0", "every cell is focusable for its tooltip"
    assert all(src == "" for src in parser.scripts), "self-contained: no external resources"
    assert "<div id=\"tip\" role=\"tooltip\"" in run.stdout


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
      document.body.setAttribute('data-result', JSON.stringify({tip: tip.textContent,
        title: td.title, described: td.getAttribute('aria-describedby'), guest: g.value,
        shown: shown, hiddenCells: hiddenCells}));
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


def test_screenshot(small_matrix: Matrix, tmp_path: Path) -> None:
    """A screenshot artifact (under SEOIB_SCREENSHOT_DIR if set, else the test's tmp dir)."""
    page = tmp_path / "index.html"
    page.write_bytes(index_html(small_matrix))
    out = Path(os.environ.get("SEOIB_SCREENSHOT_DIR", tmp_path)) / "matrix-index.png"
    run = _chromium(tmp_path, "--window-size=1400,1000", f"--screenshot={out}", page.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    assert out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
