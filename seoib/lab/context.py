"""What every observation of one lab run shares: the host, the native parts, a run directory.

Contract: a :class:`LabContext` knows the running kernel's release and real
``KVM_CAP_X2APIC_API`` mask (read once, through seoib.inputs.probe), the KVM
implementation (seoib.kvmhost's detect(), the EOI timing measured), the compiled
shim and guest, and a private directory for sockets,
logs and consoles. It turns (binary, kernel view, VM) into the specs the engine
is asked: the host spec the probe would give, seen through the view, and the VM
spec the engine reads from the run's own command line.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..inputs.qemu_cmdline import parse_qemu_cmdline
from ..kvmhost.host import KvmHost
from .binary import QemuBinary
from .kernels import KernelView
from .toolchain import NativeParts
from .vm import LabVM

__all__ = ["GUEST_PROFILE", "LabContext"]

# The lab's guest sets SVR bit 12 whenever LVR bit 24 is set, EOIs at the LAPIC and
# services the device later, then writes the IOAPIC EOI register: the engine's
# windows-hyperv profile (rules/guests.yaml).
GUEST_PROFILE = "windows-hyperv"


@dataclass
class LabContext:
    rundir: Path
    native: NativeParts
    kernel_release: str
    real_mask: int
    kvm: KvmHost
    timeout: float = 20.0
    _names: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def name(self, stem: str) -> str:
        """A fresh file stem in the run directory (sockets, logs, consoles)."""
        with self._lock:
            return f"{stem}-{next(self._names)}"

    def host_spec(self, binary: QemuBinary, view: KernelView) -> dict[str, str]:
        return {"kernel": self.kernel_release, **binary.host_keys(), **view.host_keys(self.real_mask)}

    def vm_spec(self, vm: LabVM, binary: QemuBinary, view: KernelView, *,
                guest: bool) -> dict[str, Any]:
        parsed = parse_qemu_cmdline(vm.cmdline(binary.path, self.native.guest))
        spec: dict[str, Any] = dict(parsed.spec)
        spec.update(view.vm_keys())
        if guest:
            spec["guest"] = GUEST_PROFILE
        return spec

    def eoi_note(self) -> str | None:
        who = self.kvm.implementation
        if self.kvm.eoi_at_delivery:
            return (f"{who}: the LAPIC EOI is processed at delivery, so a guest that "
                    "services the device before its EOI still sees a second delivery per raise; "
                    "counts are of deliveries, their timing is this host's")
        if self.kvm.eoi_at_delivery is None:
            return f"{who}: when this KVM processes the EOI is unknown (not measured)"
        return None
