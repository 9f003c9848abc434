"""Rules load/compile, warm in-process queries and the cold `seoib policy` process.

Targets: load + compile <= 100 ms; warm policy query <= 20 us; cold process
<= 150 ms median. Run: python benchmarks/bench_rules.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from baseline import Baseline

from seoib.paths import builtin_rules_dir
from seoib.query.api import Engine
from seoib.rules.loader import rules_digest
from seoib.rules.ruleset import compile_rules, load_rules


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def per_call(fn: Callable[[], object], n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main() -> None:
    root = builtin_rules_dir()
    digest = rules_digest(root)
    compile_rules([root], digest)  # import jsonschema/networkx once: measured separately below
    compile_ms = statistics.median(timed(lambda: compile_rules([root], digest), 15)) * 1e3
    with tempfile.TemporaryDirectory() as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        load_rules(root)  # writes the compiled cache
        from seoib.rules import ruleset

        def cached() -> None:
            ruleset._memory.clear()
            load_rules(root)

        cached_ms = statistics.median(timed(cached, 30)) * 1e3

    engine = Engine()
    host, vm = "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "machine=q35,irqchip=split,guest=windows-hyperv"
    engine.policy(host, vm)
    warm_us = per_call(lambda: engine.policy(host, vm), 100_000) * 1e6
    # A new spec text that falls into an already-known class: parse + resolve + class key.
    counter = iter(range(10**9))
    same_class_us = per_call(
        lambda: engine.policy(f"name=h{next(counter)},kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", vm),
        5_000) * 1e6
    fresh = Engine()
    cold_query_ms = per_call(lambda: Engine(fresh.rs).policy(host, vm), 200) * 1e3

    cmd = [sys.executable, "-m", "seoib", "policy", "--host", host, "--vm", vm]
    subprocess.run(cmd, capture_output=True, check=False)
    proc = statistics.median(timed(lambda: subprocess.run(cmd, capture_output=True, check=False),
                                   15)) * 1e3
    b = Baseline.measure(runs=15)
    print(b.line())
    print(f"rules compile (schema, lineage, graph checks), median: {compile_ms:8.1f} ms  (target <= 100; "
          f"{b.of_loop(compile_ms * 1e3)})")
    print(f"rules load from the compiled cache, median:           {cached_ms:8.2f} ms  "
          f"({b.of_loop(cached_ms * 1e3)})")
    print(f"warm policy query (same spec text):                   {warm_us:8.2f} us  (target <= 20; "
          f"{b.of_loop(warm_us)})")
    print(f"warm policy query (new spec text, known class):       {same_class_us:8.2f} us  "
          f"({b.of_loop(same_class_us)})")
    print(f"first query of a class incl. 4 evaluations + witness: {cold_query_ms:8.2f} ms  "
          f"({b.of_loop(cold_query_ms * 1e3)})")
    print(f"cold `seoib policy` process, median:                  {proc:8.1f} ms  (target <= 150;"
          f" {b.of_start(proc)}; .pyc writes {'off' if sys.flags.dont_write_bytecode else 'on'})")


if __name__ == "__main__":
    main()
