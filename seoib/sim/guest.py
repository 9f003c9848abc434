"""Guest operating systems, reduced to how they acknowledge a level interrupt.

linux / windows: service the device in the handler, then LAPIC EOI; never set
SVR bit 12. windows-hyperv: sets SVR bit 12 whenever LVR bit 24 is set (without
looking at the IOAPIC version) and then (1) takes the interrupt, (2) L1 LAPIC EOI,
(3) injects into L2, (4) L2 services the device, (5) L1 writes the IOAPIC EOIR.
xen: same, as the worst case (whether it checks the IOAPIC version is unconfirmed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol

from .devices import LevelDevice
from .ioapic import EOIR_OFFSET, Ioapic, rte
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
    """Linux-like behaviour: service first, then EOI (the broadcast clears Remote IRR)."""

    name: ClassVar[str] = "linux"
    wants_seoib: ClassVar[bool] = False

    __slots__ = ("l2_pending", "seoib_on")

    def __init__(self) -> None:
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
        """Handler for an accepted vector."""
        dev = m.by_vector.get(vector)
        if dev is not None:
            dev.service()
        m.guest_eoi()

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
    """Windows without the Hyper-V role: for this purpose, like Linux."""

    name = "windows"

    __slots__ = ()


class HyperVGuest(Guest):
    """Windows with Hyper-V/VBS: L1 EOIs before L2 services the device."""

    name = "windows-hyperv"
    wants_seoib = True

    __slots__ = ()

    def interrupt(self, m: Machine, vector: int) -> None:
        """(1) arrives, (2) L1 LAPIC EOI, (3) queued for L2 (runs once nothing is pending)."""
        if not self.seoib_on:
            Guest.interrupt(self, m, vector)
            return
        m.guest_eoi()
        self.l2_pending |= 1 << vector

    def work(self, m: Machine) -> None:
        """(4) L2 services the device, (5) L1 writes the IOAPIC EOIR."""
        pending, self.l2_pending = self.l2_pending, 0
        while pending:
            low = pending & -pending
            pending ^= low
            vector = low.bit_length() - 1
            dev = m.by_vector.get(vector)
            if dev is not None:
                dev.service()
            m.ioapic.mmio_write(EOIR_OFFSET, vector)


class XenGuest(HyperVGuest):
    """Xen as a guest; modelled as not checking the IOAPIC version (worst case)."""

    name = "xen"


GUEST_CLASSES: dict[str, type[Guest]] = {
    cls.name: cls for cls in (Guest, WindowsGuest, HyperVGuest, XenGuest)
}


def make_guest(name: str) -> Guest:
    """A fresh guest of a known kind."""
    return GUEST_CLASSES[name]()
