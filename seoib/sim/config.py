"""What the simulator is told about a host stack and a VM: mechanism, not versions.

A host is described by what its kernel reports, the QEMU version its build runs
as and the name of the SEOIB design it ships; how a design behaves is the
simulator's own code (seoib/sim/designs/), never a parameter. A VM is described by
its machine type, irqchip layout, IOAPIC, the user's ``-global`` options, the
``-accel kvm`` SEOIB property if given, and its guest. Resolving release numbers
and machine-type defaults into these values is the rules' job.
"""

from __future__ import annotations

import re

from .frozen import Value

__all__ = [
    "DESIGNS",
    "GUESTS",
    "IRQCHIPS",
    "KNOWN_GUESTS",
    "SEOIB_POLICIES",
    "SimHost",
    "SimVM",
]

DESIGNS = ("none", "rfc-v2", "machine-gated", "accel-property")
IRQCHIPS = ("on", "split", "off")
KNOWN_GUESTS = ("linux", "windows", "windows-hyperv", "xen")
GUESTS = (*KNOWN_GUESTS, "any")
SEOIB_POLICIES = ("quirked", "respected", "not-advertised")
IOAPIC_VERSIONS = (0x11, 0x20)
_QEMU_VERSION = re.compile(r"^\d+\.\d+")


class SimHost(Value):
    """One host stack: kernel capabilities plus the QEMU build's SEOIB design.

    ``x2apic_api`` is KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) on the system fd
    (0 = capability absent). ``qemu_version`` is the version the QEMU build runs as
    (``X.Y.Z``, optionally with a vendor suffix); a design may derive per-build facts
    from it (machine-gated: a build older than its gate has no selection).
    ``loads_commands`` are the migration stream commands (``MIG_CMD_*`` names) its loader
    knows beyond those every build knows; ``sends_commands`` the ones it sends for the
    VM's machine type (after that type's compat properties).
    """

    # Field defaults stay class attributes (as with dataclass): scenario specs read them.
    name: str = "host"
    x2apic_api: int = 0xF
    split_irqchip: bool = True
    seoib: str = "none"
    qemu_version: str | None = None
    machines: frozenset[str] | None = None
    loads_commands: frozenset[str] = frozenset()
    sends_commands: frozenset[str] = frozenset()

    def __init__(self, name: str = name, x2apic_api: int = x2apic_api, split_irqchip: bool = split_irqchip,
                 seoib: str = seoib, qemu_version: str | None = qemu_version,
                 machines: frozenset[str] | None = machines,
                 loads_commands: frozenset[str] = loads_commands,
                 sends_commands: frozenset[str] = sends_commands) -> None:
        self._store(name=name, x2apic_api=x2apic_api, split_irqchip=split_irqchip, seoib=seoib,
                    qemu_version=qemu_version, machines=machines, loads_commands=loads_commands,
                    sends_commands=sends_commands)
        # Checks as plain tests: a message is only formatted for a value that fails.
        if not (isinstance(self.x2apic_api, int) and 0 <= self.x2apic_api <= 0xF):
            raise ValueError(f"x2apic_api must be a mask in 0..0xf, got {self.x2apic_api!r}")
        if self.seoib not in DESIGNS:
            raise ValueError(f"seoib must be one of {DESIGNS}, got {self.seoib!r}")
        if qemu_version is not None and not (isinstance(qemu_version, str)
                                             and _QEMU_VERSION.match(qemu_version)):
            raise ValueError(f"qemu_version must look like X.Y[.Z][suffix], got {qemu_version!r}")
        if seoib == "machine-gated" and qemu_version is None:
            raise ValueError("seoib machine-gated needs qemu_version "
                             "(a build older than its gate selects for nothing)")


class SimVM(Value):
    """One VM configuration, with aliases and machine-type defaults already resolved.

    ``ioapic`` is the version the machine really has; ``globals`` are the user's
    ``-global driver.property=value`` options (e.g. ``("ioapic.version", "0x11")``);
    ``seoib_policy`` is ``-accel kvm,seoib-policy=`` or None when not given.
    ``has_ioapic`` is False for a board that creates no IOAPIC (isapc): its device
    lines go to the 8259 PIC, and ``ioapic`` is only what a selection's lookup reads.
    """

    machine: str = "pc-q35-10.2"
    machine_version: tuple[int, ...] | None = None
    irqchip: str = "split"
    ioapic: int = 0x20
    globals: tuple[tuple[str, str], ...] = ()
    x2apic: bool = True
    guest: str = "any"
    seoib_policy: str | None = None
    has_ioapic: bool = True

    def __init__(self, machine: str = machine, machine_version: tuple[int, ...] | None = machine_version,
                 irqchip: str = irqchip, ioapic: int = ioapic, globals: tuple[tuple[str, str], ...] = globals,
                 x2apic: bool = x2apic, guest: str = guest, seoib_policy: str | None = seoib_policy,
                 has_ioapic: bool = has_ioapic) -> None:
        self._store(machine=machine, machine_version=machine_version, irqchip=irqchip, ioapic=ioapic,
                    globals=globals, x2apic=x2apic, guest=guest, seoib_policy=seoib_policy,
                    has_ioapic=has_ioapic)
        if self.irqchip not in IRQCHIPS:
            raise ValueError(f"irqchip must be one of {IRQCHIPS}")
        if self.ioapic not in IOAPIC_VERSIONS:
            raise ValueError("ioapic must be 0x11 or 0x20")
        if self.guest not in GUESTS:
            raise ValueError(f"guest must be one of {GUESTS}")
        if not (self.seoib_policy is None or self.seoib_policy in SEOIB_POLICIES):
            raise ValueError(f"seoib_policy must be None or one of {SEOIB_POLICIES}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.globals):
            raise ValueError("globals must be (driver.property, value) string pairs")
        seen = self.global_value("ioapic.version")
        if not (seen is None or int(seen, 0) == self.ioapic):
            raise ValueError(f"-global ioapic.version={seen} contradicts ioapic {self.ioapic:#x}")
        if machine_version is not None and not all(isinstance(p, int) and p >= 0 for p in machine_version):
            raise ValueError("machine_version must be a tuple of non-negative ints or None")

    @property
    def ioapic_global(self) -> bool:
        """Whether the IOAPIC version comes from a user -global."""
        return self.global_value("ioapic.version") is not None

    def global_value(self, name: str) -> str | None:
        """The last user ``-global`` for ``driver.property`` (QEMU applies them in order)."""
        found = None
        for key, value in self.globals:
            if key == name:
                found = value
        return found
