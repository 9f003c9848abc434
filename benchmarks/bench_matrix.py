"""Benchmark `seoib matrix` and the class-space validation: cost follows classes, not releases.

Run: python benchmarks/bench_matrix.py [--quick] [--no-space]

Every figure is printed beside a same-run baseline: the class space of the four
newest QEMU releases alone (the matrix before the releases fleets run were added),
built from a temporary copy of rules/ in the same process. A row gives the cells,
the distinct class pairs evaluated and simulated ("classes"), wall and CPU seconds
(CPU summed over the forked workers), and the ratios to the baseline: cells grow
with releases, classes and seconds should not.

Then growth points: synthetic releases added to a temporary copy of rules/ (never
to rules/) - extra mainline kernels after the newest one (they join an existing
kernel class) and extra QEMU feature releases in the class space, each registering
one new machine version.

With the space part (default), the sweep of tests/test_class_space.py is timed the
same way: every boot class, every live and snapshot class pair, simulated.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seoib.matrix.artifacts import FORMATS, render_matrix
from seoib.matrix.build import build_matrix
from seoib.paths import builtin_rules_dir
from seoib.query.classes import stack_classes, validate_space, vm_classes
from seoib.rules.ruleset import load_rules

NARROW = "10.0"  # the baseline: the class space from this release on


def _bump(version: str, step: int) -> str:
    major, minor = (int(x) for x in version.split(".")[:2])
    return f"{major}.{minor + step}"


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def narrow_rules(root: Path) -> Path:
    """A copy of the built-in rules whose class space starts at NARROW."""
    shutil.copytree(builtin_rules_dir(), root)
    qemu = root / "qemu.yaml"
    text = qemu.read_text()
    qemu.write_text(re.sub(r"\n  releases: \[[^\]]*\]\n", f'\n  min: "{NARROW}"\n', text, count=1))
    return root


def synthetic_rules(root: Path, kernels: int, qemus: int) -> Path:
    """A copy of the built-in rules with ``kernels`` mainline and ``qemus`` QEMU releases more."""
    shutil.copytree(builtin_rules_dir(), root)
    k = yaml.safe_load((root / "kernels.yaml").read_text())
    last = k["mainline"][-1]
    k["mainline"] += [_bump(last, i + 1) for i in range(kernels)]
    (root / "kernels.yaml").write_text(yaml.safe_dump(k, sort_keys=False))
    m = yaml.safe_load((root / "machines.yaml").read_text())
    q = yaml.safe_load((root / "qemu.yaml").read_text())
    newest = q["releases"][-1]
    for i in range(qemus):
        version = _bump(newest["version"], i + 1)
        m["versions"].append(version)
        q["releases"].append({**newest, "id": f"qemu.{version}", "version": version,
                              "machines": {**newest["machines"], "max": version},
                              "description": "synthetic release for the benchmark",
                              "source": "benchmarks/bench_matrix.py"})
        q["class_space"].setdefault("releases", []).append(version)
    (root / "machines.yaml").write_text(yaml.safe_dump(m, sort_keys=False))
    (root / "qemu.yaml").write_text(yaml.safe_dump(q, sort_keys=False))
    return root


def _forget() -> None:
    """Drop the simulator's runs kept by an earlier measurement (witness and simulator memos
    are keyed by value, so a later rule set would find them): each row pays its own."""
    from seoib.query.witness import _boot, _migrate
    from seoib.sim.api import forget

    _boot.cache_clear()
    _migrate.cache_clear()
    forget()


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    _forget()
    wall, cpu = time.perf_counter(), _cpu()
    out = fn()
    return out, time.perf_counter() - wall, _cpu() - cpu


def measure(root: Path | None) -> dict[str, Any]:
    """The full matrix (every cell validated, every artifact rendered) of a rule set."""
    rs = load_rules(root, use_cache=False)
    m, built, built_cpu = _timed(lambda: build_matrix(rs))
    _, rendered, rendered_cpu = _timed(lambda: render_matrix(rs, m, list(FORMATS)))
    t = m.tally()
    return {"kclasses": len(m.space.kernels), "qemus": len(m.space.qemus),
            "cells": t["policy_cells"] + t["migration_cells"] + t.get("snapshot_cells", 0),
            "classes": t["evaluations"], "build": built, "total": built + rendered,
            "cpu": built_cpu + rendered_cpu}


def measure_space(root: Path | None) -> dict[str, Any]:
    """tests/test_class_space.py's sweep: every boot class, every live and snapshot pair."""
    rs = load_rules(root, use_cache=False)
    stacks = stack_classes(rs)
    full = vm_classes(rs, irqchips=(None, "on", "split", "off"), ioapics=(None, "0x11", "0x20"),
                      x2apic=(True, False), policies=("quirked", "respected", "not-advertised"))
    vms = vm_classes(rs)
    cells = classes = 0

    def sweep() -> None:
        nonlocal cells, classes
        for query, space in (("policy", full), ("migrate", vms), ("snapshot", vms)):
            t = validate_space(rs, stacks, space, query)
            assert not t.disagreements
            cells += t.cells
            classes += t.evaluations

    _, wall, cpu = _timed(sweep)
    return {"qemus": len({s.qemu for s in stacks}), "cells": cells, "classes": classes,
            "total": wall, "cpu": cpu}


def _ratio(a: float, b: float) -> str:
    return f"{a / b:5.2f}x" if b else "   - "


def _row(label: str, r: dict[str, Any], base: dict[str, Any]) -> str:
    return (f"{label:<28} {r['qemus']:>4} {r['cells']:>9} {r['classes']:>8} {r['total']:>7.2f} "
            f"{r['cpu']:>7.2f} | cells {_ratio(r['cells'], base['cells'])} classes "
            f"{_ratio(r['classes'], base['classes'])} wall {_ratio(r['total'], base['total'])} "
            f"cpu {_ratio(r['cpu'], base['cpu'])}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer growth points")
    ap.add_argument("--no-space", action="store_true", help="skip the class-space sweep")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (figures under "
          "load are wall-clock inflated; CPU seconds are not)")
    head = (f"{'':<28} {'qemu':>4} {'cells':>9} {'classes':>8} {'wall s':>7} {'cpu s':>7} | "
            "ratio to the baseline")
    with tempfile.TemporaryDirectory() as tmp:
        base = measure(narrow_rules(Path(tmp) / "narrow"))
        print("\nseoib matrix (build with validation + every artifact; target <= 10 s when quiet)")
        print(head)
        print(_row(f"baseline: QEMU {NARROW}+ only", base, base))
        print(_row("built-in rules", measure(None), base))
        points = [(8, 0), (0, 1), (0, 2)] if args.quick else [(8, 0), (32, 0), (0, 1), (0, 2), (8, 2)]
        for extra_k, extra_q in points:
            with tempfile.TemporaryDirectory() as grow:
                r = measure(synthetic_rules(Path(grow) / "rules", extra_k, extra_q))
            print(_row(f"+{extra_k} kernels, +{extra_q} QEMU", r, base))
        if not args.no_space:
            space_base = measure_space(Path(tmp) / "narrow")
            print("\nclass-space validation (tests/test_class_space.py's sweep; target <= 5 s)")
            print(head)
            print(_row(f"baseline: QEMU {NARROW}+ only", space_base, space_base))
            print(_row("built-in rules", measure_space(None), space_base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
