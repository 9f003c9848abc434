"""Which KVM answers on this host, and whether it processes a guest's EOI at delivery.

Contract: :func:`detect` names the KVM implementation behind ``/dev/kvm`` and says
how it knows. The implementation is read from the loaded modules
(``/sys/module/<name>``): ``kvm_intel`` is ``vmx``, ``kvm_amd`` is ``svm``,
``kvm_pvm`` is ``pvm`` (KVM on a paravirtualized host, without VMX or SVM), any
other module that loads ``kvm`` is ``other``, and no ``kvm`` module at all is
``none``; the CPU's ``vmx``/``svm`` flags in ``/proc/cpuinfo`` are kept as
evidence. With ``measure=True`` and a usable device it also measures whether the
kernel processes a guest's LAPIC EOI when it delivers the interrupt, not when the
guest writes EOI (this machine's ``kvm_pvm`` does): a real-mode guest takes one
edge interrupt on a scratch split-irqchip VM and ISR is read back; an empty ISR
means the EOI already happened.

Every observation whose value depends on that timing (ISR and IRR read right
after a delivery, the moment a ``KVM_EXIT_IOAPIC_EOI`` reaches userspace) must
say so beside the value; ``seoib probe``, ``seoib simulate --backend kvm`` and any
other command that runs guests on this host call :func:`detect` for it.

>>> KvmHost("vmx", "kvm_intel", ("module kvm_intel loaded",), False).describe()
'vmx (kvm_intel), EOI processed when the guest writes it (measured)'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["IMPLEMENTATIONS", "KvmHost", "detect"]

# Module name -> implementation; the order is the order they are looked for.
IMPLEMENTATIONS = {"kvm_intel": "vmx", "kvm_amd": "svm", "kvm_pvm": "pvm"}
SYS_MODULE = "/sys/module"
CPUINFO = "/proc/cpuinfo"


@dataclass(frozen=True)
class KvmHost:
    """The KVM implementation of this host and when it processes a guest's EOI.

    ``eoi_at_delivery`` is None when it was not measured (no usable device, or not
    asked); ``evidence`` lists what the answer rests on, one readable line each.
    """

    implementation: str  # vmx | svm | pvm | other | none
    module: str | None
    evidence: tuple[str, ...]
    eoi_at_delivery: bool | None = None

    def as_json(self) -> dict[str, Any]:
        return {"implementation": self.implementation, "module": self.module,
                "eoi_at_delivery": self.eoi_at_delivery, "evidence": list(self.evidence)}

    def describe(self) -> str:
        """One line: the implementation and the EOI timing."""
        who = f"{self.implementation} ({self.module})" if self.module else self.implementation
        if self.eoi_at_delivery is None:
            timing = "EOI timing not measured"
        elif self.eoi_at_delivery:
            timing = ("EOI processed at delivery, before the guest writes it (measured): "
                      "ISR/IRR right after a delivery and the moment of an EOI exit differ "
                      "from hardware")
        else:
            timing = "EOI processed when the guest writes it (measured)"
        return f"{who}, {timing}"


def _modules(root: str) -> set[str]:
    try:
        return set(os.listdir(root))
    except OSError:
        return set()


def _cpu_flags(path: str) -> set[str]:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def _implementation(modules: set[str], flags: set[str]) -> tuple[str, str | None, list[str]]:
    evidence = [f"CPU flags: {', '.join(sorted(flags & {'vmx', 'svm'})) or 'neither vmx nor svm'}"
                f" ({CPUINFO})"]
    for module, name in IMPLEMENTATIONS.items():
        if module in modules:
            return name, module, [f"module {module} loaded ({SYS_MODULE}/{module})", *evidence]
    if "kvm" in modules:
        return "other", "kvm", ["module kvm loaded, none of "
                                f"{', '.join(IMPLEMENTATIONS)} beside it", *evidence]
    return "none", None, ["no kvm module loaded", *evidence]


def measure_eoi_at_delivery(path: str = "/dev/kvm") -> bool | None:
    """Take one edge interrupt in a real-mode guest; True when ISR is already empty.

    None where the device cannot run the kvm backend or no interrupt was taken.
    """
    from seoib.sim.ioapic import rte

    from .backend import KvmBackend, KvmBench
    from .device import KvmUnavailable

    try:
        backend = KvmBackend(path)
    except (KvmUnavailable, OSError):
        return None
    try:
        bench = KvmBench(backend, "split", 0x20, vcpu=True)
        assert bench.vcpu is not None
        bench.vcpu.set_cpuid(True)
        bench.ioapic.write_rte(3, rte(0x40, level=False))
        bench.ioapic.set_line(3, 1)
        bench.deliver()
        if not bench.vcpu.lapic.taken[0x40]:
            return None
        return backend.eoi_at_delivery
    except OSError:
        return None
    finally:
        backend.close()


def detect(path: str = "/dev/kvm", *, measure: bool = True, sys_module: str = SYS_MODULE,
           cpuinfo: str = CPUINFO,
           measurer: Callable[[str], bool | None] = measure_eoi_at_delivery) -> KvmHost:
    """The KVM implementation of this host; with ``measure``, its EOI timing too.

    Reads ``sys_module`` and ``cpuinfo`` (parameters for tests) and, when measuring,
    runs one short guest on ``path`` through ``measurer``. Never raises for a host
    without KVM: the answer is then ``none`` or ``other`` with the timing unknown.
    """
    name, module, evidence = _implementation(_modules(sys_module), _cpu_flags(cpuinfo))
    timing = measurer(path) if measure else None
    if measure and timing is None:
        evidence.append(f"EOI timing not measured: {path} cannot run a guest here")
    return KvmHost(name, module, tuple(evidence), timing)
