"""File descriptors of /dev/kvm, a VM and a vCPU, driven through ``fcntl.ioctl``.

Calls that a scenario observes (create irqchip, enable cap, ...) return 0 or a
negative errno, as the simulator's KVM does; calls the backend needs to work at
all raise :class:`KvmUnavailable` (no device) or ``OSError``.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
from typing import Any

from . import abi

__all__ = ["KvmUnavailable", "System", "Vcpu", "Vm", "usable"]


class KvmUnavailable(Exception):
    """/dev/kvm cannot be used here (absent, no permission, or lacking a capability)."""


def _ioctl(fd: int, request: int, arg: Any = 0) -> int:
    """The ioctl's return value, or -errno where the kernel refused."""
    try:
        return fcntl.ioctl(fd, request, arg)
    except OSError as err:
        return -(err.errno or 1)


def _must(fd: int, request: int, arg: Any = 0) -> int:
    result = _ioctl(fd, request, arg)
    if result < 0:
        raise OSError(-result, f"{os.strerror(-result)} (ioctl {request:#x})")
    return result


class System:
    """The system fd."""

    def __init__(self, path: str = "/dev/kvm") -> None:
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as err:
            raise KvmUnavailable(f"{path}: {err.strerror or err}") from None
        if _ioctl(self.fd, abi.KVM_GET_API_VERSION) != abi.KVM_API_VERSION:
            os.close(self.fd)
            raise KvmUnavailable(f"{path} is not a KVM device (API version mismatch)")
        self.path = path
        self.mmap_size = _must(self.fd, abi.KVM_GET_VCPU_MMAP_SIZE)

    def check_extension(self, cap: int) -> int:
        """KVM_CHECK_EXTENSION on the system fd."""
        return _ioctl(self.fd, abi.KVM_CHECK_EXTENSION, cap)

    def supported_cpuid(self) -> list[abi.CpuidEntry2]:
        """KVM_GET_SUPPORTED_CPUID."""
        buf = abi.cpuid2([abi.CpuidEntry2() for _ in range(256)])
        _must(self.fd, abi.KVM_GET_SUPPORTED_CPUID, buf)
        return abi.cpuid_entries(buf)

    def close(self) -> None:
        os.close(self.fd)


def usable(path: str = "/dev/kvm") -> str | None:
    """None when the backend can run here, else the one-line reason why not."""
    try:
        system = System(path)
    except KvmUnavailable as err:
        return str(err)
    try:
        mask = max(system.check_extension(abi.KVM_CAP_X2APIC_API), 0)
        split = system.check_extension(abi.KVM_CAP_SPLIT_IRQCHIP)
    finally:
        system.close()
    if not mask & abi.KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST:
        return f"{path}: KVM_CAP_X2APIC_API is {mask:#x}, without bit 3 (the SEOIB flags)"
    if split <= 0:
        return f"{path}: no KVM_CAP_SPLIT_IRQCHIP"
    return None


class Vm:
    """A VM fd with one slot of guest RAM at physical address 0."""

    def __init__(self, system: System, ram: int) -> None:
        self.system = system
        self.fd = _must(system.fd, abi.KVM_CREATE_VM, 0)
        self.ram = mmap.mmap(-1, ram, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        region = abi.UserspaceMemoryRegion(
            slot=0,
            guest_phys_addr=0,
            memory_size=ram,
            userspace_addr=ctypes.addressof(ctypes.c_char.from_buffer(self.ram)),
        )
        _must(self.fd, abi.KVM_SET_USER_MEMORY_REGION, region)

    def check_extension(self, cap: int) -> int:
        return _ioctl(self.fd, abi.KVM_CHECK_EXTENSION, cap)

    def enable_cap(self, cap: int, arg0: int) -> int:
        ec = abi.EnableCap(cap=cap)
        ec.args[0] = arg0
        return _ioctl(self.fd, abi.KVM_ENABLE_CAP, ec)

    def create_irqchip(self) -> int:
        return _ioctl(self.fd, abi.KVM_CREATE_IRQCHIP)

    def create_vcpu(self) -> Vcpu | int:
        """A vCPU, or the negative errno the kernel answered."""
        fd = _ioctl(self.fd, abi.KVM_CREATE_VCPU, 0)
        return fd if fd < 0 else Vcpu(self, fd)

    def irq_line(self, gsi: int, level: int) -> int:
        return _ioctl(self.fd, abi.KVM_IRQ_LINE, abi.IrqLevel(irq=gsi, level=level))

    def signal_msi(self, address: int, data: int) -> int:
        return _ioctl(self.fd, abi.KVM_SIGNAL_MSI, abi.Msi(address_lo=address, data=data))

    def set_msi_routes(self, routes: list[tuple[int, int, int]]) -> None:
        """KVM_SET_GSI_ROUTING with one MSI route ``(gsi, address, data)`` each."""
        entries = []
        for gsi, address, data in routes:
            entry = abi.IrqRoutingEntry(gsi=gsi, type=abi.KVM_IRQ_ROUTING_MSI)
            entry.u.msi.address_lo = address
            entry.u.msi.data = data
            entries.append(entry)
        _must(self.fd, abi.KVM_SET_GSI_ROUTING, abi.irq_routing(entries))

    def get_ioapic(self) -> abi.IoapicState:
        """KVM_GET_IRQCHIP of the in-kernel IOAPIC."""
        chip = abi.Irqchip(chip_id=abi.KVM_IRQCHIP_IOAPIC)
        _must(self.fd, abi.KVM_GET_IRQCHIP, chip)
        return chip.chip.ioapic

    def write_ioapic_entry(self, pin: int, value: int, read_only: int, edge_clears: int) -> None:
        """KVM_SET_IRQCHIP with one redirection entry replaced, as userspace restores one.

        The entry's read-only bits (``read_only``) are kept from the kernel's state and
        ``edge_clears`` (Remote IRR) is dropped from an edge entry, as a guest's write
        would do (ioapic_write_indirect); kvm_set_ioapic() then re-injects the lines
        that are high (kvm_ioapic_inject_all), which services an unmasked level entry.
        """
        chip = abi.Irqchip(chip_id=abi.KVM_IRQCHIP_IOAPIC)
        _must(self.fd, abi.KVM_GET_IRQCHIP, chip)
        state = chip.chip.ioapic
        old = state.redirtbl[pin]
        new = (value & ~read_only) | (old & read_only)
        if not new & (1 << 15):  # edge
            new &= ~edge_clears
        state.redirtbl[pin] = new
        _must(self.fd, abi.KVM_SET_IRQCHIP, chip)

    def reset_ioapic(self, entry: int) -> None:
        """KVM_SET_IRQCHIP: the in-kernel IOAPIC back to ``entry`` on every pin, IRR clear."""
        chip = abi.Irqchip(chip_id=abi.KVM_IRQCHIP_IOAPIC)
        _must(self.fd, abi.KVM_GET_IRQCHIP, chip)
        state = chip.chip.ioapic
        state.irr = 0
        state.ioregsel = 0
        for pin in range(len(state.redirtbl)):
            state.redirtbl[pin] = entry
        _must(self.fd, abi.KVM_SET_IRQCHIP, chip)

    def close(self) -> None:
        os.close(self.fd)
        self.ram.close()


class Vcpu:
    """A vCPU fd and its mmapped ``struct kvm_run``."""

    def __init__(self, vm: Vm, fd: int) -> None:
        self.vm = vm
        self.fd = fd
        self.run_page = mmap.mmap(fd, vm.system.mmap_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def run(self) -> int:
        """KVM_RUN once; the exit reason."""
        _must(self.fd, abi.KVM_RUN)
        return int.from_bytes(self.run_page[abi.RUN_EXIT_REASON : abi.RUN_EXIT_REASON + 4], "little")

    def union(self, size: int, offset: int = 0) -> bytes:
        """Bytes of the exit-reason union of kvm_run."""
        start = abi.RUN_UNION + offset
        return self.run_page[start : start + size]

    def set_union(self, offset: int, data: bytes) -> None:
        start = abi.RUN_UNION + offset
        self.run_page[start : start + len(data)] = data

    def get_regs(self) -> abi.Regs:
        regs = abi.Regs()
        _must(self.fd, abi.KVM_GET_REGS, regs)
        return regs

    def set_regs(self, regs: abi.Regs) -> None:
        _must(self.fd, abi.KVM_SET_REGS, regs)

    def get_sregs(self) -> abi.Sregs:
        sregs = abi.Sregs()
        _must(self.fd, abi.KVM_GET_SREGS, sregs)
        return sregs

    def set_sregs(self, sregs: abi.Sregs) -> None:
        _must(self.fd, abi.KVM_SET_SREGS, sregs)

    def get_lapic(self) -> bytes | int:
        """The 1 KiB register page, or -errno (EINVAL without an in-kernel LAPIC)."""
        state = abi.LapicState()
        result = _ioctl(self.fd, abi.KVM_GET_LAPIC, state)
        return result if result < 0 else bytes(state)

    def set_lapic(self, regs: bytes) -> int:
        state = abi.LapicState.from_buffer_copy(regs)
        return _ioctl(self.fd, abi.KVM_SET_LAPIC, state)

    def set_cpuid(self, entries: list[abi.CpuidEntry2]) -> int:
        return _ioctl(self.fd, abi.KVM_SET_CPUID2, abi.cpuid2(entries))

    def get_cpuid(self) -> list[abi.CpuidEntry2]:
        """KVM_GET_CPUID2: the entries the vCPU holds (none before the first SET)."""
        buf = abi.cpuid2([abi.CpuidEntry2() for _ in range(256)])
        _must(self.fd, abi.KVM_GET_CPUID2, buf)
        return abi.cpuid_entries(buf)

    def close(self) -> None:
        self.run_page.close()
        os.close(self.fd)
