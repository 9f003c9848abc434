"""Local APIC registers (Intel SDM vol. 3A, APIC chapter), as plain integers.

IRR, ISR and TMR are 256-bit ints indexed by vector so that "highest pending" is
one ``bit_length`` call: the hot path of every simulated interrupt.
"""

from __future__ import annotations

__all__ = [
    "LVR_BASE",
    "LVR_SEOIB",
    "SVR_ENABLE",
    "SVR_RESET",
    "SVR_SEOIB",
    "Lapic",
    "LapicState",
]

LVR_VERSION = 0x14  # integrated APIC, the value KVM reports
LVR_MAX_LVT = 5  # six LVT entries, field holds count - 1
LVR_BASE = LVR_VERSION | (LVR_MAX_LVT << 16)
LVR_SEOIB = 1 << 24  # "suppress EOI-broadcast supported"

SVR_VECTOR = 0xFF
SVR_ENABLE = 1 << 8
SVR_SEOIB = 1 << 12  # "EOI-broadcast suppression"; reserved-0 without LVR bit 24
SVR_WRITABLE = SVR_VECTOR | SVR_ENABLE | SVR_SEOIB
SVR_RESET = 0xFF  # software-disabled, spurious vector 0xff

# What KVM_GET_LAPIC / KVM_SET_LAPIC carry here: (svr, irr, isr, tmr).
LapicState = tuple[int, int, int, int]


class Lapic:
    """One vCPU's local APIC."""

    __slots__ = ("irr", "isr", "lvr", "svr", "taken", "tmr")

    def __init__(self) -> None:
        self.lvr = LVR_BASE
        self.svr = SVR_RESET
        self.irr = 0
        self.isr = 0
        self.tmr = 0
        self.taken = [0] * 256  # times the CPU accepted each vector (IRR -> ISR)

    def reset(self) -> None:
        """Power-up/INIT register state; LVR is left to whoever owns it (KVM)."""
        self.svr = SVR_RESET
        self.irr = self.isr = self.tmr = 0

    def accept(self, vector: int, level: bool) -> bool:
        """A fixed message arrives: set IRR; TMR set for level, cleared for edge.

        A software-disabled APIC (SVR bit 8 clear) drops it and returns False, IRR and
        TMR untouched: arch/x86/kvm/lapic.c __apic_accept_irq, APIC_DM_FIXED breaks out
        on ``!apic_enabled(apic)`` before the TMR update and deliver_interrupt (Linux
        6.18, torvalds/linux 000d75b0b186; measured on 6.18.44). What is already in
        IRR is still taken (kvm_apic_has_interrupt checks only the hardware enable).
        """
        if not self.svr & SVR_ENABLE:
            return False
        bit = 1 << vector
        self.irr |= bit
        if level:
            self.tmr |= bit
        else:
            self.tmr &= ~bit
        return True

    def pending(self) -> int:
        """Highest IRR vector whose priority class beats the one in service, else -1."""
        irrv = self.irr.bit_length() - 1
        if irrv < 0:
            return -1
        isrv = self.isr.bit_length() - 1
        if isrv >= 0 and (irrv >> 4) <= (isrv >> 4):
            return -1
        return irrv

    def ack(self) -> int:
        """The CPU takes the highest deliverable interrupt (IRR -> ISR); -1 if none."""
        # pending() inlined: this runs once per simulated interrupt and once more per idle check.
        irr = self.irr
        if not irr:
            return -1
        vector = irr.bit_length() - 1
        isr = self.isr
        if isr and (vector >> 4) <= ((isr.bit_length() - 1) >> 4):
            return -1
        bit = 1 << vector
        self.irr = irr ^ bit
        self.isr = isr | bit
        self.taken[vector] += 1
        return vector

    def eoi(self) -> int:
        """Clear the highest ISR bit and return its vector (-1 when nothing is in service)."""
        vector = self.isr.bit_length() - 1
        if vector >= 0:
            self.isr &= ~(1 << vector)
        return vector

    def write_svr(self, value: int) -> None:
        """A guest write: bit 12 is reserved (dropped) unless LVR bit 24 is set."""
        if not self.lvr & LVR_SEOIB:
            value &= ~SVR_SEOIB
        self.svr = value & SVR_WRITABLE

    def get_state(self) -> LapicState:
        """Snapshot of the guest-visible registers (what KVM_GET_LAPIC returns)."""
        return (self.svr, self.irr, self.isr, self.tmr)

    def set_state(self, state: LapicState) -> None:
        """Load registers verbatim, SVR bit 12 included (what KVM_SET_LAPIC does)."""
        self.svr, self.irr, self.isr, self.tmr = state
