"""The simulator's hot paths, written out inline, do what their building blocks do.

``Lapic.ack`` is ``pending()`` then IRR -> ISR; ``KvmVcpu.guest_eoi`` is ``Lapic.eoi()``
followed by KVM's routing with ``suppress()``; ``Ioapic.eoi_broadcast`` (QEMU's) clears
Remote IRR and re-services through ``_service()``; ``Machine.wedged_pins`` reads the Remote IRR
mirror instead of every entry. Each is held against a walk through the building blocks
on random register states.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.sim import SimHost, SimVM
from seoib.sim.ioapic import (
    RTE_LEVEL,
    RTE_MASK,
    RTE_REMOTE_IRR,
    RTE_VECTOR,
    SUCCESSIVE_EOI_LIMIT,
    VERSION_PCI22,
    Ioapic,
)
from seoib.sim.kvm import (
    IRQCHIP_KERNEL,
    IRQCHIP_NONE,
    IRQCHIP_SPLIT,
    MODE_DISABLED,
    MODE_ENABLED,
    MODE_QUIRKED,
    Kvm,
    KvmVcpu,
)
from seoib.sim.lapic import SVR_SEOIB, Lapic
from seoib.sim.qemu import Qemu

VECTORS = [0x31, 0x32, 0x45, 0x61, 0x62, 0xA0]
vector_sets = st.sets(st.sampled_from(VECTORS), max_size=3)


def _bits(vectors: set[int]) -> int:
    return sum(1 << v for v in vectors)


@given(irr=vector_sets, isr=vector_sets)
def test_ack_is_pending_then_taken(irr: set[int], isr: set[int]) -> None:
    fast, plain = Lapic(), Lapic()
    for lapic in (fast, plain):
        lapic.irr, lapic.isr = _bits(irr), _bits(isr)
    vector = plain.pending()
    if vector >= 0:
        plain.irr &= ~(1 << vector)
        plain.isr |= 1 << vector
        plain.taken[vector] += 1
    assert fast.ack() == vector
    assert (fast.irr, fast.isr, fast.taken) == (plain.irr, plain.isr, plain.taken)


def _plain_guest_eoi(vcpu: KvmVcpu, routed_levels: int) -> int:
    """KvmVcpu.guest_eoi through Lapic.eoi() and KvmVcpu.suppress()."""
    lapic = vcpu.lapic
    vector = lapic.eoi()
    if vector < 0 or not (routed_levels >> vector) & 1:
        return vector
    vm = vcpu.vm
    if not (lapic.tmr >> vector) & 1 and vm.irqchip != IRQCHIP_SPLIT:
        return vector
    if vm.irqchip == IRQCHIP_NONE:
        if vm.eoi_exit is not None:
            vm.eoi_exit(vector)
        return vector
    if lapic.svr & SVR_SEOIB and vcpu.suppress():
        return vector
    if vm.irqchip == IRQCHIP_SPLIT:
        vm.eoi_exits += 1
        if vm.eoi_exit is not None:
            vm.eoi_exit(vector)
    elif vm.kernel_ioapic is not None:
        vm.kernel_ioapic.eoi_broadcast(vector)
    return vector


class _Heard:
    """Stands in for userspace's EOI handler and KVM's in-kernel IOAPIC: what they heard."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def eoi_exit(self, vector: int) -> None:
        self.calls.append(("exit", vector))

    def eoi_broadcast(self, vector: int) -> None:
        self.calls.append(("broadcast", vector))


@settings(max_examples=300)
@given(irqchip=st.sampled_from([IRQCHIP_NONE, IRQCHIP_KERNEL, IRQCHIP_SPLIT]),
       mode=st.sampled_from([MODE_QUIRKED, MODE_ENABLED, MODE_DISABLED]),
       seoib=st.booleans(), isr=vector_sets, tmr=vector_sets, routed=vector_sets,
       handler=st.booleans())
def test_guest_eoi_routes_as_its_building_blocks(irqchip: str, mode: str, seoib: bool, isr: set[int],
                                                 tmr: set[int], routed: set[int], handler: bool) -> None:
    seen = []
    for run in (lambda v: v.guest_eoi(_bits(routed)), lambda v: _plain_guest_eoi(v, _bits(routed))):
        vm = Kvm(0xF, True).create_vm()
        vm.irqchip, vm.mode = irqchip, mode
        heard = _Heard()
        vm.eoi_exit = heard.eoi_exit if handler else None
        vm.kernel_ioapic = heard  # type: ignore[assignment]
        vcpu = vm.create_vcpu()
        vcpu.lapic.isr, vcpu.lapic.tmr = _bits(isr), _bits(tmr)
        vcpu.lapic.svr |= SVR_SEOIB if seoib else 0
        vector = run(vcpu)
        seen.append((vector, vcpu.lapic.get_state(), vm.eoi_exits, heard.calls))
    assert seen[0] == seen[1]


def _plain_eoi_broadcast(io: Ioapic, vector: int) -> None:
    """QEMU's Ioapic.eoi_broadcast: clear Remote IRR, then re-service through _service().

    KVM's IOAPIC (Ioapic._kernel_eoi) is written plainly, entry by entry as
    kvm_ioapic_update_eoi() is, and held against the real kernel in tests/kvm."""
    pending = io.rirr
    while pending:
        low = pending & -pending
        pending ^= low
        pin = low.bit_length() - 1
        entry = io.redir[pin]
        if entry & RTE_VECTOR != vector or not entry & RTE_LEVEL:
            continue
        io.redir[pin] = entry & ~RTE_REMOTE_IRR
        io.rirr &= ~low
        if io.lines & low and not entry & RTE_MASK:
            count = io.successive[pin] + 1
            if count >= SUCCESSIVE_EOI_LIMIT:
                io.successive[pin] = 0
                io.delayed |= low
                io.throttled += 1
            else:
                io.successive[pin] = count
                io._service(pin)
        else:
            io.successive[pin] = 0


entries = st.tuples(st.sampled_from(VECTORS), st.booleans(), st.booleans(), st.booleans(),
                    st.booleans(), st.sampled_from([0, 1, 2, SUCCESSIVE_EOI_LIMIT - 2,
                                                    SUCCESSIVE_EOI_LIMIT - 1, SUCCESSIVE_EOI_LIMIT]))


@settings(max_examples=300)
@given(pins=st.lists(entries, min_size=1, max_size=4), vector=st.sampled_from(VECTORS),
       accepted=st.booleans())
def test_eoi_broadcast_reservices_as_its_building_blocks(pins: list[tuple], vector: int,
                                                         accepted: bool) -> None:
    seen = []
    for run in (Ioapic.eoi_broadcast, _plain_eoi_broadcast):
        io = Ioapic(VERSION_PCI22)
        sent: list[tuple[int, bool]] = []

        def sink(v: int, level: bool, sent: list[tuple[int, bool]] = sent) -> bool:
            sent.append((v, level))
            return accepted  # False: a software-disabled LAPIC refused it

        io.sink = sink  # type: ignore[assignment]
        for pin, (vec, level, masked, remote, line, successive) in enumerate(pins):
            io.redir[pin] = (vec | (RTE_LEVEL if level else 0) | (RTE_MASK if masked else 0)
                             | (RTE_REMOTE_IRR if remote else 0))
            io.rirr |= (1 << pin) if remote else 0
            io.lines |= (1 << pin) if line else 0
            io.successive[pin] = successive
        run(io, vector)
        seen.append((list(io.redir), io.rirr, io.lines, list(io.successive), io.delayed,
                     io.throttled, list(io.delivered), sent))
    assert seen[0] == seen[1]


@settings(max_examples=200, deadline=None)
@given(pins=st.lists(entries, min_size=1, max_size=4), isr=vector_sets)
def test_wedged_pins_from_the_mirror_count_what_a_full_scan_counts(pins: list[tuple],
                                                                   isr: set[int]) -> None:
    m: Any = Qemu(SimHost()).start(SimVM(guest="linux"), "linux")
    io = m.ioapic
    for pin, (vec, level, masked, remote, _, _) in enumerate(pins, start=1):
        io.redir[pin] = (vec | (RTE_LEVEL if level else 0) | (RTE_MASK if masked else 0)
                         | (RTE_REMOTE_IRR if remote else 0))
        io.rirr = (io.rirr | (1 << pin)) if remote else (io.rirr & ~(1 << pin))
    m.vcpu.lapic.isr = _bits(isr)
    full_scan = sum(1 for e in io.redir
                    if e & (RTE_LEVEL | RTE_REMOTE_IRR | RTE_MASK) == RTE_LEVEL | RTE_REMOTE_IRR
                    and not (m.vcpu.lapic.isr >> (e & RTE_VECTOR)) & 1)
    assert m.wedged_pins() == full_scan


@settings(max_examples=60, deadline=None)
@given(seoib=st.sampled_from(["none", "rfc-v2"]), irqchip=st.sampled_from(["split", "on"]),
       ioapic=st.sampled_from([0x11, 0x20]), guest=st.sampled_from(["linux", "windows-hyperv", "xen"]),
       irqs=st.integers(1, 3))
def test_skipped_storm_turns_count_what_turning_them_counts(seoib: str, irqchip: str, ioapic: int,
                                                            guest: str, irqs: int) -> None:
    # The storm fast path (seoib/sim/storm.py) against the vCPU loop turning every time.
    from seoib.sim import qemu, simulate_boot

    host, vm = SimHost(seoib=seoib), SimVM(irqchip=irqchip, ioapic=ioapic, guest=guest)
    fast = simulate_boot(host, vm, irqs)
    real = qemu.skip_turns
    try:
        qemu.skip_turns = lambda *args: 0  # type: ignore[assignment]
        slow = simulate_boot(host, vm, irqs)
    finally:
        qemu.skip_turns = real  # type: ignore[assignment]
    assert (fast.outcome, fast.state, dict(fast.counters)) == (slow.outcome, slow.state,
                                                               dict(slow.counters))
