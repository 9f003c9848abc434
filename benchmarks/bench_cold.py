"""Cold `seoib policy` from a wheel install: target median <= 32 ms, ~1.3x `python -c pass`.

Builds a wheel of this checkout, installs it (not editable) in a temporary
virtualenv, warms the compiled-rules cache once, then times fresh processes,
each beside a bare ``python -c pass`` run just before it (pairs, so a load that
drifts during the run moves both), and reports both medians and the median of
the pairs' ratios. Also lists which of
the heavy libraries (yaml, jsonschema, networkx) and the costly standard
modules (dataclasses, inspect, shutil) the cached path imported.

Run: python benchmarks/bench_cold.py [RUNS]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STDLIB = "import argparse, json, pathlib, typing"  # what the CLI needs before any of its own code
ARGS = ["policy", "--host", "kernel=6.18.16,qemu=11.0.0,seoib=rfc-v2",
        "--vm", "machine=pc-q35-11.0,irqchip=split,guest=windows-hyperv"]


def _seconds(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                   cwd=env["HOME"])
    return time.perf_counter() - t


def _paired_ms(cmd: list[str], base: list[str], env: dict[str, str],
               runs: int) -> tuple[float, float, float]:
    """(median ms of ``cmd``, median ms of ``base``, median of the pairs' ratios)."""
    pairs = [(_seconds(base, env), _seconds(cmd, env)) for _ in range(runs)]
    return (statistics.median(c for _, c in pairs) * 1e3, statistics.median(b for b, _ in pairs) * 1e3,
            statistics.median(c / b for b, c in pairs))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    with tempfile.TemporaryDirectory() as tmp:
        venv, wheels, src = Path(tmp) / "venv", Path(tmp) / "wheels", Path(tmp) / "src"
        # Build from a copy: an in-tree build would leave build/ and egg-info in the checkout.
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info",
                                                                 "__pycache__"))
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                        str(src)], check=True)
        wheel = next(wheels.glob("seoib_engine-*.whl"))
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True)
        # Run from an empty folder: a checkout in the working directory would shadow the wheel.
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache"), "HOME": tmp}
        env.pop("SEOIB_NO_CACHE", None)
        seoib = [str(venv / "bin" / "seoib"), *ARGS]
        first = subprocess.run(seoib, env=env, capture_output=True, check=False, cwd=tmp)
        assert first.returncode in (0, 1, 2), first.stderr.decode()
        probe = [str(venv / "bin" / "python"), "-c",
                 "import sys, seoib.cli as c; sys.argv=['seoib', *sys.argv[1:]]\n"
                 "import contextlib, io\n"
                 "with contextlib.redirect_stdout(io.StringIO()):\n"
                 "    c.main(sys.argv[1:])\n"
                 "print(sorted({m.split('.')[0] for m in sys.modules} & {'yaml', 'jsonschema', 'networkx',"
                 " 'dataclasses', 'inspect', 'shutil'}))",
                 *ARGS]
        heavy = subprocess.run(probe, env=env, capture_output=True, text=True, check=False,
                               cwd=tmp).stdout.strip()
        cold, base, ratio = _paired_ms(seoib, [str(venv / "bin" / "python"), "-c", "pass"], env, runs)
        # Two more floors: the baseline the Rego comparison used, and what any CLI built on
        # argparse, json and pathlib imports before it does anything.
        _, json_ms, json_ratio = _paired_ms(seoib, [str(venv / "bin" / "python"), "-c", "import json"],
                                            env, runs)
        floor_ms = statistics.median(_seconds([str(venv / "bin" / "python"), "-c", STDLIB], env)
                                     for _ in range(runs)) * 1e3
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"cold `seoib policy` (wheel, cached rules), median of {runs}: {cold:6.1f} ms (target <= 32)")
    print(f"bare `python -c pass`, median of {runs}:                     {base:6.1f} ms")
    print(f"ratio, median of the {runs} pairs: {ratio:.2f}x (target <= 1.3x)")
    print(f"`python -c \"import json\"`, median of {runs}:              {json_ms:6.1f} ms "
          f"(cold `seoib policy` is {json_ratio:.2f}x it)")
    print(f"stdlib floor `python -c \"{STDLIB}\"`: {floor_ms:6.1f} ms ({floor_ms / base:.2f}x "
          "python -c pass)")
    print(f"heavy modules imported on the cached path: {heavy}")


if __name__ == "__main__":
    main()
