"""`--batch FILE|-` for `seoib policy` and `seoib migrate`: JSON Lines in, verdicts out.

FILE may be a regular file, a named pipe or a socket (a scheduler streaming its
questions), and ``-`` stdin as any of those or a terminal; a device (``/dev/zero``,
``/dev/urandom``; ``/dev/null`` is empty input), a directory or anything else is
refused before a byte is read.
``--compact`` writes the compact line of :mod:`seoib.query.compact` (at most 300
bytes) instead of the whole verdict; ``--explain`` adds its reasons.
"""

from __future__ import annotations

import argparse
import gc
import os
import stat
import sys
from typing import Any

from ..errors import BadInput, Location

__all__ = ["add_batch", "run_batch_option", "single_options"]

_KIND = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFDIR: "a directory"}


def add_batch(parser: argparse.ArgumentParser, line: str) -> None:
    parser.add_argument("--batch", metavar="FILE", help=f"answer many queries: JSON Lines ({line} "
                        "per line, spec strings or objects) from FILE or - (stdin); one JSON "
                        "verdict per line on stdout, in order")
    parser.add_argument("--compact", action="store_true",
                        help="with --batch: one compact line per verdict (command, outcome, severity, "
                        "policy, the deciding rule ids; at most 300 bytes)")
    parser.add_argument("--explain", action="store_true",
                        help="with --compact: add each verdict's reasons (rule, text, source)")


def single_options(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """The single-query options given beside --batch (which they cannot be)."""
    return [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None) not in (None, False)]


def _readable(fd: int, where: str) -> None:
    """Refuse what is not a stream of lines: devices (bar a terminal), directories, others."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return
    if stat.S_ISCHR(mode) and os.isatty(fd):  # a person typing lines
        return
    if stat.S_ISCHR(mode) and _is_devnull(mode, os.fstat(fd).st_rdev):  # empty input, by idiom
        return
    kind = _KIND.get(stat.S_IFMT(mode), "not a regular file")
    raise BadInput(f"is {kind}, expected a JSON Lines file, a pipe or a terminal", Location(where))


def _is_devnull(mode: int, rdev: int) -> bool:
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(null.st_mode) and null.st_rdev == rdev


def run_batch_option(args: argparse.Namespace, kind: str, single: tuple[str, ...]) -> int:
    from ..query.api import Engine
    from ..query.batch import run_batch
    from .common import rules_of

    given = single_options(args, single)
    if args.format == "text":  # JSON Lines is the batch contract; text would be silently ignored
        given.append("--format text")
    if given:
        raise BadInput(f"--batch answers every query from its file; drop {', '.join(given)}",
                       Location("--batch"))
    if args.batch == "":
        raise BadInput("--batch needs a file name (or - for stdin)", Location("--batch"))
    engine = Engine(rules_of(args))
    # Many lines, one process: the rule set lives to the end, so the cycle collector leaves
    # it alone (freeze), and runs less often over the memos that only grow (about a third of
    # a batch's time went to collections walking both). What a chunk leaves behind is the
    # memos' growth: frozen after each chunk, so collections walk only the current chunk's
    # objects (the simulator's runs leave no cycles; see seoib.sim.kvm).
    threshold = gc.get_threshold()
    gc.enable()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        return _answer_all(args, kind, engine, run_batch)
    finally:  # main() may run inside a longer-lived process (tests, embedding)
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _options(args: argparse.Namespace) -> dict[str, Any]:
    if getattr(args, "explain", False) and not getattr(args, "compact", False):
        raise BadInput("--explain adds reasons to --compact lines (whole verdicts have them)",
                       Location("--explain"))
    return {"view": "compact" if getattr(args, "compact", False) else "full",
            "explain": bool(getattr(args, "explain", False))}


def _answer_all(args: argparse.Namespace, kind: str, engine: Any, run_batch: Any) -> int:
    from ..query.batch import read_lines

    out = sys.stdout
    options = _options(args)
    if args.batch == "-":
        _readable(sys.stdin.fileno(), "<stdin>")
        # A pipe or terminal streams: answer each line as it arrives.
        stream = not sys.stdin.buffer.seekable()
        return int(run_batch(engine, kind, read_lines(sys.stdin.buffer, "<stdin>"), "<stdin>", out.write,
                             flush=out.flush if stream else None, settle=gc.freeze, **options))
    if "\0" in args.batch:
        raise BadInput("a file name cannot contain a NUL byte", Location("--batch"))
    try:
        fh = open(args.batch, "rb")  # noqa: SIM115 - closed below; a FIFO streams too
    except IsADirectoryError:
        raise BadInput("is a directory, expected a JSON Lines file", Location(args.batch)) from None
    except FileNotFoundError:
        raise BadInput("no such file", Location(args.batch)) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", Location(args.batch)) from None
    with fh:
        _readable(fh.fileno(), args.batch)
        stream = stat.S_ISFIFO(os.fstat(fh.fileno()).st_mode)
        return int(run_batch(engine, kind, read_lines(fh, args.batch), args.batch, out.write,
                             flush=out.flush if stream else None, settle=gc.freeze, **options))
