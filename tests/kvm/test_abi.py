"""The ctypes mirror of the KVM ABI: struct sizes and ioctl numbers as the kernel has them.

The expected values are those of Linux include/uapi/linux/kvm.h on x86-64 (sizeof and
the _IO/_IOR/_IOW/_IOWR numbers). A wrong size would change the ioctl number, and the
kernel would refuse the call; these tests say which struct is wrong without a kernel.
"""

from __future__ import annotations

import ctypes

import pytest

from seoib.kvmhost import abi
from seoib.kvmhost.guest import IOAPIC_BASE, LAPIC_BASE, Program, ivt_image

SIZES = {
    "Regs": 144,
    "Sregs": 312,
    "Segment": 24,
    "Dtable": 16,
    "LapicState": 1024,
    "Irqchip": 520,
    "IoapicState": 216,
    "EnableCap": 104,
    "UserspaceMemoryRegion": 32,
    "Msi": 32,
    "IrqRoutingEntry": 48,
    "CpuidEntry2": 40,
    "IrqLevel": 8,
}

IOCTLS = {
    "KVM_GET_API_VERSION": 0xAE00,
    "KVM_CREATE_VM": 0xAE01,
    "KVM_CHECK_EXTENSION": 0xAE03,
    "KVM_GET_VCPU_MMAP_SIZE": 0xAE04,
    "KVM_GET_SUPPORTED_CPUID": 0xC008AE05,
    "KVM_CREATE_VCPU": 0xAE41,
    "KVM_SET_USER_MEMORY_REGION": 0x4020AE46,
    "KVM_CREATE_IRQCHIP": 0xAE60,
    "KVM_IRQ_LINE": 0x4008AE61,
    "KVM_GET_IRQCHIP": 0xC208AE62,
    "KVM_SET_IRQCHIP": 0x8208AE63,
    "KVM_SET_GSI_ROUTING": 0x4008AE6A,
    "KVM_SIGNAL_MSI": 0x4020AEA5,
    "KVM_RUN": 0xAE80,
    "KVM_GET_REGS": 0x8090AE81,
    "KVM_SET_REGS": 0x4090AE82,
    "KVM_GET_SREGS": 0x8138AE83,
    "KVM_SET_SREGS": 0x4138AE84,
    "KVM_SET_CPUID2": 0x4008AE90,
    "KVM_GET_CPUID2": 0xC008AE91,
    "KVM_GET_LAPIC": 0x8400AE8E,
    "KVM_SET_LAPIC": 0x4400AE8F,
    "KVM_ENABLE_CAP": 0x4068AEA3,
}


@pytest.mark.parametrize(("name", "size"), SIZES.items())
def test_struct_size_matches_the_kernel(name: str, size: int) -> None:
    assert ctypes.sizeof(getattr(abi, name)) == size


@pytest.mark.parametrize(("name", "number"), IOCTLS.items())
def test_ioctl_number_matches_the_header(name: str, number: int) -> None:
    assert getattr(abi, name) == number, f"{name} = {getattr(abi, name):#x}"


def test_kvm_run_offsets() -> None:
    # struct kvm_run: exit_reason after 8 bytes of input, the exit union at 32.
    assert (abi.RUN_EXIT_REASON, abi.RUN_APIC_BASE, abi.RUN_UNION) == (8, 24, 32)


def test_seoib_flags_are_bits_2_and_3() -> None:
    assert abi.KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST == 0x4
    assert abi.KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST == 0x8


def test_flexible_arrays_carry_their_count() -> None:
    entries = [abi.CpuidEntry2(function=f) for f in (0, 1, 7)]
    buf = abi.cpuid2(entries)
    assert ctypes.sizeof(buf) == 8 + 3 * 40
    assert [e.function for e in abi.cpuid_entries(buf)] == [0, 1, 7]


def test_ivt_points_every_vector_at_its_own_stub() -> None:
    image = ivt_image()
    for vector in (0, 13, 16, 0x40, 0xFF):
        offset = int.from_bytes(image[4 * vector : 4 * vector + 2], "little")
        stub = image[offset : offset + 8]
        if vector < 16:  # an exception: mov al, vector; out PORT_FAULT, al; hlt
            assert stub[:2] == bytes([0xB0, vector]) and stub[4] == 0xF4
        else:  # push ax; mov al, vector; out PORT_IRQ, al; pop ax; iret
            assert stub[:3] == bytes([0x50, 0xB0, vector]) and stub[5:7] == b"\x58\xcf"


def test_programs_use_the_apic_windows() -> None:
    # FS and GS carry the xAPIC page and the IOAPIC window; the offsets are 16-bit.
    assert LAPIC_BASE == 0xFEE00000 and IOAPIC_BASE == 0xFEC00000
    code = Program().eoir(0x40).done()
    assert code.startswith(b"\x65\x66\xc7\x06\x40\x00\x40\x00\x00\x00")  # mov dword gs:[0x40], 0x40


def test_the_backend_imports_no_rules_and_no_solver() -> None:
    import subprocess
    import sys

    code = (
        "import sys, seoib.kvmhost.backend, seoib.kvmhost.modetable; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('seoib.'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(loaded.stdout.split())
    # yamlio reads through files, whose limits are records: leaves that know nothing of rules
    allowed = ("seoib.kvmhost", "seoib.sim", "seoib.errors", "seoib.yamlio", "seoib.files",
               "seoib.record")
    assert modules and all(m.startswith(allowed) for m in modules), sorted(modules)
