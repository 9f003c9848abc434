"""Benchmark `seoib matrix`: the full built-in matrix, and how it grows with releases.

Run: python benchmarks/bench_matrix.py [--quick]

Synthetic releases are added to a temporary copy of rules/ (never to rules/):
extra mainline kernels after the newest one, and extra QEMU feature releases,
each registering one new machine version. Kernel releases with the same
capabilities join an existing class, so the cost should follow classes, not
releases; a QEMU release adds machine classes and QEMU ranges, so it costs more.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seoib.matrix.artifacts import FORMATS, render_matrix
from seoib.matrix.build import build_matrix
from seoib.paths import builtin_rules_dir
from seoib.rules.ruleset import load_rules


def _bump(version: str, step: int) -> str:
    major, minor = (int(x) for x in version.split(".")[:2])
    return f"{major}.{minor + step}"


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
    (root / "machines.yaml").write_text(yaml.safe_dump(m, sort_keys=False))
    (root / "qemu.yaml").write_text(yaml.safe_dump(q, sort_keys=False))
    return root


def measure(root: Path | None) -> dict[str, float]:
    rs = load_rules(root, use_cache=False)
    start = time.perf_counter()
    m = build_matrix(rs)
    built = time.perf_counter() - start
    render_matrix(rs, m, list(FORMATS))
    total = time.perf_counter() - start
    t = m.tally()
    return {"kernels": len(rs.kernels.mainline), "kclasses": len(m.space.kernels),
            "qemus": len(m.space.qemus),
            "cells": t["policy_cells"] + t["migration_cells"] + t.get("snapshot_cells", 0),
            "evaluations": t["evaluations"], "build_s": built, "total_s": total}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer growth points")
    args = ap.parse_args()
    points = [(0, 0), (8, 0), (32, 0), (0, 1), (0, 2)] if args.quick else \
        [(0, 0), (8, 0), (32, 0), (128, 0), (0, 1), (0, 2), (0, 4), (8, 2)]
    head = (f"{'+kernels':>8} {'+qemu':>5} {'mainline':>8} {'k-classes':>9} {'qemu':>4} "
            f"{'cells':>7} {'evals':>7} {'build s':>8} {'all s':>7}")
    print(head)
    print("-" * len(head))
    for extra_k, extra_q in points:
        with tempfile.TemporaryDirectory() as tmp:
            root = None if (extra_k, extra_q) == (0, 0) else \
                synthetic_rules(Path(tmp) / "rules", extra_k, extra_q)
            r = measure(root)
        print(f"{extra_k:>8} {extra_q:>5} {r['kernels']:>8} {r['kclasses']:>9} {r['qemus']:>4} "
              f"{r['cells']:>7} {r['evaluations']:>7} {r['build_s']:>8.2f} {r['total_s']:>7.2f}")
    print("\nfirst row: the built-in rules (the full matrix incl. validation and every artifact; "
          "target <= 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
