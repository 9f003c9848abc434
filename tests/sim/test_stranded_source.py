"""A source that never started is migrated once per boot (seoib.sim.api ``_Boot.stranded``).

Its live migration sends nothing, so it reads nothing of the destination and runs no
device event: the kept witness stands for every destination and event count. These
properties hold a run that reuses it equal to a run from nothing kept, and each caller
to a record of its own.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from seoib.query.witness import sim_assumptions
from seoib.rules.ruleset import load_rules
from seoib.sim import SimHost, SimVM, simulate_boot, simulate_migration
from seoib.sim.api import _boot_once, forget
from seoib.sim.config import DESIGNS, GUESTS, SEOIB_POLICIES

RULES = sim_assumptions(load_rules().resolver)
hosts = st.builds(
    SimHost,
    name=st.just("h"),
    x2apic_api=st.sampled_from([0x0, 0x3, 0xB, 0xF]),
    split_irqchip=st.booleans(),
    seoib=st.sampled_from(DESIGNS),
    qemu_version=st.sampled_from(["2.7.0", "10.0.0", "10.2.1", "11.0.0+seoib"]),
    machines=st.one_of(st.none(), st.sampled_from([frozenset({"pc-q35-10.2"}), frozenset()])),
)
vms = st.builds(
    SimVM,
    machine=st.sampled_from(["pc-q35-10.2", "pc-q35-2.7", "microvm"]),
    machine_version=st.one_of(st.none(), st.tuples(st.integers(0, 12), st.integers(0, 2))),
    irqchip=st.sampled_from(["on", "split", "off"]),
    ioapic=st.sampled_from([0x11, 0x20]),
    x2apic=st.booleans(),
    guest=st.sampled_from(GUESTS),
    seoib_policy=st.one_of(st.none(), st.sampled_from(SEOIB_POLICIES)),
)


@settings(max_examples=200, deadline=None)
@given(src=hosts, dsts=st.lists(hosts, min_size=1, max_size=4), vm=vms,
       irqs=st.lists(st.integers(0, 12), min_size=4, max_size=4), failed=st.booleans())
def test_a_stranded_source_answers_as_from_nothing(src: SimHost, dsts: list[SimHost], vm: SimVM,
                                                   irqs: list[int], failed: bool) -> None:
    # Half the examples force a source that cannot start (a machine type it never registers).
    if failed:
        src = replace(src, machines=frozenset())
    forget()
    assume(simulate_boot(src, vm, 0, RULES).outcome == "start-fails")
    alone = []
    for dst, n in zip(dsts, irqs, strict=False):
        forget()
        alone.append(simulate_migration(src, dst, vm, n, RULES))
    forget()
    shared = [simulate_migration(src, dst, vm, n, RULES) for dst, n in zip(dsts, irqs, strict=False)]
    assert _boot_once.cache_info().hits >= len(dsts) - 1
    for a, s in zip(alone, shared, strict=True):
        assert s == a
        assert s.events == a.events and s.counters == a.counters
        assert s.outcome == "unsupported" and s.source_runstate == "not-started"
    # Each caller gets its own counters: changing one changes no later answer.
    shared[0].counters["deliveries"] = 99  # type: ignore[index]
    assert simulate_migration(src, dsts[0], vm, irqs[0], RULES).counters == alone[0].counters
