"""A sample of the class space's witnesses, kept as a golden file (SEOIB_UPDATE_GOLDEN=1
rewrites it).

The simulator and its bridge are tuned for the class-space sweep (one boot per source,
inputs built once per resolved object): the runs they witness must not change. Each line
is one class pair (or, for power-on, one class on one stack): the outcome, findings,
states, counters and the source's runstate as the simulator saw them, and a digest of its
events (the event text itself is in the verdict goldens beside this file). Both paths are
held: the sweep's (``check_*``) and the verdict's (``*_verdict``), whose witnesses are one.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

from seoib.query.classes import stack_classes, vm_classes
from seoib.query.verdicts import check_migrate, check_policy, migrate_verdict, policy_verdict
from seoib.rules.ruleset import RuleSet

GOLDEN = Path(__file__).parent / "golden" / "witness-sample.jsonl"
FIELDS = ("outcome", "findings", "state", "src_state", "dst_state", "source_runstate", "counters")


def _line(label: str, witness: dict[str, Any]) -> str:
    kept = {k: witness[k] for k in FIELDS if k in witness}
    events = "\n".join(witness["events"]).encode()
    return json.dumps({"pair": label, **kept, "events": len(witness["events"]),
                       "events_sha256": hashlib.sha256(events).hexdigest()[:16]}, sort_keys=True)


def sample(rs: RuleSet) -> list[str]:
    """250 (stack, VM class of the wider space) pairs for power-on, 350 (source,
    destination, VM class) triples each for live migration and snapshot, drawn with a
    fixed seed."""
    r = rs.resolver
    stacks = stack_classes(rs)
    vms = vm_classes(rs)
    draw = random.Random(27)
    wide = vm_classes(rs, irqchips=(None, "on", "split", "off"), ioapics=(None, "0x11", "0x20"),
                      x2apic=(True, False), policies=("quirked", "respected", "not-advertised"))
    lines = []
    for _ in range(250):
        stack, vmc = draw.choice(stacks), draw.choice(wide)
        host = r.host(stack.spec())
        vm = r.vm(vmc.spec(), host)
        outcome, swept = check_policy(rs, host, vm)
        whole = policy_verdict(rs, host, vm)["witness"]
        assert whole == swept and outcome == whole["outcome"]
        lines.append(_line(f"policy {stack.key} | {vmc.label}", swept))
    for snapshot in (False, True):
        for _ in range(350):
            src, dst, vmc = draw.choice(stacks), draw.choice(stacks), draw.choice(vms)
            s, d = r.host(src.spec()), r.host(dst.spec())
            vm = r.vm(vmc.spec(), s)
            outcome, swept = check_migrate(rs, s, d, vm, snapshot=snapshot)
            whole = migrate_verdict(rs, s, d, vm, snapshot=snapshot)["witness"]
            assert whole == swept and outcome == whole["outcome"]
            mode = "snapshot" if snapshot else "live"
            lines.append(_line(f"{mode} {src.key} -> {dst.key} | {vmc.label}", swept))
    return lines


def test_sampled_witnesses_are_unchanged(rules: RuleSet) -> None:
    lines = sample(rules)
    if os.environ.get("SEOIB_UPDATE_GOLDEN"):
        GOLDEN.write_text("".join(f"{line}\n" for line in lines))
    kept = GOLDEN.read_text().splitlines()
    changed = [f"{a}\n  now {b}" for a, b in zip(kept, lines, strict=False) if a != b]
    assert len(kept) == len(lines), f"{len(kept)} sampled pairs kept, {len(lines)} now"
    assert not changed, f"{len(changed)} witnesses changed, first:\n{changed[0]}"
    outcomes = {json.loads(line)["outcome"] for line in lines}
    assert {"ok", "storm-risk", "refused", "dest-abort", "unsupported"} <= outcomes, outcomes
