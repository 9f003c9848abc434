"""What the simulator is told about a host stack and a VM: mechanism, not versions.

A host is described by what its kernel reports and how its QEMU build selects the
SEOIB mode; a VM by its machine type, irqchip layout, IOAPIC and guest. Resolving
release numbers into these values is the rules' job, never the simulator's.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DESIGNS",
    "GUESTS",
    "IOAPIC_LOOKUPS",
    "IRQCHIPS",
    "KNOWN_GUESTS",
    "SEOIB_POLICIES",
    "SimHost",
    "SimVM",
]

DESIGNS = ("none", "rfc-v2", "machine-gated", "accel-property")
IOAPIC_LOOKUPS = ("effective", "globals-only")
IRQCHIPS = ("on", "split", "off")
KNOWN_GUESTS = ("linux", "windows", "windows-hyperv", "xen")
GUESTS = (*KNOWN_GUESTS, "any")
SEOIB_POLICIES = ("quirked", "respected", "not-advertised")
IOAPIC_VERSIONS = (0x11, 0x20)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


@dataclass(frozen=True)
class SimHost:
    """One host stack: kernel capabilities plus the QEMU build's SEOIB design.

    ``x2apic_api`` is KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) on the system fd
    (0 = capability absent). ``gate`` is the first machine-type version that gets
    automatic selection under the ``machine-gated`` design (None: no type does).
    """

    name: str = "host"
    x2apic_api: int = 0xF
    split_irqchip: bool = True
    seoib: str = "none"
    gate: tuple[int, ...] | None = None
    ioapic_lookup: str = "effective"
    machines: frozenset[str] | None = None

    def __post_init__(self) -> None:
        _require(
            isinstance(self.x2apic_api, int) and 0 <= self.x2apic_api <= 0xF,
            f"x2apic_api must be a mask in 0..0xf, got {self.x2apic_api!r}",
        )
        _require(self.seoib in DESIGNS, f"seoib must be one of {DESIGNS}, got {self.seoib!r}")
        _require(
            self.ioapic_lookup in IOAPIC_LOOKUPS,
            f"ioapic_lookup must be one of {IOAPIC_LOOKUPS}, got {self.ioapic_lookup!r}",
        )
        _require(
            self.gate is None or all(isinstance(p, int) and p >= 0 for p in self.gate),
            f"gate must be a tuple of non-negative ints, got {self.gate!r}",
        )


@dataclass(frozen=True)
class SimVM:
    """One VM configuration, with aliases and machine-type defaults already resolved."""

    machine: str = "pc-q35-10.2"
    machine_version: tuple[int, ...] | None = None
    irqchip: str = "split"
    ioapic: int = 0x20
    ioapic_global: bool = False
    x2apic: bool = True
    guest: str = "any"
    seoib_policy: str = "quirked"

    def __post_init__(self) -> None:
        _require(self.irqchip in IRQCHIPS, f"irqchip must be one of {IRQCHIPS}")
        _require(self.ioapic in IOAPIC_VERSIONS, "ioapic must be 0x11 or 0x20")
        _require(self.guest in GUESTS, f"guest must be one of {GUESTS}")
        _require(self.seoib_policy in SEOIB_POLICIES, f"seoib_policy must be one of {SEOIB_POLICIES}")
        _require(
            self.machine_version is None or all(isinstance(p, int) and p >= 0 for p in self.machine_version),
            "machine_version must be a tuple of non-negative ints or None",
        )
