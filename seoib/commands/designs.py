"""`seoib designs`: compare the QEMU SEOIB designs on a fleet, with counts."""

from __future__ import annotations

import argparse
import sys

from ..matrix.designs import compare_designs
from ..matrix.designs_md import designs_markdown
from ..matrix.fleet import default_fleet_path, load_fleet
from .common import add_rules, emit_json, path_arg, rules_of

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", nargs="?", metavar="PLAN.yaml", type=path_arg,
                        help="fleet plan (hosts and vms); default: the built-in representative fleet")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    add_rules(parser)


def run(args: argparse.Namespace) -> int:
    rs = rules_of(args)
    path = args.plan or default_fleet_path()
    report = compare_designs(rs, load_fleet(path))
    if args.format == "json":
        emit_json(report)
    else:
        source = args.plan or f"fleets/{default_fleet_path().name}"
        sys.stdout.write(designs_markdown(report, source=source).decode())
    return 0
