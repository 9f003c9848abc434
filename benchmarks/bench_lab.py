"""Time `seoib lab`: the whole lab for one binary, and the CI subset, against their budgets.

A script, not a test: ``python benchmarks/bench_lab.py [QEMU ...]`` (default: the
installed qemu-system-x86_64). For each binary it runs every machine type (budget
300 s on a 2-core machine), then the CI subset - the newest q35 type of the first
binary, as tests/lab/test_live.py runs it (budget 60 s) - and prints the runs, the
seconds, the runs per second and the load average before and after, so a figure can be
read against how busy the machine was. Exit 1 when a budget is exceeded.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seoib.lab.binary import describe_binary
from seoib.lab.plan import select_machines
from seoib.lab.run import run_lab

WHOLE_BUDGET = 300.0
CI_BUDGET = 60.0


def _newest_q35(binary: str) -> str:
    names = select_machines(describe_binary(binary), ["pc-q35-*"])
    return max(names, key=lambda m: tuple(int(x) for x in m.removeprefix("pc-q35-").split(".")))


def bare_start_seconds(binary: str, runs: int = 5) -> float:
    """The same-run baseline: the binary started with no machine and told to quit (median)."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([binary, "-machine", "none", "-nodefaults", "-display", "none", "-monitor", "stdio"],
                       input=b"quit\n", capture_output=True, check=False, timeout=60)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _time(label: str, qemu: list[str], machines: list[str], budget: float) -> bool:
    load = os.getloadavg()
    start = time.perf_counter()
    report = run_lab(qemu, machines=machines)
    seconds = time.perf_counter() - start
    s = report.summary()
    ok = seconds <= budget
    bare = bare_start_seconds(qemu[0])
    per_run = seconds / max(s["observations"], 1)
    print(f"{label}: {s['observations']} runs in {seconds:.1f} s ({s['observations'] / seconds:.1f}/s, "
          f"{per_run * 1e3:.0f} ms a run = {per_run / bare:.1f}x a bare start-and-quit of the binary, "
          f"{bare * 1e3:.0f} ms), "
          f"{s['agree']} agree, {s['disagree']} disagree, {s['inconclusive']} inconclusive; budget "
          f"{budget:.0f} s {'met' if ok else 'EXCEEDED'}; load {load[0]:.2f} -> {os.getloadavg()[0]:.2f}")
    return ok


def main(argv: list[str]) -> int:
    binaries = argv or [shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"]
    ok = True
    for binary in binaries:
        ok &= _time(f"whole lab, {binary}", [binary], [], WHOLE_BUDGET)
    ok &= _time(f"CI subset, {binaries[0]}", [binaries[0]], [_newest_q35(binaries[0])], CI_BUDGET)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
