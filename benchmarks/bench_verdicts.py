"""Class-pair migration verdicts: cached, uncached with simulation, whole class space.

Targets: cached class-pair verdict <= 5 us; uncached incl. its simulation
<= 2 ms; the full class space validated <= 5 s. Run: python benchmarks/bench_verdicts.py
"""

from __future__ import annotations

import os
import resource
import statistics
import time

from baseline import Baseline

from seoib.query.classes import ClassSolver, stack_classes, validate_space, vm_classes
from seoib.query.witness import _boot, _migrate
from seoib.rules.ruleset import load_rules
from seoib.sim.api import forget


def main() -> None:
    rs = load_rules()
    stacks = stack_classes(rs)
    vms = vm_classes(rs)
    src = next(s for s in stacks if s.design == "rfc-v2" and "7.0" in s.kernel.label
               and s.qemu == "11.0")
    dst = next(s for s in stacks if s.design == "rfc-v2" and "4.8" in s.kernel.label
               and s.qemu == "11.0")
    vm = next(v for v in vms if v.machine.machine == "pc-q35-11.0" and v.irqchip == "split"
              and v.guest == "any" and v.ioapic is None)

    solver = ClassSolver(rs)
    solver.migrate(src, dst, vm)
    n = 200_000
    t = time.perf_counter()
    for _ in range(n):
        solver.migrate(src, dst, vm)
    cached_us = (time.perf_counter() - t) / n * 1e6

    samples = []
    for _ in range(200):
        _migrate.cache_clear()
        forget()  # the simulator's kept boots and arrivals too: nothing of it is cached
        fresh = ClassSolver(rs)
        t = time.perf_counter()
        fresh.migrate(src, dst, vm)
        samples.append(time.perf_counter() - t)
    uncached_ms = statistics.median(samples) * 1e3

    timings, cpu = {}, {}
    load = os.getloadavg()[0]
    for jobs in ("1", "2"):
        _boot.cache_clear()
        _migrate.cache_clear()
        forget()
        os.environ["SEOIB_JOBS"] = jobs
        before = _cpu()
        t = time.perf_counter()
        tally = validate_space(rs, stacks, vms, "migrate")
        timings[jobs] = time.perf_counter() - t
        cpu[jobs] = _cpu() - before
        assert not tally.disagreements

    base = Baseline.measure()
    print(base.line())
    print(f"cached class-pair verdict:               {cached_us:8.2f} us  (target <= 5; "
          f"{base.of_loop(cached_us)})")
    print(f"uncached class-pair verdict + simulator: {uncached_ms:8.3f} ms  (target <= 2; "
          f"{base.of_loop(uncached_ms * 1e3)})")
    print(f"full live-migration class space, 2 cores: {timings['2']:7.2f} s   (target <= 5; "
          f"one core {timings['1']:.2f} s): {tally.cells:,} cells over {len(stacks)} stacks x "
          f"{len(vms)} VM classes, {tally.evaluations:,} class-pair evaluations, "
          f"{tally.validated:,} simulated, {len(tally.disagreements)} disagreements")
    # CPU seconds (the workers' included) do not move with other jobs on the machine.
    print(f"  CPU: 2 cores {cpu['2']:.2f} s, one core {cpu['1']:.2f} s "
          f"({cpu['1'] / tally.evaluations * 1e6:.0f} us per class pair); load average "
          f"{load:.2f} -> {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (forked workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
