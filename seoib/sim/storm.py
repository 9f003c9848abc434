"""Skip the identical turns of a storm: exact, not an approximation.

A guest that EOIs its LAPIC before servicing the device, on a split QUIRKED VM,
makes the vCPU loop turn the same way again and again: the CPU takes the vector,
the EOI exits, QEMU's IOAPIC clears Remote IRR, sees the line still high and
delivers it again. Every turn leaves the registers as it found them and only adds
to counters and to the pin's successive-EOI count, until that count reaches
``SUCCESSIVE_EOI_LIMIT`` (10000) and the IOAPIC defers the re-delivery.

:func:`skip_turns` recognises such a turn from two points taken right after the
CPU took the vector (:func:`point`): the same registers, guest and device state,
exactly one pin whose successive count rose by one, and counters that only grew.
The turns still to come before that pin reaches the limit then do exactly what
the last one did, so their counters are added at once and the loop goes on with
the turn that reaches the limit. Anything else (a second pin counting, a device
serviced, a changed register) is not skipped.
"""

from __future__ import annotations

from itertools import compress
from operator import sub
from typing import Any

from .ioapic import SUCCESSIVE_EOI_LIMIT

__all__ = ["Point", "point", "skip_turns"]

# (registers and states that decide the next turn, counters a turn adds to)
Point = tuple[tuple[Any, ...], tuple[Any, ...]]


def point(m: Any) -> Point:
    """The machine right after the CPU took a vector: what decides a turn, what it counts."""
    lapic, io, vm = m.vcpu.lapic, m.ioapic, m.kvm_vm
    state = (lapic.irr, lapic.isr, lapic.tmr, lapic.svr, lapic.lvr, tuple(io.redir), io.lines,
             io.rirr, io.delayed, io.level_vectors, vm.mode, m.guest.get_state(),
             tuple((d.pending, d.mark) for d in m.devices))
    counts = (tuple(lapic.taken), vm.eoi_exits, tuple(io.delivered), tuple(io.successive),
              io.coalesced, io.throttled, io.eoir_writes, io.eoir_ignored,
              tuple((d.events, d.serviced, d.redeliveries, d.storms) for d in m.devices))
    return state, counts


def _changes(before: tuple[int, ...], after: tuple[int, ...]) -> list[tuple[int, int]]:
    """(index, after - before) where a counter moved. The differences and the indices of
    the non-zero ones are taken in C (``map``, ``compress``): the LAPIC's 256 vectors are
    compared on every turn a storm is looked at."""
    if before == after:
        return []
    deltas = list(map(sub, after, before))
    return [(i, deltas[i]) for i in compress(range(len(deltas)), deltas)]


def skip_turns(m: Any, before: Point, after: Point, budget: int) -> int:
    """Add the counters of the identical turns still to come; return how many were skipped.

    ``before`` and ``after`` are :func:`point` one turn apart; ``budget`` bounds the
    skip (the vCPU loop's safety net counts skipped turns too).
    """
    if before[0] != after[0]:
        return 0
    taken0, exits0, delivered0, successive0, *rest0 = before[1]
    taken1, exits1, delivered1, successive1, *rest1 = after[1]
    if rest0 != rest1:
        return 0
    rise = _changes(successive0, successive1)
    if len(rise) != 1 or rise[0][1] != 1:
        return 0
    pin = rise[0][0]
    # The next turn's EOI counts successive+1 and re-delivers while that stays below the limit.
    turns = min(SUCCESSIVE_EOI_LIMIT - 1 - successive1[pin], budget)
    if turns <= 0:
        return 0
    lapic, io = m.vcpu.lapic, m.ioapic
    for vector, d in _changes(taken0, taken1):
        lapic.taken[vector] += d * turns
    for p, d in _changes(delivered0, delivered1):
        io.delivered[p] += d * turns
    m.kvm_vm.eoi_exits += (exits1 - exits0) * turns
    io.successive[pin] += turns
    return turns
