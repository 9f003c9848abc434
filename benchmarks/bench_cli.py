"""The command line's own costs, each beside a same-run baseline.

- a shell's TAB (argcomplete asking ``seoib`` itself) beside a bare ``python -c pass``;
- ``seoib --version`` and a cached ``seoib policy ... --field outcome`` beside the same;
- the user-JSON reader (``seoib.files.loads_json``: duplicate keys, depth and digit
  limits) beside plain ``json.loads`` on a batch line.

Process times are medians of wall time and of CPU time (user + system of the child), so
a loaded machine shows in the wall column more than in the CPU one; the load average is
printed with them. Run: python benchmarks/bench_cli.py [RUNS]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEOIB = [sys.executable, "-m", "seoib"]
LINE = ('{"src": {"kernel": "7.0.3", "qemu": "11.0.0", "seoib": "rfc-v2"}, "dst": '
        '"kernel=6.18.17,qemu=11.0.0", "vm": "machine=pc-q35-10.2,irqchip=split,guest=windows-'
        'hyperv", "snapshot": false}')


def _process(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``cmd``."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = timeit.default_timer()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        walls.append(timeit.default_timer() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls) * 1e3, statistics.median(cpus) * 1e3


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SEOIB_NO_CACHE", None)
    tab = "seoib policy --fo"
    complete = {**env, "_ARGCOMPLETE": "1", "_ARGCOMPLETE_IFS": "\v", "COMP_LINE": tab,
                "COMP_POINT": str(len(tab)), "_ARGCOMPLETE_STDOUT_FILENAME": os.devnull}
    query = [*SEOIB, "policy", "--host", "kernel=7.0.3,qemu=11.0.0", "--vm",
             "machine=q35,irqchip=split", "--field", "outcome"]
    subprocess.run(query, env=env, stdout=subprocess.DEVNULL, check=False)  # warm the rules cache
    rows = [("python -c pass (baseline)", _process([sys.executable, "-c", "pass"], env, runs)),
            ("TAB: seoib policy --fo", _process([*SEOIB], complete, runs)),
            ("seoib --version", _process([*SEOIB, "--version"], env, runs)),
            ("seoib policy ... --field outcome", _process(query, env, runs))]
    for name, (wall, cpu) in rows:
        print(f"{name:<36} wall {wall:7.1f} ms   CPU {cpu:7.1f} ms")

    from seoib.errors import Location
    from seoib.files import loads_json

    where = Location("moves.jsonl", 1)
    n = 20_000
    ours = min(timeit.repeat(lambda: loads_json(LINE, where), number=n, repeat=5)) / n * 1e6
    plain = min(timeit.repeat(lambda: json.loads(LINE), number=n, repeat=5)) / n * 1e6
    print(f"{'loads_json, one batch line':<36} {ours:7.2f} us   json.loads {plain:.2f} us   "
          f"ratio {ours / plain:.2f}")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
