"""Mechanistic simulator of x2APIC Suppress-EOI-Broadcast on KVM + QEMU.

Registers (LAPIC, IOAPIC), KVM ioctls and modes, QEMU's save/load, each QEMU
SEOIB design as its own module (designs/), and guests reduced to how they
acknowledge level interrupts. Written from docs/domain.md and the designs' sources; it
never reads rules/ and never looks verdicts up: a host names its design, the
design's behaviour is code here.
"""

from .api import simulate_boot, simulate_migration, simulate_snapshot
from .assumptions import SWITCHES, Assumptions
from .config import SimHost, SimVM
from .outcome import BOOT_OUTCOMES, MIGRATION_OUTCOMES, BootWitness, MigrationWitness, VMState

__all__ = [
    "BOOT_OUTCOMES",
    "MIGRATION_OUTCOMES",
    "SWITCHES",
    "Assumptions",
    "BootWitness",
    "MigrationWitness",
    "SimHost",
    "SimVM",
    "VMState",
    "simulate_boot",
    "simulate_migration",
    "simulate_snapshot",
]
