"""The guest: real-mode code, hand-assembled, one short program per guest-side step.

Memory map (guest physical): the real-mode IVT at 0x0000, one 8-byte stub per
vector at STUBS, a stack below STACK, the current step's program at CODE. The vCPU
runs in real mode with flat 64 KiB segments at base 0, except FS whose hidden base
is the xAPIC page 0xFEE00000 and GS whose hidden base is the IOAPIC window
0xFEC00000 (set through KVM_SET_SREGS; the guest never reloads them), so 16-bit
offsets reach both.

Ports the guest writes so userspace sees each step:
PORT_DONE (end of the program), PORT_IRQ (AL = the vector whose IVT stub ran),
PORT_FAULT (AL = exception 0-15: the program faulted), PORT_VALUE (EAX = a value read),
PORT_POLL (nothing: an exit while IF=1, so that KVM re-enters and injects what is
pending; a nested backend injects only on entry, not at the end of the STI shadow).
"""

from __future__ import annotations

import struct

__all__ = [
    "CODE",
    "IOAPIC_BASE",
    "LAPIC_BASE",
    "PORT_DONE",
    "PORT_FAULT",
    "PORT_IRQ",
    "PORT_POLL",
    "PORT_VALUE",
    "STACK",
    "Program",
    "ivt_image",
]

LAPIC_BASE = 0xFEE00000
IOAPIC_BASE = 0xFEC00000
STUBS = 0x1000
STACK = 0x7000
CODE = 0x8000

PORT_DONE = 0xE0
PORT_IRQ = 0xE1
PORT_VALUE = 0xE2
PORT_FAULT = 0xE3
PORT_POLL = 0xE4
# Entries with IF=1 while the window is open; each may inject one interrupt, and a
# LAPIC holds at most one in service per priority class (15 usable classes).
POLLS = 16

FIRST_INTERRUPT_VECTOR = 16  # 0-15 are exceptions in real mode; the LAPIC rejects them

MSR_APIC_BASE = 0x1B
APIC_BASE_EXTD = 1 << 10  # x2APIC enable
MSR_X2APIC_EOI = 0x80B
MSR_X2APIC_SVR = 0x80F
XAPIC_EOI = 0xB0
XAPIC_SVR = 0xF0
IOAPIC_REGSEL = 0x00
IOAPIC_WIN = 0x10
IOAPIC_EOIR = 0x40


def _u16(value: int) -> bytes:
    return struct.pack("<H", value)


def _u32(value: int) -> bytes:
    return struct.pack("<I", value & 0xFFFFFFFF)


def _stub(vector: int) -> bytes:
    if vector < FIRST_INTERRUPT_VECTOR:
        return (
            bytes([0xB0, vector])  # mov al, vector
            + bytes([0xE6, PORT_FAULT])  # out PORT_FAULT, al
            + b"\xf4"  # hlt
            + b"\x90" * 3  # nop (padding to 8 bytes)
        )
    return (
        b"\x50"  # push ax
        + bytes([0xB0, vector])  # mov al, vector
        + bytes([0xE6, PORT_IRQ])  # out PORT_IRQ, al
        + b"\x58"  # pop ax
        + b"\xcf"  # iret (restores IF=1: the next pending interrupt comes at once)
        + b"\x90"  # nop (padding to 8 bytes)
    )


def ivt_image() -> bytes:
    """IVT (segment 0, offset of each stub) followed by the stubs, from address 0.

    A stub does not EOI: the ``run`` step only has the CPU accept interrupts.
    """
    ivt = b"".join(_u16(STUBS + 8 * v) + _u16(0) for v in range(256))
    stubs = b"".join(_stub(v) for v in range(256))
    return ivt + b"\0" * (STUBS - len(ivt)) + stubs


class Program:
    """One step's guest code, built instruction by instruction (16-bit mode)."""

    def __init__(self) -> None:
        self.code = bytearray()

    def _wrmsr(self, msr: int, value: int) -> None:
        self.code += b"\x66\xb9" + _u32(msr)  # mov ecx, msr
        self.code += b"\x66\xb8" + _u32(value)  # mov eax, value
        self.code += b"\x66\x31\xd2"  # xor edx, edx
        self.code += b"\x0f\x30"  # wrmsr

    def enable_x2apic(self) -> Program:
        """IA32_APIC_BASE |= EXTD (xAPIC enabled -> x2APIC)."""
        self.code += b"\x66\xb9" + _u32(MSR_APIC_BASE)  # mov ecx, 0x1b
        self.code += b"\x0f\x32"  # rdmsr
        self.code += b"\x66\x0d" + _u32(APIC_BASE_EXTD)  # or eax, 0x400
        self.code += b"\x0f\x30"  # wrmsr
        return self

    def write_svr(self, value: int, x2apic: bool) -> Program:
        """SVR := value, through MSR 0x80F or the xAPIC page."""
        if x2apic:
            self._wrmsr(MSR_X2APIC_SVR, value)
        else:
            self.code += b"\x64\x66\xc7\x06" + _u16(XAPIC_SVR) + _u32(value)  # mov dword fs:[0xf0], value
        return self

    def eoi(self, x2apic: bool) -> Program:
        """LAPIC EOI, through MSR 0x80B or the xAPIC page."""
        if x2apic:
            self._wrmsr(MSR_X2APIC_EOI, 0)
        else:
            self.code += b"\x64\x66\xc7\x06" + _u16(XAPIC_EOI) + _u32(0)  # mov dword fs:[0xb0], 0
        return self

    def ioapic_write(self, offset: int, value: int) -> Program:
        """A 32-bit store into the IOAPIC window (IOREGSEL, IOWIN or EOIR)."""
        self.code += b"\x65\x66\xc7\x06" + _u16(offset) + _u32(value)  # mov dword gs:[offset], value
        return self

    def ioapic_read(self, index: int) -> Program:
        """Select an IOAPIC register, read IOWIN, report it on PORT_VALUE."""
        self.ioapic_write(IOAPIC_REGSEL, index)
        self.code += b"\x65\x66\xa1" + _u16(IOAPIC_WIN)  # mov eax, dword gs:[0x10]
        self.code += bytes([0x66, 0xE7, PORT_VALUE])  # out PORT_VALUE, eax
        return self

    def write_rte(self, pin: int, entry: int) -> Program:
        """Program redirection entry ``pin`` (high dword first, as OSes do)."""
        self.ioapic_write(IOAPIC_REGSEL, 0x11 + 2 * pin).ioapic_write(IOAPIC_WIN, entry >> 32)
        return self.ioapic_write(IOAPIC_REGSEL, 0x10 + 2 * pin).ioapic_write(IOAPIC_WIN, entry)

    def eoir(self, vector: int) -> Program:
        """Directed EOI: write the vector to the IOAPIC's EOI register."""
        return self.ioapic_write(IOAPIC_EOIR, vector)

    def accept_interrupts(self, polls: int = POLLS) -> Program:
        """Open the interrupt window for ``polls`` VM entries with IF=1 (one stub each)."""
        self.code += b"\xfb"  # sti
        self.code += b"\xb9" + _u16(polls)  # mov cx, polls
        self.code += bytes([0xE6, PORT_POLL])  # again: out PORT_POLL, al (exit; re-entry has IF=1)
        self.code += b"\xe2\xfc"  # loop again
        self.code += b"\xfa"  # cli
        return self

    def done(self) -> bytes:
        """Finish with ``out PORT_DONE, al; hlt`` and return the bytes."""
        self.code += bytes([0xE6, PORT_DONE])  # out PORT_DONE, al
        self.code += b"\xf4"  # hlt (never reached: userspace stops at PORT_DONE)
        return bytes(self.code)
