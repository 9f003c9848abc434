"""Guest operating systems, reduced to how they acknowledge a level interrupt.

Each guest decides at boot whether to turn on EOI-broadcast suppression (SVR bit
12, only kept where LVR bit 24 offers it), then handles a level interrupt one of
two ways, and, with suppression on, ends it at the IOAPIC one of two ways:

- order: service the device, then EOI the LAPIC (Linux, Windows), or EOI the LAPIC
  first and service the device later (Windows with Hyper-V: (1) the interrupt
  arrives, (2) L1 EOIs its LAPIC, (3) injects into L2, (4) L2 services the device,
  (5) L1 writes the IOAPIC EOIR, commit 6517dfbcc918's message; Xen:
  mask_and_ack_level_ioapic_irq() acks the LAPIC at .ack and
  end_level_ioapic_irq_old() EOIs the IOAPIC at .end, xen/arch/x86/io_apic.c);
- the IOAPIC end: the EOI register whatever the IOAPIC's version (Hyper-V, which
  does not look at it; Windows, unknown, taken the same way), or, on an IOAPIC
  older than 0x20, the entry switched to edge and back with the pin masked, which
  QEMU's ioapic_fix_edge_remote_irr() and KVM's ioapic_write_indirect() answer by
  clearing Remote IRR (Xen __io_apic_eoi() keyed on ioapic_has_eoi_reg(), version
  >= 0x20; Linux __eoi_ioapic_pin() alike).

Whether Linux and Windows without Hyper-V turn suppression on is not known: each
is a named switch (``linux-sets-svr12``, ``windows-sets-svr12``) read from
:class:`~seoib.sim.assumptions.Assumptions`. Hyper-V and Xen set SVR bit 12
whenever LVR bit 24 is set (KVM's comment; xen/arch/x86/apic.c "Enabled directed
EOI" on APIC_LVR_DIRECTED_EOI alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol

from .assumptions import DEFAULT, Assumptions
from .devices import LevelDevice
from .ioapic import EOIR_OFFSET, RTE_LEVEL, RTE_MASK, VERSION_PCI22, Ioapic, rte
from .kvm import KvmVcpu
from .lapic import LVR_SEOIB, SVR_ENABLE, SVR_SEOIB

__all__ = ["GUEST_CLASSES", "Guest", "GuestState", "Machine", "make_guest"]


class Machine(Protocol):
    """What a guest sees of the machine it runs on (QEMU's Machine provides it).

    Defined here so that the guest model does not import the QEMU model.
    """

    @property
    def vcpu(self) -> KvmVcpu: ...
    @property
    def ioapic(self) -> Ioapic: ...
    @property
    def devices(self) -> Sequence[LevelDevice]: ...
    @property
    def by_vector(self) -> Mapping[int, LevelDevice]: ...
    def guest_eoi(self) -> int: ...

SPURIOUS_VECTOR = 0xFF

# (decided to use SEOIB at boot, vectors L1 still has to inject into L2)
GuestState = tuple[bool, int]


class Guest:
    """Linux: service first, then the LAPIC EOI (whose broadcast clears Remote IRR)."""

    name: ClassVar[str] = "linux"
    # The switch that says whether this guest turns suppression on (None: it always does).
    switch: ClassVar[str | None] = "linux-sets-svr12"
    edge_switch: ClassVar[bool] = True  # ends at an IOAPIC without EOIR by edge and back

    __slots__ = ("l2_pending", "seoib_on", "wants_seoib")

    def __init__(self, assume: Assumptions = DEFAULT) -> None:
        self.wants_seoib = self.switch is None or assume.yes(self.switch)
        self.seoib_on = False
        self.l2_pending = 0

    def boot(self, m: Machine) -> None:
        """Enable the LAPIC (SVR), decide on SEOIB from LVR, route each device level."""
        lapic = m.vcpu.lapic
        self.seoib_on = self.wants_seoib and bool(lapic.lvr & LVR_SEOIB)
        self.l2_pending = 0
        svr = SPURIOUS_VECTOR | SVR_ENABLE | (SVR_SEOIB if self.seoib_on else 0)
        m.vcpu.guest_write_svr(svr)
        for dev in m.devices:
            m.ioapic.write_rte(dev.pin, rte(dev.vector, level=True))

    def interrupt(self, m: Machine, vector: int) -> None:
        """Handler for an accepted vector: service, LAPIC EOI, and with suppression on,
        the IOAPIC's EOI."""
        dev = m.by_vector.get(vector)
        if dev is not None:
            dev.service()
        m.guest_eoi()
        if self.seoib_on and dev is not None:
            self.end_at_ioapic(m, dev)

    def end_at_ioapic(self, m: Machine, dev: LevelDevice) -> None:
        """End the interrupt at the IOAPIC, the broadcast having been suppressed."""
        io = m.ioapic
        if not self.edge_switch or io.read_version() & 0xFF >= VERSION_PCI22:
            io.mmio_write(EOIR_OFFSET, dev.vector)
            return
        # No EOI register: mask the pin, switch its entry to edge and back, unmask.
        entry = io.redir[dev.pin]
        masked = entry | RTE_MASK
        if not entry & RTE_MASK:
            io.write_rte(dev.pin, masked)
        io.write_rte(dev.pin, masked & ~RTE_LEVEL)
        io.write_rte(dev.pin, masked | RTE_LEVEL)
        if not entry & RTE_MASK:
            io.write_rte(dev.pin, entry & ~RTE_MASK)

    def work(self, m: Machine) -> None:
        """Deferred work run when no interrupt is pending (none for this guest)."""
        self.l2_pending = 0

    def get_state(self) -> GuestState:
        """Guest memory that matters here."""
        return (self.seoib_on, self.l2_pending)

    def set_state(self, state: GuestState) -> None:
        """Restore guest memory from a snapshot or migration stream."""
        self.seoib_on, self.l2_pending = state


class WindowsGuest(Guest):
    """Windows without the Hyper-V role: services first like Linux; its IOAPIC end is
    not known and taken as Hyper-V's (the EOI register only)."""

    name = "windows"
    switch = "windows-sets-svr12"
    edge_switch = False

    __slots__ = ()


class HyperVGuest(Guest):
    """Windows with Hyper-V/VBS: L1 EOIs before L2 services the device, then writes EOIR."""

    name = "windows-hyperv"
    switch = None
    edge_switch = False

    __slots__ = ()

    def interrupt(self, m: Machine, vector: int) -> None:
        """(1) arrives, (2) L1 LAPIC EOI, (3) queued for L2 (runs once nothing is pending)."""
        if not self.seoib_on:
            Guest.interrupt(self, m, vector)
            return
        m.guest_eoi()
        self.l2_pending |= 1 << vector

    def work(self, m: Machine) -> None:
        """(4) L2 services the device, (5) L1 ends the interrupt at the IOAPIC."""
        pending, self.l2_pending = self.l2_pending, 0
        while pending:
            low = pending & -pending
            pending ^= low
            dev = m.by_vector.get(low.bit_length() - 1)
            if dev is not None:
                dev.service()
                self.end_at_ioapic(m, dev)


class XenGuest(HyperVGuest):
    """Xen: LAPIC EOI at the ack, the IOAPIC's at the end; edge and back on an IOAPIC
    without EOIR (xen/arch/x86/io_apic.c __io_apic_eoi)."""

    name = "xen"
    edge_switch = True

    __slots__ = ()


GUEST_CLASSES: dict[str, type[Guest]] = {
    cls.name: cls for cls in (Guest, WindowsGuest, HyperVGuest, XenGuest)
}


def make_guest(name: str, assume: Assumptions = DEFAULT) -> Guest:
    """A fresh guest of a known kind, behaving as the switches in force say."""
    return GUEST_CLASSES[name](assume)
