"""Prometheus metrics of the decision service, through prometheus_client in multiprocess mode.

The supervisor makes a private directory (``PROMETHEUS_MULTIPROC_DIR``) before it
forks the workers; each worker writes its samples there, and a scrape of
``/metrics`` on any worker sums every worker's (a dead worker's counters stay
counted; its gauges go with it). Series:

- ``seoib_build_info{version,python}`` (1), ``seoib_rules_info{digest}`` (1 for the
  rule set in service);
- ``seoib_requests_total{route,code}``, the histogram ``seoib_request_seconds{route}``,
  ``seoib_requests_in_flight``, ``seoib_refusals_total{reason}`` (budgets, limits,
  authentication), ``seoib_verdicts_total{command,outcome,severity}``,
  ``seoib_rule_reloads_total{result}``, ``seoib_decision_log_errors_total``;
- per worker (``pid`` label): ``process_resident_memory_bytes``,
  ``process_virtual_memory_bytes``, ``process_open_fds``, ``process_max_fds``,
  ``process_start_time_seconds``; ``process_cpu_seconds_total`` summed over the
  workers, gone ones included. prometheus_client's own process collector cannot
  run in multiprocess mode, so each worker samples itself (every few seconds and
  at a scrape) into these gauges.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

__all__ = ["BUCKETS", "ServiceMetrics", "mark_dead"]

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def mark_dead(pid: int) -> None:
    """A worker is gone: drop its live gauges (the supervisor calls this)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


class ServiceMetrics:
    """One worker's metrics; build after the fork, with PROMETHEUS_MULTIPROC_DIR set."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        from .. import __version__

        # Not in the default registry (whose process collector cannot run in multiprocess
        # mode): the samples go to the multiprocess files, read back by render().

        self.requests = Counter("seoib_requests", "HTTP requests by route and status code",
                                ["route", "code"], registry=None)
        self.seconds = Histogram("seoib_request_seconds", "request latency in seconds, by route",
                                 ["route"], buckets=BUCKETS, registry=None)
        self.in_flight = Gauge("seoib_requests_in_flight", "requests being answered",
                               multiprocess_mode="livesum", registry=None)
        self.refusals = Counter("seoib_refusals", "requests refused by a budget, a limit or "
                                "authentication, by reason", ["reason"], registry=None)
        self.verdicts = Counter("seoib_verdicts", "verdicts answered, by command, outcome and severity",
                                ["command", "outcome", "severity"], registry=None)
        self.reloads = Counter("seoib_rule_reloads", "rule set reloads by result", ["result"],
                               registry=None)
        self.log_errors = Counter("seoib_decision_log_errors", "decision log records that could not "
                                  "be written", registry=None)
        build = Gauge("seoib_build_info", "the running seoib-engine", ["version", "python"],
                      multiprocess_mode="liveall", registry=None)
        build.labels(__version__, ".".join(map(str, sys.version_info[:3]))).set(1)
        self._rules = Gauge("seoib_rules_info", "the rule set in service (1), by digest", ["digest"],
                            multiprocess_mode="livemax", registry=None)
        self._digest: str | None = None
        pid = str(os.getpid())
        gauge: Any = Gauge
        self._process = {name: gauge(name, text, ["pid"], multiprocess_mode="liveall",
                                     registry=None).labels(pid)
                         for name, text in (
                             ("process_resident_memory_bytes", "resident memory size in bytes"),
                             ("process_virtual_memory_bytes", "virtual memory size in bytes"),
                             ("process_open_fds", "open file descriptors"),
                             ("process_max_fds", "maximum number of open file descriptors"),
                             ("process_start_time_seconds", "start time since the epoch, seconds"))}
        self._cpu = Gauge("process_cpu_seconds_total", "user and system CPU time, seconds, summed "
                          "over the workers", multiprocess_mode="sum", registry=None)
        self._children: dict[tuple[str, int], Any] = {}
        self._verdict_children: dict[tuple[str, str, str], Any] = {}
        self._hist: dict[str, Any] = {}
        self._boot = _boot_time()
        self.sample_process()

    def rules(self, digest: str) -> None:
        if self._digest is not None:
            self._rules.labels(self._digest).set(0)
        self._digest = digest
        self._rules.labels(digest).set(1)

    def request(self, route: str, code: int, seconds: float) -> None:
        child = self._children.get((route, code))
        if child is None:
            child = self._children[(route, code)] = self.requests.labels(route, str(code))
        child.inc()
        hist = self._hist.get(route)
        if hist is None:
            hist = self._hist[route] = self.seconds.labels(route)
        hist.observe(seconds)

    def verdict(self, command: str, verdict: dict[str, Any]) -> None:
        key = (command, "error", "error") if "error" in verdict else \
            (command, verdict["outcome"], verdict["severity"])
        child = self._verdict_children.get(key)
        if child is None:
            child = self._verdict_children[key] = self.verdicts.labels(*key)
        child.inc()

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    def sample_process(self) -> None:
        """This worker's process figures, from /proc (Linux; elsewhere nothing)."""
        try:
            with open("/proc/self/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            with open("/proc/self/limits", "rb") as fh:
                limits = fh.read()
            fds = len(os.listdir("/proc/self/fd"))
        except OSError:
            return
        utime, stime, start = int(fields[11]), int(fields[12]), int(fields[19])
        vsize, rss = int(fields[20]), int(fields[21]) * _PAGE
        p = self._process
        p["process_resident_memory_bytes"].set(rss)
        p["process_virtual_memory_bytes"].set(vsize)
        p["process_open_fds"].set(fds)
        p["process_start_time_seconds"].set(self._boot + start / _TICK)
        for line in limits.splitlines():
            if line.startswith(b"Max open files"):
                p["process_max_fds"].set(float(line.split()[3]))
        self._cpu.set((utime + stime) / _TICK)

    def render(self) -> bytes:
        """Every worker's samples, in the text exposition format."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        self.sample_process()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


def _boot_time() -> float:
    try:
        with open("/proc/stat", "rb") as fh:
            for line in fh:
                if line.startswith(b"btime"):
                    return float(line.split()[1])
    except OSError:
        pass
    return time.time() - time.monotonic()
