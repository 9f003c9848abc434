"""A rollout copied between two waves goes on exactly as the original would.

`seoib plan` tries waves on copies of one rollout; a copy that shared anything
mutable with its parent (a population, a count, a memo keyed by a version) would
make the planner judge a fleet that does not exist. Walking a plan wave by wave
through a fresh copy at every step must give the findings of one straight run,
and the parent must be left as it was.
"""

from __future__ import annotations

import yaml
from hypothesis import given, settings

from seoib.plan.fleetclasses import FleetClasses
from seoib.plan.planfile import loads_plan
from seoib.plan.rollout import Rollout
from seoib.rules.ruleset import load_rules

from .test_host_by_host import _fleet, racks, vm_groups, waves

_RULES = load_rules()


def _seen(findings: list) -> list[tuple]:
    return [(f.check, f.severity, f.wave, f.host, f.vm, f.population, f.vm_count, f.cause,
             f.message) for f in findings]


@settings(max_examples=40, deadline=None)
@given(racks, vm_groups, waves)
def test_a_copy_between_waves_goes_on_as_the_original(hosts: list, vms: list,
                                                      rollout: list) -> None:
    plan = loads_plan(yaml.safe_dump(_fleet(hosts, vms, rollout, by_host=False), sort_keys=False))
    fleet = FleetClasses(_RULES)
    straight = Rollout(plan, fleet).run()
    walk = Rollout(plan, fleet)
    walk.start()
    for wave in plan.rollout:
        before = _seen(walk.findings)
        parent, walk = walk, walk.fork()
        walk.wave(wave)
        assert _seen(parent.findings) == before  # the parent is left as it was
        parent.wave(wave)  # and goes on by itself as the copy did
        assert _seen(parent.findings) == _seen(walk.findings)
    result = walk.finish()
    assert _seen(result.findings) == _seen(straight.findings)
    assert (result.fixed_vms, result.broken_vms) == (straight.fixed_vms, straight.broken_vms)
