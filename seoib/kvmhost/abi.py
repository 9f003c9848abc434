"""The /dev/kvm ABI this package speaks: ioctl numbers, ctypes structs, exit reasons.

Transcribed from Linux ``include/uapi/linux/kvm.h`` and
``arch/x86/include/uapi/asm/kvm.h`` (x86-64). The installed headers may predate the
SEOIB flags, so the two new KVM_X2APIC_API bits are defined here. Every struct's
size is pinned against the kernel ABI by tests/kvm/test_abi.py; a wrong size
would also change the ioctl number and the kernel would answer ENOTTY.
"""

from __future__ import annotations

import ctypes

__all__ = [
    "KVM_CAP_SPLIT_IRQCHIP",
    "KVM_CAP_X2APIC_API",
    "KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST",
    "KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST",
    "CpuidEntry2",
    "EnableCap",
    "IoapicState",
    "IrqLevel",
    "IrqRoutingEntry",
    "Irqchip",
    "LapicState",
    "Msi",
    "Regs",
    "Segment",
    "Sregs",
    "UserspaceMemoryRegion",
    "cpuid2",
    "irq_routing",
]

KVMIO = 0xAE
_IOC_WRITE = 1
_IOC_READ = 2


def _ioc(direction: int, nr: int, size: int) -> int:
    # asm-generic/ioctl.h: dir << 30 | size << 16 | type << 8 | nr
    return (direction << 30) | (size << 16) | (KVMIO << 8) | nr


def _io(nr: int) -> int:
    return _ioc(0, nr, 0)


u8, u16, u32, u64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64


class UserspaceMemoryRegion(ctypes.Structure):
    """struct kvm_userspace_memory_region."""

    _fields_ = [
        ("slot", u32),
        ("flags", u32),
        ("guest_phys_addr", u64),
        ("memory_size", u64),
        ("userspace_addr", u64),
    ]


_REGS = (
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
)


class Regs(ctypes.Structure):
    """struct kvm_regs (x86)."""

    _fields_ = [(name, u64) for name in _REGS]


class Segment(ctypes.Structure):
    """struct kvm_segment: the hidden descriptor cache, base included."""

    _fields_ = [
        ("base", u64),
        ("limit", u32),
        ("selector", u16),
        ("type", u8),
        ("present", u8),
        ("dpl", u8),
        ("db", u8),
        ("s", u8),
        ("l", u8),
        ("g", u8),
        ("avl", u8),
        ("unusable", u8),
        ("padding", u8),
    ]


class Dtable(ctypes.Structure):
    """struct kvm_dtable."""

    _fields_ = [("base", u64), ("limit", u16), ("padding", u16 * 3)]


class Sregs(ctypes.Structure):
    """struct kvm_sregs (x86)."""

    _fields_ = [
        ("cs", Segment),
        ("ds", Segment),
        ("es", Segment),
        ("fs", Segment),
        ("gs", Segment),
        ("ss", Segment),
        ("tr", Segment),
        ("ldt", Segment),
        ("gdt", Dtable),
        ("idt", Dtable),
        ("cr0", u64),
        ("cr2", u64),
        ("cr3", u64),
        ("cr4", u64),
        ("cr8", u64),
        ("efer", u64),
        ("apic_base", u64),
        ("interrupt_bitmap", u64 * 4),
    ]


class LapicState(ctypes.Structure):
    """struct kvm_lapic_state: the 1 KiB register page (offsets as in the SDM)."""

    _fields_ = [("regs", ctypes.c_char * 1024)]


class IoapicState(ctypes.Structure):
    """struct kvm_ioapic_state."""

    _fields_ = [
        ("base_address", u64),
        ("ioregsel", u32),
        ("id", u32),
        ("irr", u32),
        ("pad", u32),
        ("redirtbl", u64 * 24),
    ]


class _IrqchipUnion(ctypes.Union):
    _fields_ = [("dummy", ctypes.c_char * 512), ("ioapic", IoapicState)]


class Irqchip(ctypes.Structure):
    """struct kvm_irqchip; chip_id 2 is the IOAPIC."""

    _fields_ = [("chip_id", u32), ("pad", u32), ("chip", _IrqchipUnion)]


class EnableCap(ctypes.Structure):
    """struct kvm_enable_cap."""

    _fields_ = [("cap", u32), ("flags", u32), ("args", u64 * 4), ("pad", u8 * 64)]


class Msi(ctypes.Structure):
    """struct kvm_msi."""

    _fields_ = [
        ("address_lo", u32),
        ("address_hi", u32),
        ("data", u32),
        ("flags", u32),
        ("devid", u32),
        ("pad", u8 * 12),
    ]


class IrqLevel(ctypes.Structure):
    """struct kvm_irq_level."""

    _fields_ = [("irq", u32), ("level", u32)]


class _RouteMsi(ctypes.Structure):
    _fields_ = [("address_lo", u32), ("address_hi", u32), ("data", u32), ("devid", u32)]


class _RouteUnion(ctypes.Union):
    _fields_ = [("msi", _RouteMsi), ("pad", u32 * 8)]


class IrqRoutingEntry(ctypes.Structure):
    """struct kvm_irq_routing_entry."""

    _fields_ = [("gsi", u32), ("type", u32), ("flags", u32), ("pad", u32), ("u", _RouteUnion)]


class CpuidEntry2(ctypes.Structure):
    """struct kvm_cpuid_entry2."""

    _fields_ = [
        ("function", u32),
        ("index", u32),
        ("flags", u32),
        ("eax", u32),
        ("ebx", u32),
        ("ecx", u32),
        ("edx", u32),
        ("padding", u32 * 3),
    ]


class _Header(ctypes.Structure):
    """The ``{nr, flags/padding}`` head of kvm_cpuid2 and kvm_irq_routing."""

    _fields_ = [("nr", u32), ("flags", u32)]


def cpuid2(entries: list[CpuidEntry2]) -> ctypes.Array:
    """A kvm_cpuid2 with its flexible array, as one byte buffer."""
    return _flex(entries, CpuidEntry2)


def irq_routing(entries: list[IrqRoutingEntry]) -> ctypes.Array:
    """A kvm_irq_routing with its flexible array, as one byte buffer."""
    return _flex(entries, IrqRoutingEntry)


def _flex(entries: list, kind: type) -> ctypes.Array:
    head = ctypes.sizeof(_Header)
    buf = ctypes.create_string_buffer(head + ctypes.sizeof(kind) * max(len(entries), 1))
    _Header.from_buffer(buf).nr = len(entries)
    for i, entry in enumerate(entries):
        ctypes.memmove(ctypes.addressof(buf) + head + i * ctypes.sizeof(kind), ctypes.addressof(entry),
                       ctypes.sizeof(kind))
    return buf


def cpuid_entries(buf: ctypes.Array) -> list[CpuidEntry2]:
    """Entries of a kvm_cpuid2 buffer filled by the kernel."""
    head = ctypes.sizeof(_Header)
    count = _Header.from_buffer(buf).nr
    size = ctypes.sizeof(CpuidEntry2)
    return [CpuidEntry2.from_buffer_copy(buf, head + i * size) for i in range(count)]


# -- ioctl numbers (system, VM and vCPU fds) ---------------------------------
KVM_GET_API_VERSION = _io(0x00)
KVM_CREATE_VM = _io(0x01)
KVM_CHECK_EXTENSION = _io(0x03)
KVM_GET_VCPU_MMAP_SIZE = _io(0x04)
KVM_GET_SUPPORTED_CPUID = _ioc(_IOC_READ | _IOC_WRITE, 0x05, ctypes.sizeof(_Header))
KVM_CREATE_VCPU = _io(0x41)
KVM_SET_USER_MEMORY_REGION = _ioc(_IOC_WRITE, 0x46, ctypes.sizeof(UserspaceMemoryRegion))
KVM_CREATE_IRQCHIP = _io(0x60)
KVM_IRQ_LINE = _ioc(_IOC_WRITE, 0x61, ctypes.sizeof(IrqLevel))
KVM_GET_IRQCHIP = _ioc(_IOC_READ | _IOC_WRITE, 0x62, ctypes.sizeof(Irqchip))
KVM_SET_IRQCHIP = _ioc(_IOC_READ, 0x63, ctypes.sizeof(Irqchip))  # sic: _IOR in kvm.h
KVM_SET_GSI_ROUTING = _ioc(_IOC_WRITE, 0x6A, ctypes.sizeof(_Header))
KVM_RUN = _io(0x80)
KVM_GET_REGS = _ioc(_IOC_READ, 0x81, ctypes.sizeof(Regs))
KVM_SET_REGS = _ioc(_IOC_WRITE, 0x82, ctypes.sizeof(Regs))
KVM_GET_SREGS = _ioc(_IOC_READ, 0x83, ctypes.sizeof(Sregs))
KVM_SET_SREGS = _ioc(_IOC_WRITE, 0x84, ctypes.sizeof(Sregs))
KVM_GET_LAPIC = _ioc(_IOC_READ, 0x8E, ctypes.sizeof(LapicState))
KVM_SET_LAPIC = _ioc(_IOC_WRITE, 0x8F, ctypes.sizeof(LapicState))
KVM_SET_CPUID2 = _ioc(_IOC_WRITE, 0x90, ctypes.sizeof(_Header))
KVM_GET_CPUID2 = _ioc(_IOC_READ | _IOC_WRITE, 0x91, ctypes.sizeof(_Header))
KVM_ENABLE_CAP = _ioc(_IOC_WRITE, 0xA3, ctypes.sizeof(EnableCap))
KVM_SIGNAL_MSI = _ioc(_IOC_WRITE, 0xA5, ctypes.sizeof(Msi))

KVM_API_VERSION = 12

# -- capabilities and flags --------------------------------------------------
KVM_CAP_IRQCHIP = 0
KVM_CAP_SPLIT_IRQCHIP = 121
KVM_CAP_X2APIC_API = 129
KVM_X2APIC_API_USE_32BIT_IDS = 1 << 0
KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK = 1 << 1
# Commit 6517dfbcc918 ("KVM: x86: Add x2APIC "features" to control EOI broadcast
# suppression"): newer than the installed headers.
KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST = 1 << 2
KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST = 1 << 3

KVM_IRQCHIP_IOAPIC = 2
KVM_IRQ_ROUTING_MSI = 2
KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1

# -- kvm_run -----------------------------------------------------------------
RUN_EXIT_REASON = 8  # offsetof(struct kvm_run, exit_reason)
RUN_APIC_BASE = 24
RUN_UNION = 32  # offsetof(struct kvm_run, io/mmio/eoi)

KVM_EXIT_IO = 2
KVM_EXIT_HLT = 5
KVM_EXIT_MMIO = 6
KVM_EXIT_SHUTDOWN = 8
KVM_EXIT_FAIL_ENTRY = 9
KVM_EXIT_INTR = 10
KVM_EXIT_INTERNAL_ERROR = 17
KVM_EXIT_IOAPIC_EOI = 26
KVM_EXIT_IO_OUT = 1
