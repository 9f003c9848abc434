"""Benchmark matrix/index.html in headless Chromium: first paint and the query panel's answer.

Run: python benchmarks/bench_page.py [PAGE]   (default: matrix/index.html)

Loads the page once per run (three runs) with a probe that reads the Paint
Timing entries (first-paint, first-contentful-paint), the load event and the
time the panel needs to answer one query; prints the median of each in ms.
Target: first paint < 1000 ms at the committed matrix's size.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

# Paint entries may arrive after the load event: poll for them (up to 3 s); the
# virtual time budget lets Chromium run those timers before it dumps the DOM.
PROBE = """<script>window.addEventListener('load',function(){var tries=0;(function poll(){
if(!performance.getEntriesByType('paint').length&&tries++<60){setTimeout(poll,50);return;}
var p={};performance.getEntriesByType('paint').forEach(function(e){p[e.name]=e.startTime;});
var n=performance.getEntriesByType('navigation')[0];
var t0=performance.now(),el=document.getElementById('q-sk'),answer=null;
if(el){el.dispatchEvent(new Event('input'));answer=performance.now()-t0;}
document.body.setAttribute('data-bench',JSON.stringify({paint:p,load:n.loadEventStart,
 dcl:n.domContentLoadedEventEnd,answer:answer}));})();});</script></body>"""


def run_once(chromium: str, page: Path, work: Path) -> dict:
    probe = work / "page.html"
    probe.write_text(page.read_text().replace("</body>", PROBE))
    out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={work / 'profile'}", "--window-size=1400,1000",
                          "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    raw = out[out.index('data-bench="') + 12:]
    return json.loads(raw[:raw.index('"')].replace("&quot;", '"'))


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed (Debian: apt-get install -y chromium)")
        return 1
    page = Path(sys.argv[1] if len(sys.argv) > 1 else "matrix/index.html")
    runs, blank_runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        # The same-run baseline: this Chromium painting an empty page with the same probe.
        blank = Path(tmp) / "blank.html"
        blank.write_text("<!doctype html><html><body><p>.</p></body></html>")
        for _ in range(3):
            blank_runs.append(run_once(chromium, blank, Path(tmp)))
            runs.append(run_once(chromium, page, Path(tmp)))

    def med(get: Callable[[dict], float], of: list[dict] = runs) -> float:
        return statistics.median(get(r) for r in of)

    def paint(r: dict, n: str) -> float:
        return float(r["paint"].get(n, float("nan")))

    print(f"{page}: {page.stat().st_size / 1e6:.2f} MB")
    for name in ("first-paint", "first-contentful-paint"):
        ms, base = med(lambda r, n=name: paint(r, n)), med(lambda r, n=name: paint(r, n), blank_runs)
        print(f"  {name}: {ms:.0f} ms (an empty page: {base:.0f} ms, {ms / base:.1f}x)")
    load, base_load = med(lambda r: r["load"]), med(lambda r: r["load"], blank_runs)
    print(f"  DOMContentLoaded: {med(lambda r: r['dcl']):.0f} ms, load: {load:.0f} ms "
          f"(an empty page: {base_load:.0f} ms)")
    if all(r["answer"] is not None for r in runs):
        print(f"  query panel answer: {med(lambda r: r['answer']):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
