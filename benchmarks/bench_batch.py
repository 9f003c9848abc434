"""`seoib policy --batch`: random policy queries from the rule domain, end to end.

Targets: 10,000 queries <= 1.0 s, 100,000 <= 5 s (the whole process: start,
rules from the cache, JSON in and out, witness per class). Also reports the
uncached in-process verdict with its witness (target <= 150 us).

Run: python benchmarks/bench_batch.py [N ...]
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from seoib.query.api import Engine
from seoib.rules.ruleset import RuleSet, load_rules
from seoib.rules.versions import parse_release


def random_queries(rs: RuleSet, n: int, seed: int = 15) -> list[dict[str, str]]:
    """Policy queries over the rules' own kernels (every mainline release, both sides of each
    stable backport), QEMU releases, designs, machine types, irqchip modes and guests."""
    rng = random.Random(seed)
    r = rs.resolver
    kernels = []
    for series in r.kernels.mainline:
        kernels.append(series)
        rel = parse_release(series)
        assert rel is not None
        for since in r.kernels.known_points(rel.series):
            # Both sides of every stable backport the rules list, and a later point.
            *head, point = since.parts
            kernels += [".".join(map(str, (*head, p))) for p in (point - 1, point, point + 5)]
    qemus = [str(q.version) for q in r.qemu.releases.values()]
    designs = list(r.designs)
    machines = []
    for fam in r.machines.families.values():
        if not fam.versioned:
            machines.append(fam.id)
            continue
        machines += [f"{fam.id}-{'.'.join(map(str, v))}" for v, fams in r.machines.versions.items()
                     if fams is None or fam.id in fams]
    guests = list(r.guests)
    out = []
    for _ in range(n):
        vm = f"machine={rng.choice(machines)},irqchip={rng.choice(['on', 'split', 'split', 'off'])}"
        vm += f",guest={rng.choice(guests)}"
        if rng.random() < 0.2:
            vm += f",seoib-policy={rng.choice(['quirked', 'respected', 'not-advertised'])}"
        host = f"kernel={rng.choice(kernels)},qemu={rng.choice(qemus)},seoib={rng.choice(designs)}"
        out.append({"host": host, "vm": vm})
    return out


def batch_seconds(lines: list[dict[str, str]], *extra: str) -> tuple[float, int, list[int]]:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write("".join(json.dumps(q) + "\n" for q in lines))
    try:
        cmd = [sys.executable, "-m", "seoib", "policy", "--batch", fh.name, *extra]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, check=False)
        took = time.perf_counter() - t
    finally:
        os.unlink(fh.name)
    out = proc.stdout.splitlines()
    errors = sum(1 for line in out if line.startswith(b'{"error"'))
    return took, proc.returncode, [len(out), errors, len(proc.stdout)]


def uncached_verdict_us(rs: RuleSet, queries: list[dict[str, str]]) -> float:
    """A fresh Engine per query: parse, resolve, evaluate, alternatives, simulator witness."""
    from seoib.query import witness

    t = time.perf_counter()
    for q in queries:
        witness._boot.cache_clear()
        with contextlib.suppress(Exception):
            Engine(rs).policy(q["host"], q["vm"])
    return (time.perf_counter() - t) / len(queries) * 1e6


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    rs = load_rules()
    subprocess.run([sys.executable, "-m", "seoib", "policy", "--batch", os.devnull], check=False)
    for n in sizes:
        lines = random_queries(rs, n)
        took, code, (count, errors, size) = batch_seconds(lines)
        compact_took, _, (_, _, compact_size) = batch_seconds(lines, "--compact")
        engine = Engine(rs)
        for q in lines[: min(n, 20_000)]:
            with contextlib.suppress(Exception):
                engine.policy(q["host"], q["vm"])
        print(f"batch of {n:>7} random policy queries: {took:6.3f} s end to end "
              f"({count} lines out, {errors} refused, exit {code}; "
              f"{engine.classes} classes in the first {min(n, 20_000)}; {size / count:,.0f} bytes a line)")
        print(f"  the same with --compact: {compact_took:6.3f} s ({compact_took / took:.2f}x), "
              f"{compact_size / count:,.0f} bytes a line ({compact_size / size:.3f}x the output)")
    print(f"uncached in-process verdict incl. witness: "
          f"{uncached_verdict_us(rs, random_queries(rs, 300, seed=7)):.0f} us (target <= 150)")


if __name__ == "__main__":
    main()
