"""A VM group may be spread over several host entries, in proportion to their sizes."""

from __future__ import annotations

from seoib.matrix.fleet import load_fleet
from seoib.paths import builtin_fleets_dir
from seoib.plan.planfile import loads_plan

PLAN = """
hosts:
  - {group: a, count: 30, kernel: 6.12.40, qemu: 10.2.0}
  - {group: b, count: 10, kernel: 7.0.3, qemu: 11.0.0}
vms:
  - {group: web, count: 101, hosts: [a, b], machine: pc-q35-10.2}
"""


def test_group_spread_over_host_entries() -> None:
    plan = loads_plan(PLAN)
    assert [(v.name, v.host, v.count) for v in plan.vms] == [("web", "a", 76), ("web", "b", 25)]


def test_check_and_designs_read_one_format() -> None:
    fleet = load_fleet(builtin_fleets_dir() / "representative.yaml")
    web = next(v for v in fleet.vms if v.name == "web")
    assert len(web.placement) == 4 and sum(c for _, c in web.placement) == web.count


def test_plan_data_round_trips_spread_groups_capacity_and_snapshots() -> None:
    from seoib.plan.planner import dump_plan

    text = PLAN.replace("count: 10, kernel", "count: 10, capacity: 12, kernel").replace(
        "machine: pc-q35-10.2}", "machine: pc-q35-10.2, snapshots: true}")
    plan = loads_plan(text)
    again = loads_plan(dump_plan(plan.as_data(), []))
    assert [(v.name, v.host, v.count, v.snapshots) for v in again.vms] == [
        ("web", "a", 76, True), ("web", "b", 25, True)]
    assert [h.capacity for h in again.hosts] == [None, 12]
    assert again.as_data() == plan.as_data()
