"""`seoib check PLAN.yaml`: does a rollout keep every VM safe and evacuable at every step.

Exit: 0 ok (notes only); 1 warnings only; 2 something blocks; 3 bad plan or
rules; 4 the simulator does not reproduce a verdict. ``--fail-on`` sets the
lowest severity that makes the exit non-zero: ``warn`` (the default) keeps the
0/1/2 meaning above; ``block`` lets warnings exit 0.
"""

from __future__ import annotations

import argparse
import sys

from ..plan.checker import check_plan
from ..plan.planfile import load_plan
from ..plan.report import RENDERERS, render
from .common import add_rules, rules_of

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", metavar="PLAN.yaml", help="fleet rollout plan (hosts, vms, rollout)")
    parser.add_argument("--format", choices=tuple(RENDERERS), default="text")
    parser.add_argument("--fail-on", choices=("warn", "block"), default="warn",
                        help="lowest severity with a non-zero exit (default warn: warnings exit 1, "
                             "blocks 2; block: warnings exit 0)")
    add_rules(parser)


def run(args: argparse.Namespace) -> int:
    rs = rules_of(args)
    plan = load_plan(args.plan)
    report = check_plan(plan, rs)
    sys.stdout.write(render(report, args.format, args.fail_on))
    if report.disagreements:
        sys.stderr.write(f"seoib: error: the simulator does not reproduce "
                         f"{len(report.disagreements)} verdicts of this plan\n")
    return report.exit_code(args.fail_on)
