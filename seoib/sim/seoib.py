"""QEMU's SEOIB vocabulary shared by the QEMU model and the design modules.

Machine state names follow the RFC (``kvm_lapic_seoib_state``): QUIRKED (default),
RESPECTED (flag ENABLE), NOT_ADVERTISED (flag DISABLE). ``Board`` is what a design's
code can reach inside QEMU: the VM's configuration, KVM's system and VM fds, the log.
"""

from __future__ import annotations

from collections.abc import Callable

from .assumptions import DEFAULT, Assumptions
from .config import SimHost, SimVM
from .frozen import Value
from .kvm import (
    SEOIB_FLAGS,
    X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST,
    X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST,
    Kvm,
    KvmVm,
    errno_name,
)

__all__ = [
    "IOAPIC_VER_DEF",
    "NOT_ADVERTISED",
    "QUIRKED",
    "RESPECTED",
    "SEOIB_SECTION",
    "STATE_FLAG",
    "Board",
    "LoadFailure",
    "StartFailure",
]

QUIRKED = "quirked"
RESPECTED = "respected"
NOT_ADVERTISED = "not-advertised"
STATE_FLAG = {
    QUIRKED: 0,
    RESPECTED: X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST,
    NOT_ADVERTISED: X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST,
}
SEOIB_SECTION = "x86-seoib-state"
# QEMU's userspace IOAPIC: the 'version' property's default (hw/intc/ioapic.c).
IOAPIC_VER_DEF = 0x20


class StartFailure(Exception):
    """QEMU (or KVM underneath it) refused the configuration."""


class LoadFailure(Exception):
    """Loading a migration stream or snapshot failed: ``refused`` or ``dest-abort``."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


class Board(Value):
    """One QEMU process's view while it configures KVM for a VM; ``assume`` holds the
    switches for the design's unconfirmed behaviour."""

    host: SimHost
    vm: SimVM
    kvm: Kvm
    kvm_vm: KvmVm
    log: Callable[[str], None]
    who: str
    assume: Assumptions

    def __init__(self, host: SimHost, vm: SimVM, kvm: Kvm, kvm_vm: KvmVm, log: Callable[[str], None],
                 who: str, assume: Assumptions = DEFAULT) -> None:
        self._store(host=host, vm=vm, kvm=kvm, kvm_vm=kvm_vm, log=log, who=who, assume=assume)

    def system_caps(self) -> int:
        """KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) on the system fd."""
        return self.kvm.check_extension_x2apic_api()

    def has_seoib_flags(self) -> bool:
        """Whether the kernel reports both SEOIB flags on the system fd."""
        return self.system_caps() & SEOIB_FLAGS == SEOIB_FLAGS

    def set_flags(self, state: str, why: str) -> int:
        """KVM_ENABLE_CAP(X2APIC_API) with the state's flag (nothing for QUIRKED)."""
        flag = STATE_FLAG[state]
        if not flag:
            return 0
        result = self.kvm_vm.enable_cap_x2apic_api(flag)
        self.log(f"{self.who}: {why} -> {state}: KVM_ENABLE_CAP(X2APIC_API, {flag:#x}) -> "
                 f"{errno_name(result)}")
        return result
