"""Mutation fuzzing of `seoib policy|migrate --batch`, in process, bounded in time.

Seed lines (spec strings and objects) are mutated the way a careless or hostile
producer would break JSON Lines: bytes flipped, spans cut or repeated, numbers
where strings belong, hostile tokens spliced in, lines joined or split, raw
bytes. Every batch must end like a tool:

- exit 0-3 (never 4, 70 or an exception);
- one JSON line out per line in (an ``error`` object for a bad one), or, when
  the input as a whole is refused, exit 3 and one ``seoib:`` line on stderr;
- a compact line (``--compact``) at most 300 bytes.

Seeded (SEOIB_FUZZ_SEED); SEOIB_FUZZ_SECONDS bounds each target (default 4 s);
``pytest -s`` prints how many batches ran and how they ended.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

from seoib.cli import main

SEED = int(os.environ.get("SEOIB_FUZZ_SEED", "12"))
SECONDS = float(os.environ.get("SEOIB_FUZZ_SECONDS", "4"))
TOKENS = ["\x00", "\x1b[31m", "\t", "\u202e", "\ufeff", "\u0667", "9" * 5000, "1e999", "NaN", "-0",
          "[" * 200, "{" * 200, '"', "\\", "\\u0000", "@/etc/passwd", ",", "=", "6.10", "true", "null",
          "\udcff", "name=" + "n" * 3000]
POLICY = [{"host": "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "vm": "machine=q35,irqchip=split"},
          {"host": {"kernel": "6.18.16", "qemu": "11.0.0", "name": "h1"},
           "vm": {"machine": "pc-q35-11.0", "irqchip": "split", "guest": "windows-hyperv"}},
          {"host": "x2apic-api=0xf,qemu=10.2.0", "vm": "machine=pc-i440fx-2.7,ioapic=0x11"}]
MIGRATE = [{"src": "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "dst": "kernel=6.18.16,qemu=11.0.0,seoib=rfc-v2",
            "vm": "machine=pc-q35-11.0,irqchip=split", "snapshot": False},
           {"src": {"kernel": "6.12.40", "qemu": "10.2.0"}, "dst": "kernel=7.0.3,qemu=11.0.0",
            "vm": "machine=q35", "snapshot": True}]


def mutate(rng: random.Random, line: str) -> str:
    choice = rng.randrange(8)
    if not line:
        return rng.choice(TOKENS)
    i, j = sorted(rng.randrange(len(line) + 1) for _ in range(2))
    if choice == 0:
        return line[:i] + rng.choice(TOKENS) + line[i:]
    if choice == 1:
        return line[:i] + line[j:]
    if choice == 2:
        return line[:j] + line[i:j] * rng.randrange(2, 6) + line[j:]
    if choice == 3:
        return line[:i]
    if choice == 4:  # a version as a JSON number
        return line.replace('"6.18.16"', "6.18").replace('"11.0.0"', "11.0")
    if choice == 5:
        return line[:i] + chr(rng.randrange(0x20, 0x3000)) + line[i + 1:]
    if choice == 6:
        return "".join(chr(rng.randrange(256)) for _ in range(rng.randrange(1, 80)))
    return line


def _run(argv: list[str], data: bytes, tmp: Path) -> tuple[int, list[str], str]:
    path = tmp / "batch.jsonl"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*argv, "--batch", str(path)])
    return code, out.getvalue().splitlines(), err.getvalue()


def _fuzz(command: str, seeds: list[dict], tmp_path: Path, compact: bool = False) -> Counter[str]:
    rng = random.Random(SEED)
    tally: Counter[str] = Counter()
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        lines = [mutate(rng, json.dumps(rng.choice(seeds))) if rng.random() < 0.7 else
                 json.dumps(rng.choice(seeds)) for _ in range(rng.randrange(1, 12))]
        data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
        expected = data.count(b"\n")
        argv = [command] + (["--compact"] if compact else [])
        started = time.monotonic()
        code, out, err = _run(argv, data, tmp_path)
        assert time.monotonic() - started < 20, lines
        assert code in (0, 1, 2, 3), (code, lines, err)
        assert "Traceback" not in err, err
        if len(out) != expected:  # refused as a whole: one line saying why
            assert code == 3 and err.count("\n") == 1 and err.startswith("seoib: "), (lines, err)
            tally["refused whole"] += 1
            continue
        for line in out:
            obj = json.loads(line)
            assert "error" in obj or "outcome" in obj, line
            if compact:
                assert len(line.encode()) <= 300, line
            tally["bad lines" if "error" in obj else "verdicts"] += 1
        tally[f"exit {code}"] += 1
    print(f"\nfuzz batch {command}{' --compact' if compact else ''}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())), file=sys.stderr)
    return tally


def test_policy_batches(tmp_path: Path) -> None:
    tally = _fuzz("policy", POLICY, tmp_path)
    assert tally["verdicts"] and tally["bad lines"]


def test_migrate_batches_compact(tmp_path: Path) -> None:
    tally = _fuzz("migrate", MIGRATE, tmp_path, compact=True)
    assert tally["verdicts"] and tally["bad lines"]
