"""A finished simulation leaves no reference cycles: its objects are freed as soon as
the witness is built, so a long batch can keep the cycle collector off what it keeps."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.sim import SimHost, SimVM, simulate_boot, simulate_migration, simulate_snapshot
from seoib.sim.config import DESIGNS, GUESTS

hosts = st.builds(SimHost, seoib=st.sampled_from([d for d in DESIGNS if d != "machine-gated"]),
                  x2apic_api=st.sampled_from([0x3, 0xF]), split_irqchip=st.booleans())
vms = st.builds(SimVM, irqchip=st.sampled_from(["on", "split", "off"]), guest=st.sampled_from(GUESTS))


@contextmanager
def _cyclic_garbage() -> Iterator[list[object]]:
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list[object] = []
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@settings(max_examples=40, deadline=None)
@given(hosts, hosts, vms)
def test_boot_migration_and_restore_leave_no_cycles(src: SimHost, dst: SimHost, vm: SimVM) -> None:
    with _cyclic_garbage() as garbage:
        simulate_boot(src, vm)
        simulate_migration(src, dst, vm)
        simulate_snapshot(src, dst, vm)
    assert [type(o).__qualname__ for o in garbage] == []
