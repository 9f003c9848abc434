"""The kernels the lab runs QEMU on: this one, and this one seen through the KVM shim.

Contract: a :class:`KernelView` is what QEMU sees of /dev/kvm and how the engine
is told about it. ``this-kernel`` passes every ioctl through. ``without-flags``
answers ``KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API)`` masked to 0x3 and fails
``KVM_ENABLE_CAP`` of bits 2/3 with EINVAL: a kernel before commit 6517dfbcc918,
for QEMU's own code paths (the engine is given ``x2apic-api=0x3``). The
``design-*`` views set the flags on the VM fd before the first vCPU, as a QEMU
SEOIB design does at power-on, so a binary without a design runs RESPECTED or
NOT_ADVERTISED guests; the engine judges those as the ``accel-property`` design
with that ``seoib-policy`` (an explicit choice, made before any vCPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["KERNEL_VIEWS", "KernelView", "view"]

# KVM_X2APIC_API bits (docs/domain.md, "The x2APIC API flags")
OLD_KERNEL_MASK = 0x3
ENABLE_SEOIB = 0x4
DISABLE_SEOIB = 0x8


@dataclass(frozen=True)
class KernelView:
    name: str
    description: str
    mask: int | None = None  # CHECK_EXTENSION answered ANDed with this; ENABLE_CAP outside it: EINVAL
    set_flags: int | None = None  # flags the shim enables before the first vCPU
    policy: str | None = None  # the policy the engine is told the design chose

    def env(self, shim: Path, log: Path) -> dict[str, str]:
        """The environment that makes the shim show this view and log to ``log``."""
        env = {"LD_PRELOAD": str(shim), "SEOIB_LAB_SHIM_LOG": str(log)}
        if self.mask is not None:
            env["SEOIB_LAB_X2APIC_MASK"] = f"0x{self.mask:x}"
        if self.set_flags is not None:
            env["SEOIB_LAB_X2APIC_SET"] = f"0x{self.set_flags:x}"
        return env

    def host_keys(self, real_mask: int) -> dict[str, str]:
        """Host spec keys for the engine: the mask QEMU sees; the design that sets flags."""
        mask = real_mask if self.mask is None else real_mask & self.mask
        keys = {"x2apic-api": f"0x{mask:x}"}
        if self.set_flags is not None:
            keys["seoib"] = "accel-property"
        return keys

    def vm_keys(self) -> dict[str, str]:
        return {"seoib-policy": self.policy} if self.policy else {}


KERNEL_VIEWS: dict[str, KernelView] = {v.name: v for v in (
    KernelView("this-kernel", "the running kernel, every ioctl passed through"),
    KernelView("without-flags", "a kernel without the SEOIB flags (shim: KVM_CAP_X2APIC_API "
               "masked to 0x3, ENABLE_CAP of bits 2/3 EINVAL)", mask=OLD_KERNEL_MASK),
    KernelView("design-respected", "flags set as a design that chose RESPECTED (shim: "
               "ENABLE_CAP 0x4 on the VM fd before the first vCPU)", set_flags=ENABLE_SEOIB,
               policy="respected"),
    KernelView("design-not-advertised", "flags set as a design that chose NOT_ADVERTISED (shim: "
               "ENABLE_CAP 0x8 on the VM fd before the first vCPU)", set_flags=DISABLE_SEOIB,
               policy="not-advertised"),
)}


def view(name: str) -> KernelView:
    return KERNEL_VIEWS[name]
