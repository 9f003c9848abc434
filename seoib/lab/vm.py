"""The VMs the lab starts, as QEMU command lines the engine reads too.

Contract: a :class:`LabVM` is a machine type, a ``kernel-irqchip`` value (None:
QEMU's default), a ``-global ioapic.version`` (None: the machine type's) and
whether the lab's guest runs. :meth:`LabVM.argv` is the real command line; the
engine is given the same words (:meth:`LabVM.cmdline`, read by
seoib.inputs.qemu_cmdline), so what it judges is what QEMU ran. Every VM boots
the lab's 64 KiB -bios image: no firmware package is needed, and both sides of a
migration carry ROMs of the same size. ``-cpu qemu64,+x2apic``: ``-cpu host``
fails on some nested hosts (MSR 0x10a on kvm_pvm) and x2APIC must be there.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEBUG_EXIT_DONE", "LabVM", "guest_devices"]

DEBUGCON_PORT = 0xE9
DEBUG_EXIT_PORT = 0xF4
DEBUG_EXIT_DONE = (0x10 << 1) | 1  # isa-debug-exit: QEMU exits with (value << 1) | 1
MEMORY = "32"


def guest_devices(console: Path) -> list[str]:
    """pc-testdev (the level line), isa-debugcon to ``console``, isa-debug-exit."""
    return ["-device", "pc-testdev",
            "-chardev", f"file,id=lab-console,path={console}",
            "-device", f"isa-debugcon,iobase=0x{DEBUGCON_PORT:x},chardev=lab-console",
            "-device", f"isa-debug-exit,iobase=0x{DEBUG_EXIT_PORT:x},iosize=1"]


@dataclass(frozen=True)
class LabVM:
    machine: str
    irqchip: str | None = None  # kernel-irqchip=on|split|off; None: the machine type's default
    ioapic: str | None = None  # -global ioapic.version=; None: the machine type's

    @property
    def label(self) -> str:
        return (f"{self.machine} kernel-irqchip={self.irqchip or 'default'} "
                f"ioapic.version={self.ioapic or 'default'}")

    def argv(self, binary: str, bios: Path, *, paused: bool = True,
             extra: list[str] | None = None) -> list[str]:
        accel = "kvm" if self.irqchip is None else f"kvm,kernel-irqchip={self.irqchip}"
        words = [binary, *(["-S"] if paused else []), "-nodefaults", "-no-user-config",
                 "-display", "none", "-machine", self.machine, "-accel", accel,
                 "-cpu", "qemu64,+x2apic", "-m", MEMORY, "-bios", str(bios)]
        if self.ioapic:
            words += ["-global", f"ioapic.version={self.ioapic}"]
        return words + (extra or [])

    def cmdline(self, binary: str, bios: Path) -> str:
        """The command line the engine reads: the run's own words (devices it ignores aside)."""
        return shlex.join(self.argv(binary, bios))

    def as_json(self) -> dict[str, str | None]:
        return {"machine": self.machine, "kernel_irqchip": self.irqchip, "ioapic_global": self.ioapic}
