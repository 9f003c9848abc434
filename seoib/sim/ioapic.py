"""I/O APIC with 24 redirection entries: 82093AA (0x11) or PCI 2.2 style (0x20).

Level entries carry Remote IRR: set when the LAPIC accepts, cleared by an EOI
message (broadcast) or, on version 0x20 only, by a write to the EOI register.
A still-asserted line re-delivers once Remote IRR clears; QEMU delays that
re-delivery after many successive EOIs with the line high, which is what keeps
a storm from locking up the host, so it is modelled (with a smaller count).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "EOIR_OFFSET",
    "IOAPIC_PINS",
    "IOWIN_OFFSET",
    "REGSEL_OFFSET",
    "RTE_LEVEL",
    "RTE_MASK",
    "RTE_REMOTE_IRR",
    "SUCCESSIVE_EOI_LIMIT",
    "VERSION_82093AA",
    "VERSION_PCI22",
    "Ioapic",
    "IoapicState",
    "rte",
]

IOAPIC_PINS = 24
VERSION_82093AA = 0x11  # no EOI register
VERSION_PCI22 = 0x20  # has the EOI register
REGSEL_OFFSET = 0x00  # MMIO offset of IOREGSEL (index of the register IOWIN shows)
IOWIN_OFFSET = 0x10  # MMIO offset of IOWIN
EOIR_OFFSET = 0x40  # MMIO offset of the write-only EOI register (0x20 only)
REG_VERSION = 0x01
REG_REDIR = 0x10  # entry n is at indices 0x10 + 2n (low) and 0x11 + 2n (high)

RTE_VECTOR = 0xFF
RTE_DELIVERY_STATUS = 1 << 12
RTE_REMOTE_IRR = 1 << 14
RTE_LEVEL = 1 << 15
RTE_MASK = 1 << 16
RTE_RO = RTE_DELIVERY_STATUS | RTE_REMOTE_IRR

# QEMU's count is far larger; only the effect matters here: a bounded burst of
# immediate re-deliveries, then one deferred re-service.
SUCCESSIVE_EOI_LIMIT = 32

# (version, redirection table, line levels, pins awaiting a deferred re-service)
IoapicState = tuple[int, tuple[int, ...], int, int]

# Returns False when the LAPIC refused the message (None: no answer, as QEMU ignores it).
Sink = Callable[[int, bool], bool | None]


def rte(vector: int, level: bool, masked: bool = False) -> int:
    """Build a redirection entry (fixed delivery, physical destination 0)."""
    return (vector & RTE_VECTOR) | (RTE_LEVEL if level else 0) | (RTE_MASK if masked else 0)


def _no_sink(vector: int, level: bool) -> bool | None:
    return None


class Ioapic:
    """The IOAPIC device; ``sink(vector, level)`` is the LAPIC that accepts messages."""

    __slots__ = (
        "coalesced",
        "delayed",
        "delivered",
        "eoir_ignored",
        "eoir_writes",
        "kernel",
        "level_vectors",
        "lines",
        "redir",
        "regsel",
        "rirr",
        "sink",
        "successive",
        "throttled",
        "version",
    )

    def __init__(self, version: int, sink: Sink | None = None) -> None:
        if version not in (VERSION_82093AA, VERSION_PCI22):
            raise ValueError(f"IOAPIC version must be 0x11 or 0x20, got {version:#x}")
        self.version = version
        self.sink: Sink = sink or _no_sink
        self.redir = [RTE_MASK] * IOAPIC_PINS
        self.regsel = 0
        self.lines = 0
        self.rirr = 0  # mirror of the Remote IRR bits, so EOIs skip idle pins
        self.level_vectors = 0  # vectors of level entries: what KVM intercepts EOIs for
        self.delayed = 0
        self.successive = [0] * IOAPIC_PINS
        self.delivered = [0] * IOAPIC_PINS
        self.coalesced = 0
        self.throttled = 0
        self.eoir_writes = 0
        self.eoir_ignored = 0
        # KVM's in-kernel IOAPIC rather than QEMU's: Remote IRR only for an accepted message.
        self.kernel = False

    # -- registers -------------------------------------------------------
    def read_version(self) -> int:
        """Version register (index 0x01): version and max redirection entry."""
        return self.version | ((IOAPIC_PINS - 1) << 16)

    def remote_irr(self, pin: int) -> int:
        """Remote IRR bit of one entry (0 or 1)."""
        return (self.redir[pin] >> 14) & 1

    def write_rte(self, pin: int, value: int) -> None:
        """Guest write of an entry; RO bits are kept, edge entries drop Remote IRR."""
        old = self.redir[pin]
        new = (value & ~RTE_RO) | (old & RTE_RO)
        if not new & RTE_LEVEL:
            new &= ~RTE_REMOTE_IRR
            self.rirr &= ~(1 << pin)
        self.redir[pin] = new
        self._rescan_level_vectors()
        self._service(pin)  # unmasking a high level line delivers it now

    def _rescan_level_vectors(self) -> None:
        vectors = 0
        for entry in self.redir:
            if entry & RTE_LEVEL:
                vectors |= 1 << (entry & RTE_VECTOR)
        self.level_vectors = vectors

    def mmio_write(self, offset: int, value: int) -> None:
        """Guest MMIO write: IOREGSEL, IOWIN (redirection entries) or the EOI register."""
        if offset == EOIR_OFFSET:
            self.write_eoir(value & 0xFF)
        elif offset == REGSEL_OFFSET:
            self.regsel = value & 0xFF
        elif offset == IOWIN_OFFSET:
            index = self.regsel - REG_REDIR
            if 0 <= index < 2 * IOAPIC_PINS:
                pin, high = divmod(index, 2)
                old = self.redir[pin]
                if high:
                    new = (old & 0xFFFFFFFF) | ((value & 0xFFFFFFFF) << 32)
                else:
                    new = (old & ~0xFFFFFFFF) | (value & 0xFFFFFFFF)
                self.write_rte(pin, new)

    def mmio_read(self, offset: int) -> int:
        """Guest MMIO read of IOREGSEL or IOWIN (version or a redirection entry half)."""
        if offset == REGSEL_OFFSET:
            return self.regsel
        if offset != IOWIN_OFFSET:
            return 0
        if self.regsel == REG_VERSION:
            return self.read_version()
        index = self.regsel - REG_REDIR
        if 0 <= index < 2 * IOAPIC_PINS:
            pin, high = divmod(index, 2)
            return (self.redir[pin] >> 32) & 0xFFFFFFFF if high else self.redir[pin] & 0xFFFFFFFF
        return 0

    # -- input pins ------------------------------------------------------
    def set_line(self, pin: int, level: int) -> None:
        """A device drives its line; edges fire on 0 -> 1, masked edges are lost."""
        bit = 1 << pin
        if not level:
            self.lines &= ~bit
            return
        entry = self.redir[pin]
        if entry & RTE_LEVEL:
            self.lines |= bit
            if entry & RTE_REMOTE_IRR:
                self.coalesced += 1
            else:
                self._service(pin)
            return
        rising = not self.lines & bit
        self.lines |= bit
        if rising and not entry & RTE_MASK:
            self.delivered[pin] += 1
            self.sink(entry & RTE_VECTOR, False)

    def _service(self, pin: int) -> None:
        entry = self.redir[pin]
        if entry & (RTE_MASK | RTE_REMOTE_IRR) or not entry & RTE_LEVEL:
            return
        if not (self.lines >> pin) & 1:
            return
        self.redir[pin] = entry | RTE_REMOTE_IRR
        self.rirr |= 1 << pin
        self.delivered[pin] += 1
        if self.sink(entry & RTE_VECTOR, True) is False and self.kernel:
            # arch/x86/kvm/ioapic.c ioapic_service: remote_irr = 1 only ``if (ret && level)``,
            # ret 0 when no LAPIC accepted (a software-disabled one). QEMU's hw/intc/ioapic.c
            # sets it before sending, whatever KVM_SIGNAL_MSI answers. Measured on 6.18.44.
            self.redir[pin] = entry
            self.rirr &= ~(1 << pin)

    # -- end of interrupt ------------------------------------------------
    def eoi_broadcast(self, vector: int) -> None:
        """An EOI message: clear Remote IRR of level entries with this vector."""
        pending = self.rirr
        if self.kernel:
            # arch/x86/kvm/ioapic.c kvm_ioapic_update_eoi_one runs for every entry with the
            # vector, Remote IRR set or not: a high level line a disabled LAPIC refused
            # (Remote IRR clear) is serviced again here. Measured on 6.18.44. Only high
            # lines can deliver, so the usual EOI (nothing idle) skips the scan.
            idle = self.lines & ~pending
            while idle:
                low = idle & -idle
                idle ^= low
                entry = self.redir[low.bit_length() - 1]
                if entry & RTE_LEVEL and entry & RTE_VECTOR == vector:
                    pending |= low
        while pending:
            low = pending & -pending
            pending ^= low
            pin = low.bit_length() - 1
            entry = self.redir[pin]
            if entry & RTE_VECTOR != vector:
                continue
            if self.lines & low and not entry & RTE_MASK:
                count = self.successive[pin] + 1
                if count >= SUCCESSIVE_EOI_LIMIT:
                    self.successive[pin] = 0
                    self.delayed |= low
                    self.throttled += 1
                elif entry & RTE_LEVEL and self.kernel:
                    # KVM's IOAPIC: Remote IRR follows whether a LAPIC accepted (_service),
                    # and an idle entry found above has none to clear.
                    self.successive[pin] = count
                    self.redir[pin] = entry & ~RTE_REMOTE_IRR
                    self.rirr &= ~low
                    self._service(pin)
                    continue
                elif entry & RTE_LEVEL:
                    # Cleared and at once serviced again (_service inlined: the storm path of
                    # QEMU's IOAPIC, which sets Remote IRR whatever the LAPIC answers): the
                    # entry keeps its Remote IRR and the line is delivered again.
                    self.successive[pin] = count
                    self.delivered[pin] += 1
                    self.sink(entry & RTE_VECTOR, True)
                    continue
                else:
                    self.successive[pin] = count
            else:
                self.successive[pin] = 0
            self.redir[pin] = entry & ~RTE_REMOTE_IRR
            self.rirr &= ~low

    def write_eoir(self, vector: int) -> None:
        """EOI register write: acts like an EOI message on 0x20, ignored on 0x11."""
        if self.version < VERSION_PCI22:
            self.eoir_ignored += 1
            return
        self.eoir_writes += 1
        self.eoi_broadcast(vector)

    def fire_delayed(self) -> None:
        """The deferred re-service timer expires."""
        pins, self.delayed = self.delayed, 0
        while pins:
            low = pins & -pins
            pins ^= low
            self._service(low.bit_length() - 1)

    def reset(self) -> None:
        """RESET: every entry masked, lines and pending re-services dropped."""
        self.redir = [RTE_MASK] * IOAPIC_PINS
        self.lines = self.rirr = self.delayed = self.level_vectors = self.regsel = 0
        self.successive = [0] * IOAPIC_PINS

    # -- save / load -----------------------------------------------------
    def get_state(self) -> IoapicState:
        """What the device's vmstate carries."""
        return (self.version, tuple(self.redir), self.lines, self.delayed)

    def set_state(self, state: IoapicState) -> None:
        """Restore a saved state; the version is a property, so it must match."""
        version, redir, self.lines, self.delayed = state
        if version != self.version:
            raise ValueError(f"IOAPIC version {version:#x} does not match {self.version:#x}")
        self.redir = list(redir)
        self.rirr = 0
        for pin, entry in enumerate(self.redir):
            if entry & RTE_REMOTE_IRR:
                self.rirr |= 1 << pin
        self._rescan_level_vectors()
