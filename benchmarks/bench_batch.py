"""`seoib policy --batch` end to end, and one uncached verdict with its witness.

Two query sets: random policy queries over the rules' own domain (every kernel
release and stable backport point, QEMU release, design, machine type, irqchip,
guest), and queries drawn from the engine's own class space (the stack and VM
classes `seoib matrix` evaluates, each named by the spec its matrix key gives).
Targets: a batch of 10,000 <= 0.25 s on both sets (the whole process: start,
rules from the cache, JSON in and out, witness per class); an uncached verdict
incl. its witness <= 100 us.

Every figure is printed beside a same-run baseline: the batch beside a bare
``python -c pass`` (interpreter start), the verdict beside a trivial loop that
builds one small dict per query, so a reader sees ratios on a loaded machine.

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

from baseline import Baseline

from seoib.query.api import Engine
from seoib.query.classes import stack_classes, vm_classes
from seoib.rules.matrix_keys import host_key_spec, vm_key_spec
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


def class_space_queries(rs: RuleSet, n: int, seed: int = 15) -> list[dict[str, object]]:
    """Policy queries drawn from the engine's class space: a stack class and a VM class
    (every irqchip, IOAPIC, x2APIC and explicit policy), each as its matrix key's spec."""
    rng = random.Random(seed)
    hosts = [host_key_spec(s.label) for s in stack_classes(rs)]
    vms = [vm_key_spec(v.label) for v in vm_classes(
        rs, irqchips=(None, "on", "split", "off"), ioapics=(None, "0x11", "0x20"),
        x2apic=(True, False), policies=("quirked", "respected", "not-advertised"))]
    return [{"host": rng.choice(hosts), "vm": rng.choice(vms)} for _ in range(n)]


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


def trivial_loop_us(queries: list[dict[str, str]]) -> float:
    """The baseline of :func:`uncached_verdict_us`: one small dict built per query."""
    t = time.perf_counter()
    for q in queries:
        {"host": q["host"], "vm": q["vm"], "outcome": "ok"}
    return (time.perf_counter() - t) / len(queries) * 1e6


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
    baseline = Baseline.measure(runs=5)
    print(baseline.line())
    base = baseline.start_ms / 1e3  # the batch's floor, in seconds
    for label, make in (("random", random_queries), ("class-space", class_space_queries)):
        for n in sizes:
            lines = make(rs, n)
            took, code, (count, errors, size) = batch_seconds(lines)  # type: ignore[arg-type]
            compact_took, _, (_, _, compact_size) = batch_seconds(lines, "--compact")  # type: ignore[arg-type]
            engine = Engine(rs)
            for q in lines[: min(n, 20_000)]:
                with contextlib.suppress(Exception):
                    engine.policy(q["host"], q["vm"])
            print(f"batch of {n:>7} {label} policy queries: {took:6.3f} s end to end, "
                  f"{took / base:5.1f}x python -c pass (target <= 0.25 s for 10,000; {count} lines out, "
                  f"{errors} refused, exit {code}; {engine.classes} classes in the first "
                  f"{min(n, 20_000)}; {size / count:,.0f} bytes a line)")
            print(f"  the same with --compact: {compact_took:6.3f} s ({compact_took / took:.2f}x), "
                  f"{compact_size / count:,.0f} bytes a line ({compact_size / size:.3f}x the output)")
    sample = random_queries(rs, 300, seed=7)
    loop = sorted(trivial_loop_us(sample) for _ in range(5))[2]
    verdict = sorted(uncached_verdict_us(rs, sample) for _ in range(3))[1]
    print(f"uncached in-process verdict incl. witness: {verdict:.0f} us (target <= 100), "
          f"{verdict / loop:,.0f}x a trivial loop's {loop:.2f} us per query (medians of 3 and 5 runs)")


if __name__ == "__main__":
    main()
