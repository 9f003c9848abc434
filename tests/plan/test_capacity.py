"""Room on hosts: spreading stranded VMs and fitting a drain respect every bucket's room."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from seoib.plan.capacity import Bucket, Demand, place, unplaced

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
