"""The seam register-level steps run through: the simulator's objects or a real kernel's.

A :class:`Backend` hands the runner a *bench* (a bare VM: ``kvm``, ``kvm_vm``,
``vcpu``, ``ioapic``, ``create_result``, ``create_irqchip``, ``create_vcpu``,
``deliver``, ``reset``, ``suppression_honored``) and the system fd, and may refuse steps it
cannot execute before anything runs. ``SIM_BACKEND`` is the simulator's own;
seoib.kvmhost.backend implements the same protocol on /dev/kvm.
"""

from __future__ import annotations

from typing import Any, Protocol

from seoib.errors import Location

from ..config import SimHost
from ..ioapic import Ioapic
from ..kvm import IRQCHIP_KERNEL, IRQCHIP_NONE, Kvm, KvmVcpu, KvmVm
from ..lapic import SVR_ENABLE
from ..qemu import probe_suppression
from .records import ScenarioStep

__all__ = ["SIM_BACKEND", "Backend", "Bench", "accept_pending"]


def accept_pending(lapic: Any, ioapic: Ioapic) -> None:
    """The ``run`` step: the CPU accepts what is pending (IRR -> ISR, no handler)."""
    for _ in range(512):  # each vector at most once per class; bounded anyway
        if lapic.ack() >= 0:
            continue
        if ioapic.delayed:
            ioapic.fire_delayed()
            continue
        break


class Bench:
    """A bare VM for register-level steps: KVM objects and an IOAPIC, no QEMU policy."""

    def __init__(self, host: SimHost, irqchip: str, ioapic: int, vcpu: bool) -> None:
        self.kvm = Kvm(host.x2apic_api, host.split_irqchip)
        self.kvm_vm: KvmVm = self.kvm.create_vm()
        self.ioapic_version = ioapic
        self.ioapic = Ioapic(ioapic)
        self.kvm_vm.eoi_exit = self.ioapic.eoi_broadcast
        self.vcpu: KvmVcpu | None = None
        self.create_result = 0
        if irqchip != IRQCHIP_NONE:
            self.create_result = self.create_irqchip(irqchip)
        if vcpu:
            self.create_vcpu()

    def deliver(self) -> None:
        """The ``run`` step: the CPU accepts what is pending (IRR -> ISR, no handler)."""
        assert self.vcpu is not None
        accept_pending(self.vcpu.lapic, self.ioapic)

    def reset(self) -> None:
        """The ``reset`` step: vCPU and IOAPIC RESET, then the firmware again."""
        assert self.vcpu is not None
        self.vcpu.reset()
        self._firmware()
        self.ioapic.reset()

    def _firmware(self) -> None:
        # As the kvm backend's firmware: the APIC software-enabled (SVR bit 8), which a
        # guest needs before any fixed interrupt is accepted (KVM drops them otherwise).
        assert self.vcpu is not None
        self.vcpu.lapic.svr |= SVR_ENABLE

    def suppression_honored(self) -> bool:
        """Whether an EOI of a level interrupt skips the IOAPIC broadcast (probed)."""
        assert self.vcpu is not None
        return probe_suppression(self.kvm_vm, self.vcpu, self.ioapic.version)

    def create_irqchip(self, kind: str) -> int:
        """KVM_CREATE_IRQCHIP (``on``) or the split irqchip capability (``split``)."""
        result = self.kvm_vm.create_irqchip(kind)
        if result == 0 and kind == IRQCHIP_KERNEL and self.kvm_vm.kernel_ioapic is not None:
            self.ioapic = self.kvm_vm.kernel_ioapic
            self.kvm_vm.eoi_exit = None
        return result

    def create_vcpu(self) -> int:
        """KVM_CREATE_VCPU for vCPU 0 (-EEXIST the second time)."""
        if self.vcpu is not None:
            return -17
        self.vcpu = self.kvm_vm.create_vcpu()
        self._firmware()
        self.ioapic.sink = self.vcpu.lapic.accept
        return 0


class Backend(Protocol):
    """What executes register-level steps: the simulator's objects or a real kernel's.

    ``bench`` returns an object with ``kvm``, ``kvm_vm``, ``vcpu``, ``ioapic``,
    ``create_result``, ``create_irqchip``, ``create_vcpu``, ``deliver``, ``reset`` and
    ``suppression_honored`` (as :class:`Bench`); ``check`` refuses, before anything
    runs, steps this backend cannot execute.
    """

    name: str

    def check(self, steps: list[ScenarioStep], host: SimHost, where: Location) -> None: ...

    def system_kvm(self, host: SimHost) -> Any: ...

    def bench(self, host: SimHost, irqchip: str, ioapic: int, vcpu: bool) -> Any: ...


class _SimBackend:
    """The default backend: the simulator's own KVM, LAPIC and IOAPIC models."""

    name = "sim"

    def check(self, steps: list[ScenarioStep], host: SimHost, where: Location) -> None:
        return None

    def system_kvm(self, host: SimHost) -> Kvm:
        return Kvm(host.x2apic_api, host.split_irqchip)

    def bench(self, host: SimHost, irqchip: str, ioapic: int, vcpu: bool) -> Bench:
        return Bench(host, irqchip, ioapic, vcpu)


SIM_BACKEND: Backend = _SimBackend()
