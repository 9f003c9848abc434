"""`seoib rules validate [DIR]`: check a rule set (schema, references, cycles, conflicts)."""

from __future__ import annotations

import argparse
import sys

from ..rules.ruleset import load_rules
from .common import path_arg
from .output import add_quiet

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="rules_command", metavar="validate", required=True)
    validate = sub.add_parser("validate", help="check a rule directory; exit 0 or 3")
    validate.add_argument("dir", nargs="?", type=path_arg,
                          help="rule directory (default: built-in rules)")
    validate.add_argument("--rules", dest="rules_opt", metavar="DIR", action="append", type=path_arg,
                          help=argparse.SUPPRESS)
    add_quiet(validate)


def run(args: argparse.Namespace) -> int:
    root = [*([args.dir] if args.dir else []), *(args.rules_opt or [])] or None
    rs = load_rules(root, use_cache=False)
    counts = {name: len(q.rules) for name, q in rs.queries.items()}
    sys.stdout.write(f"rules OK: {rs.root} (digest {rs.digest[:12]}); "
                     + ", ".join(f"{n}: {c} rule instances" for n, c in counts.items()) + "\n")
    return 0
