"""I/O APIC with 24 redirection entries: 82093AA (0x11) or PCI 2.2 style (0x20).

Level entries carry Remote IRR: set when the LAPIC accepts, cleared by an EOI
message (broadcast) or, on version 0x20 only, by a write to the EOI register.
A still-asserted line re-delivers once Remote IRR clears. Two implementations
share the registers and differ where their sources do (``kernel`` picks KVM's):

- QEMU's userspace IOAPIC (hw/intc/ioapic.c, split irqchip): an EOI visits level
  entries with Remote IRR set; an entry write resets the pin's successive-EOI
  count; on split irqchip KVM learns an entry through its MSI route, and
  ioapic_update_kvm_routes() skips masked entries, so a masked entry keeps the
  route it last had unmasked (at start, QEMU's placeholder route: vector 0, edge)
  and only level *routes* put their vector in KVM's EOI-exit bitmap.
- KVM's in-kernel IOAPIC (arch/x86/kvm/ioapic.c, kernel-irqchip=on): an EOI of a
  level vector visits every entry with that vector (kvm_ioapic_update_eoi ->
  kvm_ioapic_update_eoi_one), level or edge, Remote IRR set or not, and re-services
  any unmasked one whose line is high: an edge pin sharing the vector fires again.
  kvm_ioapic_scan_entry() puts the vector of every level entry, masked or not, in
  the bitmap.

Both defer the re-delivery after ``SUCCESSIVE_EOI_LIMIT`` successive EOIs with the
line high (KVM's IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT, QEMU's SUCCESSIVE_IRQ_MAX_COUNT,
10000 each: the 10000th EOI arms a timer instead of re-delivering), which is what
keeps a storm from locking up the host.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "EOIR_OFFSET",
    "IOAPIC_PINS",
    "IOWIN_OFFSET",
    "NO_ROUTE",
    "REGSEL_OFFSET",
    "RTE_LEVEL",
    "RTE_MASK",
    "RTE_REMOTE_IRR",
    "RTE_RO",
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

# arch/x86/kvm/ioapic.c IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT and hw/intc/ioapic.c
# SUCCESSIVE_IRQ_MAX_COUNT: the EOI that brings a pin's count to it defers the re-service.
SUCCESSIVE_EOI_LIMIT = 10_000
# QEMU's placeholder MSI route of a pin never unmasked (kvm_irqchip_add_msi_route with
# an empty message when split irqchip starts): vector 0, edge.
NO_ROUTE = 0

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
        "routes",
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
        self.level_vectors = 0  # vectors of level routes: what KVM intercepts EOIs for
        self.routes = [NO_ROUTE] * IOAPIC_PINS  # QEMU's MSI route of each pin (split irqchip)
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
        """Guest write of an entry; RO bits are kept, edge entries drop Remote IRR.

        Both IOAPICs clear Remote IRR of an entry written as edge (QEMU
        ioapic_fix_edge_remote_irr(), KVM ioapic_write_indirect(): "Some OSes (Linux,
        Xen) assume that Remote IRR bit will be cleared by IOAPIC hardware when the
        entry is configured as edge-triggered"), which is how a guest ends a level
        interrupt at an IOAPIC without an EOI register. QEMU also restarts the pin's
        successive-EOI count and updates the pin's MSI route unless the entry is masked.
        """
        old = self.redir[pin]
        new = (value & ~RTE_RO) | (old & RTE_RO)
        if not new & RTE_LEVEL:
            new &= ~RTE_REMOTE_IRR
            self.rirr &= ~(1 << pin)
        self.redir[pin] = new
        if not self.kernel:
            self.successive[pin] = 0
            if not new & RTE_MASK:
                self.routes[pin] = new
        self._rescan_level_vectors()
        self._service(pin)  # unmasking a high level line delivers it now

    def _rescan_level_vectors(self) -> None:
        vectors = 0
        # KVM's own IOAPIC: every level entry; QEMU's: the level routes it gave KVM.
        for entry in self.redir if self.kernel else self.routes:
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
            # ret 0 when no LAPIC accepted (a software-disabled one); -1 (no vCPU at all)
            # sets it too. QEMU's hw/intc/ioapic.c sets it before sending, whatever
            # KVM_SIGNAL_MSI answers. Measured on 6.18.44.
            self.redir[pin] = entry
            self.rirr &= ~(1 << pin)

    # -- end of interrupt ------------------------------------------------
    def eoi_broadcast(self, vector: int) -> None:
        """An EOI message for ``vector``: the IOAPIC's own way (see the module docstring)."""
        if self.kernel:
            self._kernel_eoi(vector)
            return
        # hw/intc/ioapic.c ioapic_eoi_broadcast(): level entries of the vector with Remote
        # IRR set; the mirror names them, so an EOI with nothing outstanding costs nothing.
        pending = self.rirr
        while pending:
            low = pending & -pending
            pending ^= low
            pin = low.bit_length() - 1
            entry = self.redir[pin]
            if entry & RTE_VECTOR != vector or not entry & RTE_LEVEL:
                continue
            if self.lines & low and not entry & RTE_MASK:
                count = self.successive[pin] + 1
                if count < SUCCESSIVE_EOI_LIMIT:
                    # Cleared and at once serviced again (_service inlined: the storm path;
                    # QEMU sets Remote IRR whatever the LAPIC answers): the entry keeps its
                    # Remote IRR and the line is delivered again.
                    self.successive[pin] = count
                    self.delivered[pin] += 1
                    self.sink(entry & RTE_VECTOR, True)
                    continue
                self.successive[pin] = 0
                self.delayed |= low
                self.throttled += 1
            else:
                self.successive[pin] = 0
            self.redir[pin] = entry & ~RTE_REMOTE_IRR
            self.rirr &= ~low

    def _kernel_eoi(self, vector: int) -> None:
        """arch/x86/kvm/ioapic.c kvm_ioapic_update_eoi(): every entry with the vector.

        kvm_ioapic_update_eoi_one() clears Remote IRR whatever the entry's trigger mode,
        then re-services an unmasked entry whose line is high (``ioapic->irr``): a level
        one the LAPIC refused earlier, or an edge one sharing the vector, which fires
        again (ioapic_service() does not look at the trigger mode). Measured on 6.18.44.
        """
        lines = self.lines
        for pin, entry in enumerate(self.redir):
            if entry & RTE_VECTOR != vector:
                continue
            low = 1 << pin
            if entry & RTE_REMOTE_IRR:
                entry &= ~RTE_REMOTE_IRR
                self.redir[pin] = entry
                self.rirr &= ~low
            if not lines & low or entry & RTE_MASK:
                self.successive[pin] = 0
                continue
            count = self.successive[pin] + 1
            if count >= SUCCESSIVE_EOI_LIMIT:  # KVM: ``== IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT``
                self.successive[pin] = 0
                self.delayed |= low
                self.throttled += 1
            elif entry & RTE_LEVEL:
                self.successive[pin] = count
                self._service(pin)
            else:
                self.successive[pin] = count
                self.delivered[pin] += 1
                self.sink(entry & RTE_VECTOR, False)

    def write_eoir(self, vector: int) -> None:
        """EOI register write: acts like an EOI message on 0x20, ignored on 0x11."""
        if self.version < VERSION_PCI22:
            self.eoir_ignored += 1
            return
        self.eoir_writes += 1
        self.eoi_broadcast(vector)

    def fire_delayed(self) -> None:
        """The deferred re-service timer expires.

        QEMU's delayed_ioapic_service_cb() and KVM's kvm_ioapic_eoi_inject_work() service
        every level pin whose line is high and whose Remote IRR is clear, the deferred
        ones among them; an edge pin is not re-served.
        """
        pins = self.delayed | (self.lines & ~self.rirr)
        self.delayed = 0
        while pins:
            low = pins & -pins
            pins ^= low
            self._service(low.bit_length() - 1)

    def reset(self) -> None:
        """RESET: every entry masked, lines and pending re-services dropped.

        QEMU's ioapic_reset_common() leaves the MSI routes as they were (only an entry
        write or post_load updates them), so KVM keeps the level vectors they carry.
        """
        self.redir = [RTE_MASK] * IOAPIC_PINS
        self.lines = self.rirr = self.delayed = self.regsel = 0
        self.successive = [0] * IOAPIC_PINS
        self._rescan_level_vectors()

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
            if not entry & RTE_MASK:  # QEMU's post_load is ioapic_update_kvm_routes()
                self.routes[pin] = entry
        self._rescan_level_vectors()
