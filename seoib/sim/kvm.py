"""KVM's side: capability checks, KVM_ENABLE_CAP(KVM_CAP_X2APIC_API), the per-VM
SEOIB mode and the two predicates that decide what the guest sees and gets.

advertise(vm): ENABLED yes, DISABLED no, QUIRKED iff split irqchip.
suppress(vcpu): SVR bit 12 clear no; else ENABLED yes, DISABLED no, QUIRKED iff the
IOAPIC is in the kernel. On split, QUIRKED advertises but never suppresses: the bug.
ioctls return 0 (or a value) on success and a negative errno on failure.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from .ioapic import VERSION_82093AA, Ioapic
from .lapic import LVR_BASE, LVR_SEOIB, SVR_SEOIB, Lapic, LapicState

__all__ = [
    "EEXIST",
    "EINVAL",
    "MODE_DISABLED",
    "MODE_ENABLED",
    "MODE_QUIRKED",
    "X2APIC_API_DISABLE_BROADCAST_QUIRK",
    "X2APIC_API_USE_32BIT_IDS",
    "X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST",
    "X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST",
    "Kvm",
    "KvmVcpu",
    "KvmVm",
    "errno_name",
]

X2APIC_API_USE_32BIT_IDS = 1 << 0
X2APIC_API_DISABLE_BROADCAST_QUIRK = 1 << 1
X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST = 1 << 2
X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST = 1 << 3
SEOIB_FLAGS = X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST | X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST

MODE_QUIRKED = "QUIRKED"
MODE_ENABLED = "ENABLED"
MODE_DISABLED = "DISABLED"

EINVAL = 22
EEXIST = 17
_ERRNO_NAMES = {EINVAL: "EINVAL", EEXIST: "EEXIST"}

IRQCHIP_NONE = "off"
IRQCHIP_KERNEL = "on"
IRQCHIP_SPLIT = "split"


def errno_name(result: int) -> str:
    """Render an ioctl result: ``ok``, an errno name, or the returned value."""
    if result < 0:
        return _ERRNO_NAMES.get(-result, f"errno {-result}")
    return "ok" if result == 0 else hex(result)


class Kvm:
    """/dev/kvm: what the host kernel reports on the system fd."""

    __slots__ = ("split_irqchip", "x2apic_api")

    def __init__(self, x2apic_api: int, split_irqchip: bool) -> None:
        self.x2apic_api = x2apic_api
        self.split_irqchip = split_irqchip

    def check_extension_x2apic_api(self) -> int:
        """KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) on the system fd."""
        return self.x2apic_api

    def create_vm(self) -> KvmVm:
        """KVM_CREATE_VM: a VM without irqchip, mode QUIRKED."""
        return KvmVm(self)


class KvmVm:
    """A VM fd. ``eoi_exit`` is userspace's handler for KVM_EXIT_IOAPIC_EOI."""

    __slots__ = (
        "__weakref__",
        "eoi_exit",
        "eoi_exits",
        "irqchip",
        "kernel_ioapic",
        "kvm",
        "mode",
        "vcpu",
        "x2apic_format",
    )

    def __init__(self, kvm: Kvm) -> None:
        self.kvm = kvm
        self.irqchip = IRQCHIP_NONE
        self.mode = MODE_QUIRKED
        self.x2apic_format = 0  # the two old flags; kept, not modelled further
        self.kernel_ioapic: Ioapic | None = None
        self.vcpu: KvmVcpu | None = None
        self.eoi_exit: Callable[[int], None] | None = None
        self.eoi_exits = 0

    # -- capabilities ----------------------------------------------------
    def check_extension_x2apic_api(self) -> int:
        """KVM_CHECK_EXTENSION on the VM fd: ENABLE is offered only once split is on."""
        mask = self.kvm.x2apic_api
        if self.irqchip != IRQCHIP_SPLIT:
            mask &= ~X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST
        return mask

    def create_irqchip(self, kind: str) -> int:
        """KVM_CREATE_IRQCHIP ("on") or KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP) ("split").

        arch/x86/kvm/x86.c: a second irqchip of either kind is EEXIST; once a vCPU
        exists KVM_CREATE_IRQCHIP is EINVAL but the split cap is EEXIST.
        """
        if kind == IRQCHIP_SPLIT:
            if not self.kvm.split_irqchip:
                return -EINVAL  # the cap itself is unknown
            if self.irqchip != IRQCHIP_NONE or self.vcpu is not None:
                return -EEXIST
            self.irqchip = IRQCHIP_SPLIT
            return 0
        if kind == IRQCHIP_KERNEL:
            if self.irqchip != IRQCHIP_NONE:
                return -EEXIST
            if self.vcpu is not None:
                return -EINVAL
            self.irqchip = IRQCHIP_KERNEL
            self.kernel_ioapic = Ioapic(VERSION_82093AA)  # KVM's IOAPIC is always 0x11
            self.kernel_ioapic.kernel = True
            return 0
        return -EINVAL

    def enable_cap_x2apic_api(self, flags: int) -> int:
        """KVM_ENABLE_CAP(KVM_CAP_X2APIC_API, flags)."""
        if flags & ~self.kvm.x2apic_api:  # unknown bit, or the cap itself is absent
            return -EINVAL
        if flags & SEOIB_FLAGS == SEOIB_FLAGS:
            return -EINVAL
        if flags & X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST and self.irqchip != IRQCHIP_SPLIT:
            return -EINVAL
        self.x2apic_format |= flags & (X2APIC_API_USE_32BIT_IDS | X2APIC_API_DISABLE_BROADCAST_QUIRK)
        # One-way out of QUIRKED; ENABLED <-> DISABLED stays possible. No LVR update here.
        if flags & X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST:
            self.mode = MODE_ENABLED
        elif flags & X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST:
            self.mode = MODE_DISABLED
        return 0

    def seoib_flags(self) -> int:
        """The SEOIB flag that put the VM in its current mode (0 while QUIRKED)."""
        if self.mode == MODE_ENABLED:
            return X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST
        if self.mode == MODE_DISABLED:
            return X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST
        return 0

    def advertise(self) -> bool:
        """Whether KVM offers SEOIB to the guest (feeds LVR bit 24)."""
        if self.mode == MODE_ENABLED:
            return True
        if self.mode == MODE_DISABLED:
            return False
        return self.irqchip == IRQCHIP_SPLIT

    def create_vcpu(self) -> KvmVcpu:
        """KVM_CREATE_VCPU: one vCPU at reset, CPUID still empty (no x2APIC)."""
        self.vcpu = KvmVcpu(self)
        return self.vcpu


class KvmVcpu:
    """A vCPU fd and its LAPIC (in KVM unless the VM has no irqchip)."""

    __slots__ = ("_vm_ref", "cpuid_set", "cpuid_x2apic", "has_run", "lapic", "lvr_updates", "vm")

    def __init__(self, vm: KvmVm) -> None:
        # The VM fd owns its vCPU; a weak link back leaves no reference cycle, so a finished
        # run is freed at once rather than by the cycle collector.
        self.vm: KvmVm = weakref.proxy(vm)
        self._vm_ref = weakref.ref(vm)  # the same link, dereferenced once per EOI (see guest_eoi)
        self.lapic = Lapic()
        self.cpuid_x2apic = False
        self.cpuid_set = False  # KVM_CREATE_VCPU leaves the CPUID empty (no entries)
        self.has_run = False  # kvm_vcpu_has_run: set by the first KVM_RUN, never cleared
        self.lvr_updates = 0
        self.reset()

    @property
    def in_kernel_lapic(self) -> bool:
        """False means the LAPIC is userspace's, which never offers SEOIB."""
        return self.vm.irqchip != IRQCHIP_NONE

    def _update_lvr(self) -> None:
        # The only place LVR changes: SET_CPUID, SET_LAPIC and RESET/INIT call it.
        lvr = LVR_BASE
        if self.in_kernel_lapic and self.cpuid_x2apic and self.vm.advertise():
            lvr |= LVR_SEOIB
        self.lapic.lvr = lvr
        self.lvr_updates += 1

    def set_cpuid(self, x2apic: bool) -> int:
        """KVM_SET_CPUID2 with or without the x2APIC bit.

        Once the vCPU has run, arch/x86/kvm/cpuid.c kvm_set_cpuid accepts only the
        CPUID already set (kvm_cpuid_check_equal; -EINVAL otherwise, an empty one
        included) and skips kvm_vcpu_after_set_cpuid, so LVR is not recomputed either
        way: a guest cannot flip x2APIC, and a mode switched after the first run does
        not reach LVR through SET_CPUID (since c6617c61e8fe, v5.17; measured on 6.18.44).
        """
        if self.has_run:
            return 0 if self.cpuid_set and x2apic == self.cpuid_x2apic else -EINVAL
        self.cpuid_x2apic = x2apic
        self.cpuid_set = True
        self._update_lvr()
        return 0

    def enter(self) -> None:
        """KVM_RUN: the guest executes (every guest-side step is one)."""
        self.has_run = True

    def get_lapic(self) -> LapicState | int:
        """KVM_GET_LAPIC; -EINVAL without an in-kernel LAPIC.

        arch/x86/kvm/x86.c kvm_arch_vcpu_ioctl: ``r = -EINVAL; if
        (!lapic_in_kernel(vcpu)) goto out;`` for GET and SET alike. QEMU's own LAPIC
        (kernel-irqchip=off) is read from ``lapic`` directly.
        """
        if not self.in_kernel_lapic:
            return -EINVAL
        return self.lapic.get_state()

    def set_lapic(self, state: LapicState) -> int:
        """KVM_SET_LAPIC: registers verbatim (SVR bit 12 too), then LVR recomputed;
        -EINVAL and nothing changed without an in-kernel LAPIC (as :meth:`get_lapic`)."""
        if not self.in_kernel_lapic:
            return -EINVAL
        self.lapic.set_state(state)
        self._update_lvr()
        return 0

    def reset(self) -> None:
        """vCPU RESET/INIT."""
        self.lapic.reset()
        self._update_lvr()

    def suppress(self) -> bool:
        """Whether this vCPU's EOIs are kept from the IOAPIC; read live at each EOI."""
        if not self.in_kernel_lapic or not self.lapic.svr & SVR_SEOIB:
            return False
        mode = self.vm.mode
        if mode == MODE_ENABLED:
            return True
        if mode == MODE_DISABLED:
            return False
        return self.vm.irqchip == IRQCHIP_KERNEL

    def guest_write_svr(self, value: int) -> None:
        """The guest writes SVR (MSR 0x80F)."""
        self.has_run = True
        self.lapic.write_svr(value)

    def guest_eoi(self, routed_levels: int) -> int:
        """The guest writes EOI; ``routed_levels`` are the IOAPIC's level vectors.

        On split, KVM exits for any vector in its IOAPIC-handled bitmap (the vectors
        of level routes), whatever TMR says; the TMR bit only decides the trigger
        mode the in-kernel IOAPIC (and a userspace LAPIC's broadcast) is told.
        Returns the vector that left service (-1 when none was in service).
        """
        lapic = self.lapic
        isr = lapic.isr  # Lapic.eoi inlined: this runs for every EOI of every simulated run
        if not isr:
            return -1
        vector = isr.bit_length() - 1
        lapic.isr = isr ^ (1 << vector)
        if not (routed_levels >> vector) & 1:
            return vector
        # The VM itself, not the proxy: every read through a proxy costs a lookup.
        vm: KvmVm | None = self._vm_ref()
        if vm is None:  # the VM fd is gone: the proxy raises what it always raised
            vm = self.vm
        irqchip = vm.irqchip
        if not (lapic.tmr >> vector) & 1 and irqchip != IRQCHIP_SPLIT:
            return vector
        if irqchip == IRQCHIP_NONE:
            # Userspace LAPIC broadcasts to userspace's IOAPIC directly.
            if vm.eoi_exit is not None:
                vm.eoi_exit(vector)
            return vector
        if lapic.svr & SVR_SEOIB:
            # suppress() inlined (the LAPIC is KVM's here): the mode decides, QUIRKED by irqchip.
            mode = vm.mode
            if mode == MODE_ENABLED or (mode != MODE_DISABLED and irqchip == IRQCHIP_KERNEL):
                return vector
        if irqchip == IRQCHIP_SPLIT:
            vm.eoi_exits += 1  # KVM_EXIT_IOAPIC_EOI
            if vm.eoi_exit is not None:
                vm.eoi_exit(vector)
        elif vm.kernel_ioapic is not None:
            vm.kernel_ioapic.eoi_broadcast(vector)
        return vector
