"""``seoib lab``: verdicts observed on real QEMU binaries, a real guest and this host's KVM.

Starts every machine type of one or two QEMU binaries on /dev/kvm (paused, with
the lab's own guest, and migrated between the binaries), through an LD_PRELOAD
shim that can also present a kernel without the SEOIB flags, and holds each
observation to the engine's verdict for the same command line. Exit 0 when every
observation agrees, 1 when any disagrees (or showed nothing), 3 for bad input or
a host that cannot run the lab, 4 when the simulator does not reproduce one of
the engine's own verdicts. ``--evidence FILE`` keeps the JSON report as evidence
(written to a temporary file and renamed: an old file is never half replaced).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from ..errors import Location
from .common import add_rules, rules_of

__all__ = ["add_arguments", "run"]

MAX_BINARIES = 2


def _jobs(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 16:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of jobs from 1 to 16")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 1 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{text} is not between 1 and 600 seconds")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--qemu", metavar="BINARY", action="append",
                        help="a QEMU binary; give two to migrate between them "
                             "(default: qemu-system-x86_64 on PATH)")
    parser.add_argument("--machines", metavar="PATTERN", action="append",
                        help="machine types to start (shell patterns, comma-separated or repeated; "
                             "default: every type the binary registers)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--evidence", metavar="FILE", help="also write the JSON report to FILE")
    parser.add_argument("--jobs", type=_jobs, default=2, help="QEMU processes at a time (default 2)")
    parser.add_argument("--timeout", type=_seconds, default=20.0,
                        help="seconds one QEMU may take to answer or finish (default 20)")
    parser.add_argument("--kvm", metavar="PATH", default="/dev/kvm", help="KVM device (default /dev/kvm)")
    add_rules(parser)


def _binaries(args: argparse.Namespace) -> list[str]:
    from ..lab.toolchain import LabSetupError

    given = args.qemu or []
    if len(given) > MAX_BINARIES:
        raise LabSetupError(f"at most {MAX_BINARIES} QEMU binaries (a migration has two ends)",
                            Location("--qemu"))
    if given:
        return [shutil.which(q) or q if os.sep not in q else q for q in given]
    found = shutil.which("qemu-system-x86_64")
    if found is None:
        raise LabSetupError("qemu-system-x86_64 is not on PATH: name a binary with --qemu",
                            Location("--qemu"))
    return [found]


def _write_evidence(path: str, text: str) -> None:
    from ..lab.toolchain import LabSetupError

    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".seoib-lab-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as err:
        raise LabSetupError(f"cannot write the evidence: {err.strerror or err}",
                            Location(path)) from None


def _check_evidence_path(path: str) -> None:
    from ..lab.toolchain import LabSetupError

    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise LabSetupError("is a directory: name the evidence file", Location(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise LabSetupError("its directory does not exist or is not writable", Location(path))


def _progress(n: int, total: int, obs: object) -> None:
    sys.stderr.write(f"\rseoib lab: {n}/{total} runs")
    if n == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from ..lab.run import run_lab

    patterns = [p.strip() for text in (args.machines or []) for p in text.split(",") if p.strip()]
    if args.evidence:
        _check_evidence_path(args.evidence)  # before the run, not after minutes of it
    report = run_lab(_binaries(args), machines=patterns, jobs=args.jobs, timeout=args.timeout,
                     rules=rules_of(args), kvm_path=args.kvm,
                     progress=_progress if sys.stderr.isatty() else None)
    text = report.to_json()
    if args.evidence:
        _write_evidence(args.evidence, text)
    sys.stdout.write(text if args.format == "json" else report.to_text())
    return report.exit_code()
