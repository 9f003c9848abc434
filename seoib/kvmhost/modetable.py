"""Measure how the running kernel treats SEOIB: the mode table and the EINVAL answers.

For each irqchip (split, in-kernel) and KVM mode (QUIRKED, ENABLED, DISABLED) a fresh
VM with one x2APIC vCPU: the KVM_ENABLE_CAP answer, LVR bit 24, whether the guest's
SVR bit 12 sticks, and whether one level interrupt's EOI (bit 12 as kept) reached the
IOAPIC (split: a KVM_EXIT_IOAPIC_EOI; in-kernel: KVM's IOAPIC cleared Remote IRR).
The line is lowered before the CPU accepts the interrupt, so the answer does not
depend on when the kernel processes the LAPIC EOI. Plus the capability mask per fd
and the ENABLE_CAP calls that must fail. A dozen VMs; well under a second.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from seoib.sim.ioapic import RTE_LEVEL
from seoib.sim.kvm import MODE_DISABLED, MODE_ENABLED, MODE_QUIRKED, errno_name

from . import abi
from .backend import KvmBackend, KvmBench

__all__ = ["MODES", "Check", "ModeRow", "ModeTable", "measure"]

MODES = (MODE_QUIRKED, MODE_ENABLED, MODE_DISABLED)
_FLAG = {
    MODE_ENABLED: abi.KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST,
    MODE_DISABLED: abi.KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST,
}
PIN, VECTOR = 2, 0x40
SVR_WITH_SEOIB = 0x11FF  # APIC enabled, spurious vector 0xff, EOI-broadcast suppression


@dataclass(frozen=True)
class ModeRow:
    """One mode on one irqchip, as measured (None: not reached, the cap was refused)."""

    irqchip: str
    mode: str
    enable_cap: str
    lvr_bit24: int | None = None
    svr_bit12: int | None = None
    eoi_exits: int | None = None
    eoi_reached_ioapic: bool | None = None

    @property
    def suppression_honored(self) -> bool | None:
        """The guest asked for suppression (bit 12 kept) and the IOAPIC heard no EOI."""
        if self.svr_bit12 is None or self.eoi_reached_ioapic is None:
            return None
        return bool(self.svr_bit12) and not self.eoi_reached_ioapic


@dataclass(frozen=True)
class Check:
    """One ioctl answer: what the kernel said."""

    name: str
    result: str


@dataclass(frozen=True)
class ModeTable:
    """The whole measurement."""

    device: str
    x2apic_api: int
    modes: tuple[ModeRow, ...]
    checks: tuple[Check, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "x2apic-api": f"0x{self.x2apic_api:x}",
            "modes": [dict(asdict(r), suppression_honored=r.suppression_honored) for r in self.modes],
            "checks": [asdict(c) for c in self.checks],
            "seconds": round(self.seconds, 3),
        }


def _row(backend: KvmBackend, irqchip: str, mode: str) -> ModeRow:
    bench = KvmBench(backend, irqchip, 0x20, vcpu=True)
    try:
        answer = 0
        if mode != MODE_QUIRKED:
            answer = bench.kvm_vm.enable_cap_x2apic_api(_FLAG[mode])
        if answer < 0:
            return ModeRow(irqchip, mode, errno_name(answer))
        vcpu = bench.vcpu
        assert vcpu is not None
        vcpu.set_cpuid(True)
        lvr24 = int(bool(vcpu.lapic.lvr >> 24 & 1))
        vcpu.guest_write_svr(SVR_WITH_SEOIB)
        svr12 = int(bool(vcpu.lapic.svr >> 12 & 1))
        bench.ioapic.write_rte(PIN, VECTOR | RTE_LEVEL)
        bench.ioapic.set_line(PIN, 1)
        bench.ioapic.set_line(PIN, 0)
        bench.deliver()
        bench.guest_eoi()
        reached = bench.ioapic.remote_irr(PIN) == 0
        return ModeRow(irqchip, mode, errno_name(answer), lvr24, svr12, bench.kvm_vm.eoi_exits, reached)
    finally:
        bench.close()


def _checks(backend: KvmBackend) -> list[Check]:
    out = [Check("system fd KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API)", hex(backend.mask))]

    def fresh(irqchip: str) -> KvmBench:
        return KvmBench(backend, irqchip, 0x20, vcpu=False)

    for irqchip, what in (("off", "no irqchip"), ("split", "split irqchip"), ("on", "in-kernel irqchip")):
        bench = fresh(irqchip)
        try:
            out.append(Check(f"VM fd mask, {what}", hex(bench.kvm_vm.check_extension_x2apic_api())))
        finally:
            bench.close()
    calls = (
        ("split", 0xC, "ENABLE and DISABLE together, split"),
        ("split", 0x10, "an unknown bit, split"),
        ("off", 0x4, "ENABLE without an irqchip"),
        ("off", 0x8, "DISABLE without an irqchip"),
    )
    for irqchip, flags, what in calls:
        bench = fresh(irqchip)
        try:
            answer = errno_name(bench.kvm_vm.enable_cap_x2apic_api(flags))
            out.append(Check(f"KVM_ENABLE_CAP({flags:#x}), {what}", answer))
        finally:
            bench.close()
    return out


def measure(path: str = "/dev/kvm") -> ModeTable:
    """Run the table on ``path``; raises KvmUnavailable where it cannot run."""
    start = time.perf_counter()
    backend = KvmBackend(path)
    try:
        rows = tuple(_row(backend, irqchip, mode) for irqchip in ("split", "on") for mode in MODES)
        checks = tuple(_checks(backend))
        return ModeTable(path, backend.mask, rows, checks, time.perf_counter() - start)
    finally:
        backend.close()
