"""Room on hosts: whole VMs per host, exact shortfalls, and spreading stranded VMs within
every bucket's room."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.plan.capacity import Bucket, Demand, Profile, place, shortfall, unplaced
from seoib.plan.checker import check_plan
from seoib.plan.planfile import loads_plan
from seoib.rules.ruleset import load_rules

_RULES = load_rules()

rooms = st.lists(st.tuples(st.integers(1, 50), st.one_of(st.none(), st.integers(0, 200))),
                 min_size=1, max_size=6)


@given(st.integers(0, 2000), rooms)
def test_place_keeps_every_vm_and_every_room(count: int, spec: list[tuple[int, int | None]]) -> None:
    buckets = [Bucket(i, hosts, free) for i, (hosts, free) in enumerate(spec)]
    shares, left = place(count, buckets)
    assert sum(shares.values()) + left == count
    for b in buckets:
        assert shares.get(b.entry, 0) <= b.room()
    if any(b.free is None for b in buckets):
        assert left == 0  # a host entry without a capacity takes whatever is left
    else:
        assert left == max(count - sum(b.free or 0 for b in buckets), 0)


@given(st.lists(st.integers(1, 100), min_size=1, max_size=4), rooms, st.data())
def test_unplaced_is_what_no_assignment_can_fit(counts: list[int],
                                                spec: list[tuple[int, int | None]],
                                                data: st.DataObject) -> None:
    buckets = [Bucket(i, hosts, free) for i, (hosts, free) in enumerate(spec)]
    demands = [Demand(i, n, frozenset(data.draw(st.sets(st.integers(0, len(spec) - 1)))))
               for i, n in enumerate(counts)]
    missing = unplaced(demands, buckets)
    total = sum(counts)
    assert 0 <= missing <= total
    stuck = sum(d.count for d in demands if not d.allowed)
    assert missing >= stuck  # nowhere to go is never room
    room = sum(b.room() for b in buckets)
    assert missing >= total - room
    everywhere = [Demand(d.key, d.count, frozenset(range(len(spec)))) for d in demands]
    assert unplaced(everywhere, buckets) == max(total - room, 0)  # one pool: plain arithmetic


@given(st.integers(1, 12), st.one_of(st.none(), st.integers(0, 20)),
       st.lists(st.integers(0, 60), max_size=4), st.data())
def test_room_is_each_hosts_own_in_whole_vms(hosts: int, capacity: int | None, loads: list[int],
                                            data: st.DataObject) -> None:
    """Profile.free over any run of hosts is the sum of each host's own free slots, with
    each kind of VM spread evenly, its remainder on the first hosts."""
    p = Profile(hosts, capacity, loads)
    per = [sum(n // hosts + (1 if j < n % hosts else 0) for n in loads) for j in range(hosts)]
    assert [p.load(j) for j in range(hosts)] == per and sum(per) == sum(loads)
    lo = data.draw(st.integers(0, hosts))
    hi = data.draw(st.integers(lo, hosts))
    want = None if capacity is None else sum(max(capacity - per[j], 0) for j in range(lo, hi))
    assert p.free(lo, hi) == want


@given(st.lists(st.integers(1, 100), min_size=1, max_size=5), rooms, st.data())
def test_halls_shortfall_is_the_flows(counts: list[int], spec: list[tuple[int, int | None]],
                                      data: st.DataObject) -> None:
    """shortfall (Hall's condition over the kinds of VMs) equals a max flow's shortfall."""
    buckets = [Bucket(i, hosts, free) for i, (hosts, free) in enumerate(spec)]
    demands = [Demand(i, n, frozenset(data.draw(st.sets(st.integers(0, len(spec) - 1),
                                                        min_size=1))))
               for i, n in enumerate(counts)]
    room = {i: b.free for i, b in enumerate(buckets)}
    assert shortfall([(d.count, d.allowed) for d in demands], room) == unplaced(demands, buckets)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.integers(1, 20), st.data())
def test_a_group_drain_fits_exactly_when_its_peers_hold_it(hosts: int, capacity: int,
                                                           data: st.DataObject) -> None:
    """A group whose VMs may go to any of its hosts: every drain fits if and only if the
    other hosts can hold all its VMs, (hosts - 1) x capacity; else exactly that many
    more find no room, whichever host is drained and however many are upgraded."""
    vms = data.draw(st.integers(0, hosts * capacity))
    plan = loads_plan(
        "hosts:\n"
        f"  - {{group: rack, count: {hosts}, capacity: {capacity}, kernel: 6.12.40, qemu: 10.2.0}}\n"
        + (f"vms:\n  - {{group: web, count: {vms}, hosts: rack, machine: pc-q35-10.2, "
           "guest: linux}\n" if vms else "")
        + "rollout:\n  - {name: kernels, hosts: [rack], set: {kernel: 7.0.3}}\n")
    found = [f for f in check_plan(plan, _RULES).findings if f.check == "check.capacity"]
    short = vms - (hosts - 1) * capacity
    if short <= 0:
        assert found == []
    else:
        assert len(found) == 1 and found[0].message.endswith(f"; {short} find none within capacity")
