"""Mechanistic simulator of x2APIC Suppress-EOI-Broadcast on KVM + QEMU.

Registers (LAPIC, IOAPIC), KVM ioctls and modes, QEMU's SEOIB designs and
save/load, and guests reduced to how they acknowledge level interrupts. Written
from DOMAIN.md; it never reads rules/ and never looks verdicts up.
"""

from .api import simulate_boot, simulate_migration, simulate_snapshot
from .config import SimHost, SimVM
from .outcome import BOOT_OUTCOMES, MIGRATION_OUTCOMES, BootWitness, MigrationWitness, VMState

__all__ = [
    "BOOT_OUTCOMES",
    "MIGRATION_OUTCOMES",
    "BootWitness",
    "MigrationWitness",
    "SimHost",
    "SimVM",
    "VMState",
    "simulate_boot",
    "simulate_migration",
    "simulate_snapshot",
]
