"""Same-run baselines, so a benchmark's figure reads as a ratio on a shared machine.

Two units, measured in the run that uses them: the interpreter's start (a bare
``python -c pass``, the floor of every process we time) and a reference loop (a fixed
pure-Python workload shaped like ours - build a small verdict-like dict, sort its
items, encode it as JSON - timed in-process). A machine twice as busy doubles both
and the figure, not the ratio. Benchmarks that time another program (Chromium,
QEMU) bring their own baseline: that program doing nothing.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

__all__ = ["Baseline", "ratio"]


def _start_ms(runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def _reference_us(reps: int = 2000, rounds: int = 5) -> float:
    """Microseconds per iteration of the reference workload (median of ``rounds``)."""
    per = []
    for _ in range(rounds):
        t = time.perf_counter()
        for i in range(reps):
            doc = {"outcome": "ok", "policy": "respected", "kvm_flags": i & 3,
                   "facts": {f"vm.f{k}": (i + k) % 3 for k in range(8)}}
            json.dumps([*sorted(doc["facts"].items()), doc["outcome"]])
        per.append((time.perf_counter() - t) / reps * 1e6)
    return statistics.median(per)


class Baseline:
    """The two units of this run and the load average when they were taken."""

    def __init__(self, start_ms: float, reference_us: float, load: float) -> None:
        self.start_ms, self.reference_us, self.load = start_ms, reference_us, load

    @classmethod
    def measure(cls, runs: int = 7) -> Baseline:
        return cls(_start_ms(runs), _reference_us(), os.getloadavg()[0])

    def line(self) -> str:
        return (f"baseline (same run): `python -c pass` {self.start_ms:.1f} ms, reference loop "
                f"{self.reference_us:.2f} us; load {self.load:.2f} on {os.cpu_count()} cores")

    def of_start(self, ms: float) -> str:
        return f"{ms / self.start_ms:.1f}x python -c pass"

    def of_loop(self, us: float) -> str:
        return f"{us / self.reference_us:,.1f}x the reference loop"


def ratio(figure: float, base: float, unit: str) -> str:
    """``figure`` as a multiple of ``base`` (a baseline of the benchmark's own)."""
    return f"{figure / base:.2f}x {unit}" if base else f"- (no {unit})"
