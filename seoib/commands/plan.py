"""`seoib plan FLEET.yaml --target SPEC`: compute rollout waves that `seoib check` accepts.

Problems the fleet has before the first wave (VMs storming today) are reported, never a
reason to refuse: the plan is the order that fixes the most VMs without causing a
block, leaving out (and naming) host entries whose upgrade cannot be made safe.

stdout (or --out) carries the plan and nothing else; what it does and why goes to
stderr. The exit code is the one `seoib check` gives the plan: 0 nothing above notes;
1 warnings (including problems the fleet has before it); 2 something blocks (problems
the fleet already has), or no rollout fixes VMs without causing a block (the reasons on
stderr, no plan written); 3 bad fleet file, target or rules; 4 the simulator does not
reproduce a verdict.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import BadInput, Location, SpecError
from ..files import replace_file
from ..plan.planfile import HOST_SPEC_KEYS, load_plan
from ..plan.planner import plan_rollout
from ..rules.specs import spec_items
from .common import add_rules, rules_of

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fleet", metavar="FLEET.yaml",
                        help="hosts and vms as in a plan (an existing rollout is ignored)")
    parser.add_argument("--target", metavar="SPEC", required=True,
                        help="host spec every host should reach, e.g. "
                             "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2")
    parser.add_argument("--max-batch", metavar="N", type=int,
                        help="at most N host entries (hosts or groups) per wave")
    parser.add_argument("--out", metavar="FILE", help="write the plan here (atomically), not stdout")
    add_rules(parser)


def _target(text: str) -> dict[str, str]:
    where = Location("--target")
    items = spec_items(text, where)
    for key in items:
        if key not in HOST_SPEC_KEYS or key == "machines":
            raise SpecError(f"unknown target key {key!r} (known: kernel, x2apic-api, qemu, seoib)",
                            where)
    return items


def _say(line: str) -> None:
    sys.stderr.write(f"seoib plan: {line}\n")


def run(args: argparse.Namespace) -> int:
    if args.max_batch is not None and args.max_batch < 1:
        raise BadInput("--max-batch must be at least 1")
    target = _target(args.target)
    rs = rules_of(args)
    fleet = load_plan(args.fleet)
    result = plan_rollout(fleet, target, rs, max_batch=args.max_batch,
                          source=args.out or "<seoib plan>")
    chosen = result.chosen
    if chosen is None:
        sys.stderr.write(f"seoib plan: no rollout towards {args.target} fixes VMs of {args.fleet} "
                         "without causing a block:\n")
        for reason in dict.fromkeys(result.reasons):
            sys.stderr.write(f"  - {reason}\n")
        if result.outcome is not None and not result.outcome.exhausted:
            _say(f"the search stopped after {result.outcome.tried} steps tried; a larger fleet "
                 "may have an order it did not reach")
        return 2
    report = chosen.report
    if report.disagreements:
        sys.stderr.write(f"seoib: error: the simulator does not reproduce "
                         f"{len(report.disagreements)} verdicts\n")
        return 4
    if args.out:
        replace_file(args.out, chosen.text.encode(), "--out")
    else:
        sys.stdout.write(chosen.text)
    c, pre = report.counts(), report.pre_existing()
    caused = {sev: c[sev] - pre[sev] for sev in c}
    outcome = result.outcome
    _say(f"strategy {chosen.name}, {len(report.waves)} waves; fixes {report.fixed_vms} VMs (at "
         f"their next cold boot) of {outcome.bound if outcome else report.fixed_vms} a reachable "
         f"stack could fix; the rollout causes {caused['block']} blocking, {caused['warn']} "
         f"warnings, {caused['info']} notes; before it the fleet already has {pre['block']} "
         f"blocking, {pre['warn']} warnings (seoib check on the plan lists them)")
    for constraint in chosen.constraints:
        _say(f"constraint: {constraint}")
    for block, why in chosen.left.items():
        _say(f"left out: {block} {why}")
    return report.exit_code("warn")
