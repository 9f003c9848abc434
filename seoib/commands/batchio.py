"""`--batch FILE|-` for `seoib policy` and `seoib migrate`: JSON Lines in, verdicts out."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

from ..errors import BadInput, Location

__all__ = ["add_batch", "run_batch_option", "single_options"]


def add_batch(parser: argparse.ArgumentParser, line: str) -> None:
    parser.add_argument("--batch", metavar="FILE", help=f"answer many queries: JSON Lines ({line} "
                        "per line, spec strings or objects) from FILE or - (stdin); one JSON "
                        "verdict per line on stdout, in order")


def single_options(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """The single-query options given beside --batch (which they cannot be)."""
    return [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None) not in (None, False)]


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


def _answer_all(args: argparse.Namespace, kind: str, engine: Any, run_batch: Any) -> int:
    out = sys.stdout
    if args.batch == "-":
        # A pipe or terminal streams: answer each line as it arrives.
        stream = not sys.stdin.buffer.seekable()
        return int(run_batch(engine, kind, sys.stdin.buffer, "<stdin>", out.write,
                             flush=out.flush if stream else None, settle=gc.freeze))
    try:
        fh = open(args.batch, "rb")  # noqa: SIM115 - closed below; a FIFO streams too
    except IsADirectoryError:
        raise BadInput("is a directory, expected a JSON Lines file", Location(args.batch)) from None
    except FileNotFoundError:
        raise BadInput("no such file", Location(args.batch)) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", Location(args.batch)) from None
    with fh:
        return int(run_batch(engine, kind, fh, args.batch, out.write, settle=gc.freeze))
