"""One VM with one vCPU in real mode, running the step programs of ``guest``.

The run loop answers the exits a program causes: port writes (step done, an IVT
stub ran, a value read), MMIO to an address no memory backs (the userspace IOAPIC
on split irqchip) and KVM_EXIT_IOAPIC_EOI. Everything else is a broken guest and
raises ``GuestError``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from . import abi, guest
from .device import System, Vcpu, Vm

__all__ = ["GuestError", "GuestVm", "RunLog"]

RAM = 1 << 20  # real mode addresses 1 MiB
MAX_EXITS = 4096  # a program is a few instructions; this many exits is a runaway

MmioHandler = Callable[[int, int, bytes | None], int]  # (address, length, data or None) -> read value
EoiHandler = Callable[[int], None]


class GuestError(Exception):
    """The guest did something a step program never does (fault, unknown exit)."""


class RunLog:
    """What one program run produced."""

    __slots__ = ("eoi_exits", "taken", "values")

    def __init__(self) -> None:
        self.taken: list[int] = []
        self.values: list[int] = []
        self.eoi_exits: list[int] = []


def _real_mode_segment(base: int = 0) -> abi.Segment:
    # A data/code segment as real mode leaves it: 64 KiB, present, read/write(/exec).
    return abi.Segment(base=base, limit=0xFFFF, selector=0, type=3, present=1, s=1)


class GuestVm:
    """A VM fd plus vCPU 0; ``mmio`` and ``eoi`` are userspace's IOAPIC hooks."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.vm = Vm(system, RAM)
        self.vcpu: Vcpu | None = None
        self.mmio: MmioHandler | None = None
        self.eoi: EoiHandler | None = None
        self.on_irq: Callable[[int], None] | None = None
        self.vm.ram[0 : len(guest.ivt_image())] = guest.ivt_image()

    def create_vcpu(self) -> int:
        """KVM_CREATE_VCPU and a real-mode register state; 0 or -errno."""
        vcpu = self.vm.create_vcpu()
        if isinstance(vcpu, int):
            return vcpu
        self.vcpu = vcpu
        self.set_real_mode()
        return 0

    def set_real_mode(self) -> None:
        """Segments as the memory map in ``guest`` needs them; APIC base left alone."""
        assert self.vcpu is not None
        sregs = self.vcpu.get_sregs()
        code = _real_mode_segment()
        code.type = 0xB
        sregs.cs = code
        sregs.ds = sregs.es = sregs.ss = _real_mode_segment()
        sregs.fs = _real_mode_segment(guest.LAPIC_BASE)
        sregs.gs = _real_mode_segment(guest.IOAPIC_BASE)
        sregs.cr0 &= ~1  # PE off
        self.vcpu.set_sregs(sregs)

    def apic_base(self) -> int:
        assert self.vcpu is not None
        return self.vcpu.get_sregs().apic_base

    def set_apic_base(self, value: int) -> None:
        assert self.vcpu is not None
        sregs = self.vcpu.get_sregs()
        sregs.apic_base = value
        self.vcpu.set_sregs(sregs)

    def execute(self, code: bytes) -> RunLog:
        """Run one program from ``guest.CODE`` until it reports done."""
        vcpu = self.vcpu
        if vcpu is None:
            raise GuestError("no vCPU")
        self.vm.ram[guest.CODE : guest.CODE + len(code)] = code
        regs = vcpu.get_regs()
        regs.rip = guest.CODE
        regs.rsp = guest.STACK
        regs.rflags = 0x2  # IF clear: interrupts wait in IRR until a program opens the window
        vcpu.set_regs(regs)
        log = RunLog()
        for _ in range(MAX_EXITS):
            reason = vcpu.run()
            if reason == abi.KVM_EXIT_IO:
                if self._port(vcpu, log):
                    return log
            elif reason == abi.KVM_EXIT_MMIO:
                self._mmio(vcpu)
            elif reason == abi.KVM_EXIT_IOAPIC_EOI:
                vector = vcpu.union(1)[0]
                log.eoi_exits.append(vector)
                if self.eoi is not None:
                    self.eoi(vector)
            elif reason == abi.KVM_EXIT_INTR:
                continue
            else:
                raise GuestError(f"unexpected KVM exit {reason} at rip {vcpu.get_regs().rip:#x}")
        raise GuestError(f"the guest program did not finish within {MAX_EXITS} exits")

    def _port(self, vcpu: Vcpu, log: RunLog) -> bool:
        direction, size, port, _count, offset = struct.unpack("<BBHIQ", vcpu.union(16))
        if direction != abi.KVM_EXIT_IO_OUT:
            raise GuestError(f"unexpected IN from port {port:#x}")
        value = int.from_bytes(vcpu.run_page[offset : offset + size], "little")
        if port == guest.PORT_DONE:
            return True
        if port == guest.PORT_IRQ:
            log.taken.append(value)
            if self.on_irq is not None:
                self.on_irq(value)
        elif port == guest.PORT_POLL:
            pass
        elif port == guest.PORT_VALUE:
            log.values.append(value)
        elif port == guest.PORT_FAULT:
            raise GuestError(f"guest exception {value} at rip {vcpu.get_regs().rip:#x}")
        else:
            raise GuestError(f"unexpected OUT to port {port:#x}")
        return False

    def _mmio(self, vcpu: Vcpu) -> None:
        address, data, length, is_write = struct.unpack("<Q8sIB", vcpu.union(21))
        if self.mmio is None:
            raise GuestError(f"MMIO at {address:#x} with nothing behind it")
        if is_write:
            self.mmio(address, length, data[:length])
        else:
            value = self.mmio(address, length, None)
            vcpu.set_union(8, value.to_bytes(8, "little"))

    def close(self) -> None:
        if self.vcpu is not None:
            self.vcpu.close()
        self.vm.close()
