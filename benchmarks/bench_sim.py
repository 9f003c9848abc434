"""Simulator speed: interrupt events per second and one boot+100+migrate+100 cycle.

Run as a plain script: ``python benchmarks/bench_sim.py``. Targets: at least
200,000 simulated interrupt events per second and at most 2 ms per cycle.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# A plain script: make the repository importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseline import Baseline

from seoib.sim import SimHost, SimVM, simulate_boot, simulate_migration
from seoib.sim.api import forget
from seoib.sim.session import Session

PATCHED = SimHost(name="patched", seoib="rfc-v2", x2apic_api=0xF)
OLD = SimHost(name="old", seoib="none", x2apic_api=0x3)


def events_per_second(host: SimHost, vm: SimVM, events: int = 200_000) -> tuple[float, float]:
    """Device events and IOAPIC deliveries per second on one booted VM."""
    s = Session(host, vm)
    s.boot()
    start = time.perf_counter()
    s.irqs(events)
    elapsed = time.perf_counter() - start
    return events / elapsed, s.counters()["deliveries"] / elapsed


def cycle_ms(host: SimHost, dst: SimHost, vm: SimVM, runs: int = 300) -> float:
    """Median time of cold boot, 100 events, live migration, 100 events."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        s = Session(host, vm)
        s.boot()
        s.irqs(100)
        s.migrate(dst)
        s.irqs(100)
        s.outcome()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def api_ms(fn: Callable[..., object], *args: object, runs: int = 300) -> float:
    """Median time of one public API call, each from nothing (the kept boots and arrivals
    are dropped first: a repeated call would otherwise time a lookup)."""
    times = []
    for _ in range(runs):
        forget()
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    """Print the figures."""
    base = Baseline.measure()
    print(base.line())
    for label, host, vm in (
        ("linux, split, respected", PATCHED, SimVM(guest="linux")),
        ("windows-hyperv, split, respected (EOIR path)", PATCHED, SimVM(guest="windows-hyperv")),
        ("windows-hyperv, split, quirked (storm path)", OLD, SimVM(guest="windows-hyperv")),
    ):
        events = 200_000 if "storm" not in label else 10_000
        per_s, deliveries = events_per_second(host, vm, events)
        print(f"{label:48s} {per_s:>12,.0f} events/s {deliveries:>12,.0f} deliveries/s")
    for label, vm in (
        ("windows-hyperv", SimVM(guest="windows-hyperv")),
        ("linux", SimVM(guest="linux")),
        ("any (4 guests)", SimVM(guest="any")),
    ):
        print(f"boot+100+migrate+100, {label:16s} {cycle_ms(PATCHED, PATCHED, vm):8.3f} ms (median)")
    boot_ms = api_ms(simulate_boot, PATCHED, SimVM())
    mig_ms = api_ms(simulate_migration, PATCHED, PATCHED, SimVM())
    print(f"simulate_boot(irqs=8), any          {boot_ms:8.3f} ms ({base.of_loop(boot_ms * 1e3)})")
    print(f"simulate_migration(irqs=8), any     {mig_ms:8.3f} ms ({base.of_loop(mig_ms * 1e3)})")


if __name__ == "__main__":
    main()
