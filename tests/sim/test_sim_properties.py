"""Hypothesis: random register-level operations keep the hardware invariants, and the
public API always answers with an outcome from the contract."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from seoib.query.witness import sim_assumptions
from seoib.rules.ruleset import load_rules
from seoib.sim import (
    BOOT_OUTCOMES,
    MIGRATION_OUTCOMES,
    SimHost,
    SimVM,
    simulate_boot,
    simulate_migration,
    simulate_snapshot,
)
from seoib.sim.api import _boot_once, forget
from seoib.sim.config import DESIGNS, GUESTS, SEOIB_POLICIES
from seoib.sim.ioapic import RTE_LEVEL, RTE_MASK, RTE_REMOTE_IRR, RTE_VECTOR, Ioapic, rte
from seoib.sim.kvm import IRQCHIP_KERNEL, Kvm
from seoib.sim.lapic import LVR_SEOIB, SVR_ENABLE, SVR_SEOIB
from seoib.sim.outcome import FINDING_ORDER

PINS = 4
VECTORS = st.sampled_from([0x31, 0x32, 0x45, 0x61, 0x62, 0xA0])


class SpyIoapic(Ioapic):
    """Records the order of deliveries and EOI messages, and what was masked when."""

    __slots__ = ("clock", "last_delivery", "last_eoi", "last_level", "masked_deliveries", "seen", "target")

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.clock = 0
        self.last_delivery: dict[int, int] = {}  # pin -> clock
        self.last_eoi: dict[int, int] = {}  # pin -> clock of the last EOI matching its vector
        self.seen = list(self.delivered)
        self.last_level: dict[int, bool] = {}
        self.masked_deliveries = 0
        self.target: Any = None
        self.sink = self._spy_sink

    def _spy_sink(self, vector: int, level: bool) -> bool | None:
        senders = [e for e in self.redir if e & RTE_VECTOR == vector]
        if senders and all(e & RTE_MASK for e in senders):
            self.masked_deliveries += 1
        self.clock += 1
        for pin, count in enumerate(self.delivered):
            if count != self.seen[pin]:
                self.seen[pin] = count
                self.last_delivery[pin] = self.clock
        accepted = self.target(vector, level)
        if accepted:  # a software-disabled LAPIC refuses: IRR and TMR untouched
            self.last_level[vector] = level
        return accepted

    def eoi_broadcast(self, vector: int) -> None:
        self.clock += 1
        for pin, entry in enumerate(self.redir):
            if entry & RTE_VECTOR == vector:
                self.last_eoi[pin] = self.clock
        super().eoi_broadcast(vector)


class RegisterMachine(RuleBasedStateMachine):
    """One vCPU, one IOAPIC, random ioctls, guest register writes and line changes."""

    @initialize(
        irqchip=st.sampled_from(["split", "on", "off"]),
        version=st.sampled_from([0x11, 0x20]),
        api=st.sampled_from([0x0, 0x3, 0xF]),
    )
    def setup(self, irqchip: str, version: int, api: int) -> None:
        self.kvm_vm = Kvm(api, True).create_vm()
        if irqchip != "off":
            assert self.kvm_vm.create_irqchip(irqchip) == 0
        self.io = SpyIoapic(0x11 if irqchip == IRQCHIP_KERNEL else version)
        if irqchip == IRQCHIP_KERNEL:
            self.kvm_vm.kernel_ioapic = self.io
            self.io.kernel = True
        else:
            self.kvm_vm.eoi_exit = self.io.eoi_broadcast
        self.vcpu = self.kvm_vm.create_vcpu()
        self.io.target = self.vcpu.lapic.accept
        self.lapic = self.vcpu.lapic
        self.svr12_source: str | None = None  # who put SVR bit 12 there
        self.lvr_before = self.lapic.lvr
        self.recomputed = False

    def _step(self, recompute: bool = False) -> None:
        self.lvr_before = self.lapic.lvr
        self.recomputed = recompute

    # -- ioctls ---------------------------------------------------------
    @rule(flags=st.integers(0, 0xF))
    def enable_cap(self, flags: int) -> None:
        self._step()
        before = self.kvm_vm.mode
        result = self.kvm_vm.enable_cap_x2apic_api(flags)
        if before != "QUIRKED":
            assert self.kvm_vm.mode != "QUIRKED", "one-way: never back to QUIRKED"
        if result < 0:
            assert self.kvm_vm.mode == before

    @rule(x2apic=st.booleans())
    def set_cpuid(self, x2apic: bool) -> None:
        ran, before = self.vcpu.has_run, self.vcpu.cpuid_x2apic
        self._step(recompute=not ran)  # after the first run KVM leaves LVR alone
        result = self.vcpu.set_cpuid(x2apic)
        if ran:
            assert self.vcpu.cpuid_x2apic == before, "the CPUID does not change once the vCPU ran"
            assert result == (0 if x2apic == before and self.vcpu.cpuid_set else -22)

    @rule()
    def enter(self) -> None:
        self._step()
        self.vcpu.enter()

    @rule(svr=st.integers(0, 0x1FFF))
    def set_lapic(self, svr: int) -> None:
        state = self.vcpu.get_lapic()
        if not self.vcpu.in_kernel_lapic:  # KVM has no LAPIC to get or set: EINVAL, nothing set
            self._step()
            assert state == -22 and self.vcpu.set_lapic((svr, 0, 0, 0)) == -22
            return
        self._step(recompute=True)
        assert not isinstance(state, int)
        _, irr, isr, tmr = state
        self.vcpu.set_lapic((svr, irr, isr, tmr))
        self.svr12_source = "userspace" if svr & SVR_SEOIB else None
        assert self.lapic.svr & SVR_SEOIB == svr & SVR_SEOIB, "SET_LAPIC copies SPIV12 verbatim"

    @rule()
    def reset(self) -> None:
        self._step(recompute=True)
        self.vcpu.reset()
        self.svr12_source = None

    # -- guest ----------------------------------------------------------
    @rule(svr=st.integers(0, 0x1FFF))
    def guest_write_svr(self, svr: int) -> None:
        self._step()
        lvr24 = bool(self.lapic.lvr & LVR_SEOIB)
        self.vcpu.guest_write_svr(svr)
        kept = bool(self.lapic.svr & SVR_SEOIB)
        assert kept == (bool(svr & SVR_SEOIB) and lvr24), "bit 12 is reserved without LVR24"
        self.svr12_source = "guest" if kept else None

    @rule(pin=st.integers(0, PINS - 1), vector=VECTORS, level=st.booleans(), mask=st.booleans())
    def write_rte(self, pin: int, vector: int, level: bool, mask: bool) -> None:
        self._step()
        self.io.write_rte(pin, rte(vector, level, mask))

    @rule(pin=st.integers(0, PINS - 1), level=st.integers(0, 1))
    def line(self, pin: int, level: int) -> None:
        self._step()
        irr, disabled = self.lapic.irr, not self.lapic.svr & SVR_ENABLE
        self.io.set_line(pin, level)
        if disabled:
            assert self.lapic.irr == irr, "a software-disabled LAPIC accepted a fixed interrupt"

    @rule()
    def take(self) -> None:
        self._step()
        self.lapic.ack()

    @rule()
    def guest_eoi(self) -> None:
        self._step()
        self.vcpu.guest_eoi(self.io.level_vectors)

    @rule(vector=VECTORS)
    def guest_eoir(self, vector: int) -> None:
        self._step()
        self.io.write_eoir(vector)

    @rule()
    def timer(self) -> None:
        self._step()
        self.io.fire_delayed()

    # -- invariants -----------------------------------------------------
    @invariant()
    def remote_irr_only_for_delivered_un_eoid_level_entries(self) -> None:
        for pin, entry in enumerate(self.io.redir):
            if entry & RTE_REMOTE_IRR:
                assert entry & RTE_LEVEL, f"pin {pin}: Remote IRR on an edge entry"
                assert self.io.delivered[pin] > 0, f"pin {pin}: Remote IRR but never delivered"
                assert self.io.last_delivery[pin] > self.io.last_eoi.get(pin, 0), (
                    f"pin {pin}: Remote IRR survived an EOI for its vector"
                )
        mirror = sum(1 << p for p, e in enumerate(self.io.redir) if e & RTE_REMOTE_IRR)
        assert mirror == self.io.rirr

    @invariant()
    def isr_irr_consistent(self) -> None:
        lapic = self.lapic
        classes = set()
        for vector in range(256):
            if (lapic.isr >> vector) & 1:
                assert lapic.taken[vector] > 0, "in service but never taken"
                assert vector >> 4 not in classes, "two vectors of one class in service"
                classes.add(vector >> 4)
            if ((lapic.irr | lapic.isr) >> vector) & 1:
                # TMR follows the trigger mode of the latest acceptance of the vector
                assert bool((lapic.tmr >> vector) & 1) == self.io.last_level[vector]
            if (lapic.tmr >> vector) & 1:
                assert self.io.last_level.get(vector), "TMR set without a level acceptance"
        if lapic.irr and lapic.isr:
            pending = lapic.pending()
            if pending >= 0:
                assert pending >> 4 > (lapic.isr.bit_length() - 1) >> 4

    @invariant()
    def lvr_changes_only_at_recompute_points(self) -> None:
        if not self.recomputed:
            assert self.lapic.lvr == self.lvr_before
        else:
            expected = self.vcpu.in_kernel_lapic and self.vcpu.cpuid_x2apic and self.kvm_vm.advertise()
            assert bool(self.lapic.lvr & LVR_SEOIB) == expected

    @invariant()
    def nothing_delivered_while_masked(self) -> None:
        assert self.io.masked_deliveries == 0

    @invariant()
    def svr12_comes_from_a_kept_guest_write_or_set_lapic(self) -> None:
        assert bool(self.lapic.svr & SVR_SEOIB) == (self.svr12_source is not None)


RegisterMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRegisterMachine = RegisterMachine.TestCase


# -- the API never raises and stays inside the contract ---------------------------
# The rules' switches, as the witness passes them (machine-gated's gate is one).
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
).flatmap(
    # a user -global ioapic.version, when given, is the version the VM has
    lambda vm: st.sampled_from([vm, replace(vm, globals=(("ioapic.version", hex(vm.ioapic)),))])
)


@settings(max_examples=300, deadline=None)
@given(host=hosts, vm=vms, irqs=st.integers(0, 12))
def test_boot_always_answers_from_the_contract(host: SimHost, vm: SimVM, irqs: int) -> None:
    w = simulate_boot(host, vm, irqs, RULES)
    assert w.outcome in BOOT_OUTCOMES
    assert (w.state is None) == (w.outcome == "start-fails")
    if w.state is not None and vm.irqchip == "off":
        assert w.state.policy == "n/a"
    assert len(w.events) <= 64


@settings(max_examples=300, deadline=None)
@given(src=hosts, dst=hosts, vm=vms, irqs=st.integers(0, 12), snapshot=st.booleans())
def test_migration_always_answers_from_the_contract(
    src: SimHost, dst: SimHost, vm: SimVM, irqs: int, snapshot: bool
) -> None:
    fn = simulate_snapshot if snapshot else simulate_migration
    w = fn(src, dst, vm, irqs, RULES)
    assert w.outcome in MIGRATION_OUTCOMES
    assert list(w.findings) == sorted(w.findings, key=FINDING_ORDER.index)
    assert w.outcome == (w.findings[0] if w.findings else "ok")
    never_completed = w.outcome in ("unsupported", "refused", "dest-abort")
    assert (w.dst_state is None) == never_completed
    if not snapshot and w.src_state is not None and w.src_state.policy == "quirked":
        # no section is sent: a QUIRKED VM stays QUIRKED wherever it lands
        assert w.dst_state is None or w.dst_state.policy == "quirked"
    assert w == fn(src, dst, vm, irqs, RULES), "the simulator is deterministic"


@settings(max_examples=300, deadline=None)
@given(host=hosts, vm=vms)
def test_a_vm_that_boots_moves_to_an_identical_host(host: SimHost, vm: SimVM) -> None:
    """Every design's save and post_load agree with its own power-on: what a build starts,
    the same build on the same kernel can take in."""
    boot = simulate_boot(host, vm, 2, RULES)
    if boot.outcome == "start-fails":
        return
    w = simulate_migration(host, host, vm, 2, RULES)
    assert w.outcome not in ("unsupported", "refused", "dest-abort"), w.events
    assert w.dst_state is not None
    assert w.dst_state.lvr_seoib == boot.state.lvr_seoib  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(src=hosts, other=hosts, first=hosts, dst=hosts, vm=vms, irqs=st.integers(0, 12),
       modes=st.tuples(st.booleans(), st.booleans()))
def test_kept_boots_and_arrivals_change_nothing(src: SimHost, other: SimHost, first: SimHost,
                                                dst: SimHost, vm: SimVM, irqs: int,
                                                modes: tuple[bool, bool]) -> None:
    """A source is booted once for many migrations, and a destination takes a stream it
    was sent before once (seoib.sim.api): a run that reuses both, after other runs from
    them, observes what a run from nothing kept does (outcome, findings, states, counters,
    every event)."""
    fn = [simulate_snapshot if m else simulate_migration for m in modes]
    forget()
    alone = fn[1](src, dst, vm, irqs, RULES)
    forget()
    fn[0](other, dst, vm, irqs, RULES)  # perhaps the same stream from another source
    fn[0](src, first, vm, irqs, RULES)  # the same boot, another destination
    shared = fn[1](src, dst, vm, irqs, RULES)
    assert _boot_once.cache_info().hits >= 1
    assert shared == alone
    assert shared.events == alone.events and shared.counters == alone.counters


# A source that never started is migrated once per boot (seoib.sim.api ``_Boot.stranded``):
# its live migration sends nothing, reads nothing of the destination and runs no device
# event, so the kept witness stands for every destination and event count. A run that
# reuses it equals a run from nothing kept, and each caller gets a record of its own.
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
