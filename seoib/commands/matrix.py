"""`seoib matrix`: write (or --check) the policy and migration matrices."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import BadInput, Location
from ..matrix.artifacts import FORMATS, diff_summary, parse_formats, render
from ..matrix.atomic import check_target, write_atomically
from ..matrix.progress import Progress
from .common import add_rules, path_arg, rules_of

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default="matrix", type=path_arg,
                        help="output directory (default: matrix/): new, empty, or one seoib "
                             "matrix wrote; its files are replaced as one set")
    parser.add_argument("--format", default=",".join(FORMATS), metavar="LIST",
                        help=f"comma-separated formats (default: {','.join(FORMATS)})")
    parser.add_argument("--check", action="store_true",
                        help="rebuild in memory; exit 0 if DIR is current, 2 if not")
    add_rules(parser)


def run(args: argparse.Namespace) -> int:
    formats = parse_formats(args.format)
    if not args.out.strip():  # Path("") is ".": it would write into the current directory
        raise BadInput("empty path (give a directory, e.g. --out matrix)", Location("--out"))
    out = Path(args.out)
    if not args.check:
        # Refuse a bad target before minutes of work, and again when writing.
        check_target(out, [n for f in formats for n in FORMATS[f]])
    rs = rules_of(args)
    progress = Progress("seoib matrix")
    try:
        files = render(rs, formats, progress=progress)
    finally:
        progress.close()
    if args.check:
        stale = diff_summary(out, files)
        if stale:
            files_differ = sum(1 for x in stale if not x.startswith("  "))
            sys.stdout.write(f"{out}: not current ({files_differ} "
                             f"file(s) differ); run seoib matrix --out {out}\n")
            sys.stdout.write("".join(f"{line}\n" for line in stale))
            return 2
        sys.stdout.write(f"{out}: current ({len(files)} files)\n")
        return 0
    write_atomically(out, files)
    sys.stdout.write(f"wrote {len(files)} files to {out}\n")
    return 0
