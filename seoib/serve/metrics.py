"""Prometheus metrics shared by every worker of the decision service.

Workers are forked from one supervisor, so counters live in an anonymous
shared mapping created before the fork: one row of 64-bit counters per worker
(no lock on the hot path: a worker only writes its own row) and one table of
series names (a lock only when a worker meets a series for the first time).
``/metrics`` from any worker sums all rows, so a scrape sees the whole service.

Series: ``seoib_requests_total{route,code}``, the histogram
``seoib_request_seconds{route}`` and ``seoib_verdicts_total{command,outcome,severity}``.
"""

from __future__ import annotations

import mmap
import multiprocessing as mp
import struct
from typing import Any

__all__ = ["BUCKETS", "Metrics"]

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOTS = 1024
_NAME = 160  # bytes per series name
_HELP = {
    "seoib_requests_total": ("counter", "HTTP requests by route and status code"),
    "seoib_request_seconds": ("histogram", "request latency in seconds, by route"),
    "seoib_verdicts_total": ("counter", "verdicts answered, by command, outcome and severity"),
}


class Metrics:
    """Counters in shared memory; create in the supervisor, then fork the workers."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._names = mmap.mmap(-1, _SLOTS * _NAME)
        self._counts = mmap.mmap(-1, workers * _SLOTS * 8)
        self._used = mp.get_context("fork").Value("i", 0)  # names in the table (and its lock)
        self._row = 0
        self._slot: dict[str, int] = {}

    def bind(self, worker: int) -> None:
        """Called in a worker after the fork: its own row of counters."""
        self._row = worker
        self._slot = {}

    def _slot_of(self, series: str) -> int | None:
        slot = self._slot.get(series)
        if slot is not None:
            return slot
        raw = series.encode()[:_NAME].ljust(_NAME, b"\0")
        with self._used.get_lock():
            used = self._used.value
            for i in range(used):
                if self._names[i * _NAME:(i + 1) * _NAME] == raw:
                    slot = i
                    break
            else:
                if used >= _SLOTS:
                    return None  # table full: drop the series rather than fail a request
                self._names[used * _NAME:(used + 1) * _NAME] = raw
                slot = used
                self._used.value = used + 1
        self._slot[series] = slot
        return slot

    def add(self, series: str, amount: int = 1) -> None:
        slot = self._slot_of(series)
        if slot is None:
            return
        at = (self._row * _SLOTS + slot) * 8
        (value,) = struct.unpack_from("q", self._counts, at)
        struct.pack_into("q", self._counts, at, value + amount)

    def request(self, route: str, code: int, seconds: float) -> None:
        self.add(f'seoib_requests_total{{route="{route}",code="{code}"}}')
        for le in BUCKETS:
            if seconds <= le:
                self.add(f'seoib_request_seconds_bucket{{route="{route}",le="{le}"}}')
                break
        self.add(f'seoib_request_seconds_count{{route="{route}"}}')
        self.add(f'seoib_request_seconds_sum_us{{route="{route}"}}', int(seconds * 1e6))

    def verdict(self, command: str, verdict: dict[str, Any]) -> None:
        if "error" in verdict:
            self.add(f'seoib_verdicts_total{{command="{command}",outcome="error",severity="error"}}')
            return
        self.add(f'seoib_verdicts_total{{command="{command}",outcome="{verdict["outcome"]}",'
                 f'severity="{verdict["severity"]}"}}')

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        used = self._used.value
        for i in range(used):
            name = self._names[i * _NAME:(i + 1) * _NAME].rstrip(b"\0").decode()
            out[name] = sum(struct.unpack_from("q", self._counts, (w * _SLOTS + i) * 8)[0]
                            for w in range(self.workers))
        return out

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        totals = self.totals()
        lines: list[str] = []
        for metric, (kind, text) in _HELP.items():
            lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]
            if kind == "counter":
                lines += [f"{k} {v}" for k, v in sorted(totals.items())
                          if k.startswith(metric + "{")]
                continue
            routes = sorted({k.split('route="', 1)[1].split('"', 1)[0] for k in totals
                             if k.startswith(metric + "_count{")})
            for route in routes:
                running = 0
                for le in BUCKETS:
                    running += totals.get(f'{metric}_bucket{{route="{route}",le="{le}"}}', 0)
                    lines.append(f'{metric}_bucket{{route="{route}",le="{le}"}} {running}')
                count = totals.get(f'{metric}_count{{route="{route}"}}', 0)
                lines.append(f'{metric}_bucket{{route="{route}",le="+Inf"}} {count}')
                lines.append(f'{metric}_count{{route="{route}"}} {count}')
                micros = totals.get(f'{metric}_sum_us{{route="{route}"}}', 0)
                lines.append(f'{metric}_sum{{route="{route}"}} {micros / 1e6:.6f}')
        return "\n".join(lines) + "\n"
