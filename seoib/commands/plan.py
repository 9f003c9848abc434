"""`seoib plan FLEET.yaml --target SPEC`: compute rollout waves that `seoib check` accepts.

Problems the fleet has before the first wave (VMs storming today) are reported, never a
reason to refuse: the plan is the order that fixes the most VMs without causing a
block, leaving out (and naming) host entries whose upgrade cannot be made safe.
Exit: 0 a plan whose check has nothing above notes; 1 a plan with warnings, with
problems that exist before it, or that leaves host entries as they are; 2 no
rollout fixes VMs without causing a block (the reasons are printed); 3 bad fleet
file, target or rules; 4 the simulator does not reproduce a verdict.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import BadInput, Location, SpecError
from ..files import replace_file
from ..plan.planfile import HOST_SPEC_KEYS, load_plan
from ..plan.planner import left_text, plan_rollout
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


def run(args: argparse.Namespace) -> int:
    if args.max_batch is not None and args.max_batch < 1:
        raise BadInput("--max-batch must be at least 1")
    target = _target(args.target)
    rs = rules_of(args)
    fleet = load_plan(args.fleet)
    result = plan_rollout(fleet, target, rs, max_batch=args.max_batch,
                          source=args.out or "<seoib plan>")
    disagreements = [d for s in result.strategies if s.report for d in s.report.disagreements]
    if disagreements:
        sys.stderr.write(f"seoib: error: the simulator does not reproduce {len(disagreements)} "
                         "verdicts\n")
        return 4
    chosen = result.chosen
    if chosen is None:
        lines = [f"seoib: no rollout towards {args.target} fixes VMs of {args.fleet} without "
                 "causing a block:"]
        for s in result.strategies:
            left = "; ".join(left_text(fleet, e, keep) for e, (keep, _) in s.left.items())
            lines.append(f"  {s.name}" + (f" ({left})" if left else "") + ":")
            lines.extend(f"    - {p}" for p in dict.fromkeys(s.problems))
            if s.report is not None and not s.problems:
                lines.append("    - safe, but fixes no VM")
        sys.stdout.write("\n".join(lines) + "\n")
        return 2
    assert chosen.text is not None and chosen.report is not None
    if args.out:
        replace_file(args.out, chosen.text.encode(), "--out")
    else:
        sys.stdout.write(chosen.text)
    report = chosen.report
    c, pre = report.counts(), report.pre_existing()
    caused = {sev: c[sev] - pre[sev] for sev in c}
    sys.stderr.write(f"seoib plan: strategy {chosen.name}, {len(report.waves)} waves; fixes "
                     f"{report.fixed_vms} VMs (at their next cold boot); the rollout causes "
                     f"{caused['block']} blocking, {caused['warn']} warnings, {caused['info']} "
                     f"notes; before it the fleet already has {pre['block']} blocking, "
                     f"{pre['warn']} warnings (seoib check on the plan lists them)\n")
    for e, (keep, why) in chosen.left.items():
        sys.stderr.write(f"seoib plan: {left_text(fleet, e, keep)}: {why}\n")
    return 1 if caused["warn"] or pre["block"] or pre["warn"] or chosen.left else 0
