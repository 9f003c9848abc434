"""The planner against a brute force: it fixes as many VMs as the best safe order.

For fleets of up to five host groups (and six steps in all), the brute force tries
every order of single-group waves in which each group takes its kernel and its QEMU
step in either order, stopping anywhere, and keeps what `seoib check` accepts: no block the rollout
causes (what the fleet suffers before the first wave is never a reason to refuse).
It knows nothing of the planner (no blocks, no ways, no search, no copies of a
rollout): plain plan files through `check_plan`. The planner must fix at least as
many VMs as the best order found (it may do better: it also parks QEMU builds and
takes both steps at once), propose a plan whenever that order fixes any VM, and its
plan must pass the same check.

``SEOIB_ORACLE_EXAMPLES`` sets how many fleets are drawn (default 25); ``pytest -s``
prints how many the two fix alike and how many the planner fixes more of.
"""

from __future__ import annotations

import os
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from seoib.errors import Location
from seoib.plan.checker import check_plan
from seoib.plan.fleetclasses import FleetClasses
from seoib.plan.planfile import loads_plan
from seoib.plan.planner import plan_rollout
from seoib.rules.ruleset import load_rules

_RULES = load_rules()
STACKS = [("6.12.40", "10.2.0", None), ("6.18.16", "11.0.0", "rfc-v2"),
          ("6.18.17", "11.0.0", "rfc-v2"), ("7.0.3", "11.0.0", "rfc-v2"),
          ("7.0.3", "10.2.0", None), ("6.18.16", "10.2.0", None)]
VMS = [("pc-q35-10.2", "split", "windows-hyperv"), ("pc-q35-10.2", "split", "any"),
       ("pc-q35-10.2", "on", "linux"), ("pc-i440fx-10.0", "split", "linux")]
TARGETS = [{"kernel": "7.0.3", "qemu": "11.0.0", "seoib": "rfc-v2"}, {"kernel": "6.18.17"},
           {"kernel": "7.0.3"}]
TALLY = {"same": 0, "more": 0, "none": 0}

groups = st.lists(st.tuples(st.sampled_from(range(len(STACKS))), st.integers(1, 3),
                            st.lists(st.tuples(st.sampled_from(range(len(VMS))),
                                               st.integers(1, 4)), max_size=2)),
                  min_size=1, max_size=5)


def _fleet(drawn: list[tuple[int, int, list[tuple[int, int]]]]) -> dict[str, Any]:
    hosts, vms = [], []
    for g, (stack, count, kinds) in enumerate(drawn):
        kernel, qemu, seoib = STACKS[stack]
        hosts.append({"group": f"g{g}", "count": count, "kernel": kernel, "qemu": qemu,
                      **({"seoib": seoib} if seoib else {})})
        for v, (kind, per_host) in enumerate(kinds):
            machine, irqchip, guest = VMS[kind]
            vms.append({"group": f"g{g}-v{v}", "count": per_host * count, "hosts": f"g{g}",
                        "machine": machine, "irqchip": irqchip, "guest": guest})
    return {"hosts": hosts, "vms": vms}


def _steps(host: dict[str, Any], target: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    kernel = {k: target[k] for k in ("kernel",) if k in target and host.get(k) != target[k]}
    qemu = {k: target[k] for k in ("qemu", "seoib") if k in target and host.get(k) != target[k]}
    return [(name, change) for name, change in (("kernel", kernel), ("qemu", qemu)) if change]


def _check(fleet: dict[str, Any], waves: list[tuple[str, dict[str, Any]]], shared: FleetClasses
           ) -> tuple[bool, int]:
    plan = {**fleet, "rollout": [{"name": f"w{i}", "hosts": [name], "set": change}
                                 for i, (name, change) in enumerate(waves)]}
    report = check_plan(loads_plan(yaml.safe_dump(plan, sort_keys=False)), _RULES, fleet=shared)
    safe = not any(f.severity == "block" and f.cause == "rollout" for f in report.findings)
    return safe, report.fixed_vms


def _bound(fleet: dict[str, Any], target: dict[str, Any], shared: FleetClasses) -> int:
    """VMs that boot badly now and fine on some stack a group's steps reach: no order of
    those steps fixes more (a cold boot at the end is what fixes a VM)."""
    plan = loads_plan(yaml.safe_dump(fleet, sort_keys=False))
    total = 0
    for v in plan.vms:
        host = plan.hosts[plan.host_index(v.host)]
        steps = [change for _, change in _steps(dict(host.spec), target)]
        specs = [dict(host.spec), *({**host.spec, **c} for c in steps)]
        if len(steps) == 2:
            specs.append({**host.spec, **steps[0], **steps[1]})
        stacks = [shared.host_class(s, Location("oracle")) for s in specs]
        before = shared.boot(shared.vm_class(v.spec, stacks[0]))["severity"]
        if before != "ok" and any(shared.registers(h, shared.vm_class(v.spec, h))
                                  and shared.boot(shared.vm_class(v.spec, h))["severity"] == "ok"
                                  for h in stacks[1:]):
            total += v.count
    return total


def brute_force(fleet: dict[str, Any], target: dict[str, Any]) -> int:
    """The most VMs any safe order of single-group waves fixes (both step orders, any prefix);
    every order is tried unless one reaches what no order can pass."""
    shared = FleetClasses(_RULES)
    ways = {h["group"]: [s, s[::-1]] if len(s) == 2 else [s]
            for h in fleet["hosts"] for s in [_steps(h, target)]}
    bound = _bound(fleet, target, shared)
    best = 0

    def walk(waves: list[tuple[str, dict[str, Any]]], chosen: dict[str, int],
             done: dict[str, int]) -> None:
        nonlocal best
        if best >= bound:
            return
        for group, options in ways.items():
            for w, way in enumerate(options):
                if (group in chosen and chosen[group] != w) or done.get(group, 0) >= len(way):
                    continue  # one order per group, and each step once
                step = way[done.get(group, 0)]
                tried = [*waves, (group, step[1])]
                safe, fixed = _check(fleet, tried, shared)
                if safe:
                    best = max(best, fixed)
                    walk(tried, {**chosen, group: w}, {**done, group: done.get(group, 0) + 1})

    walk([], {}, {})
    return best


@settings(max_examples=int(os.environ.get("SEOIB_ORACLE_EXAMPLES", "25")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(groups, st.sampled_from(range(len(TARGETS))))
def test_the_planner_fixes_as_many_vms_as_the_best_safe_order(drawn: list, t: int) -> None:
    fleet, target = _fleet(drawn), TARGETS[t]
    # Every order of more than six steps is more than a test can afford to try.
    assume(sum(len(_steps(h, target)) for h in fleet["hosts"]) <= 6)
    best = brute_force(fleet, target)
    result = plan_rollout(loads_plan(yaml.safe_dump(fleet, sort_keys=False)), target, _RULES)
    fixed = result.chosen.report.fixed_vms if result.chosen else 0
    if result.chosen is not None:  # the plan it wrote passes the check, from its own text
        caused = [f for f in result.chosen.report.findings
                  if f.severity == "block" and f.cause == "rollout"]
        assert caused == []
    if best:
        assert result.chosen is not None, result.reasons
    assert fixed >= best, (fleet, target, result.reasons)
    TALLY["same" if fixed == best else "more"] += 1
    if not best and result.chosen is None:
        TALLY["none"] += 1


def teardown_module() -> None:
    print(f"\nplanner vs brute force: {TALLY['same']} fleets fixed alike, {TALLY['more']} "
          f"where the planner fixes more, {TALLY['none']} where neither fixes any VM")
