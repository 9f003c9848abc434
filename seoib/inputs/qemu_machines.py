"""What a QEMU binary's machine types really build, read through QMP from a paused start.

Contract: :func:`list_machines` asks ``query-machines`` (types, aliases, the default);
:func:`observe` starts one machine type paused with one kernel-irqchip mode (None:
QEMU's default) and reports the LAPIC model of CPU 0 and every IOAPIC device with
its ``version`` property, read from ``info qtree``. The irqchip mode QEMU chose
follows from those devices: in-kernel LAPIC and IOAPIC = on, in-kernel LAPIC with a
userspace IOAPIC = split, userspace LAPIC = off. Each start is one bounded
:class:`~seoib.inputs.qmp.QmpSession`; nothing here knows the rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .qmp import QemuError, QmpCommandError, QmpSession

__all__ = [
    "IRQCHIP_MODES",
    "IoapicDevice",
    "MachineEntry",
    "MachineObservation",
    "list_machines",
    "observe",
    "parse_qtree_ioapics",
]

# QEMU's -accel kvm,kernel-irqchip= values; None stands for "not given".
IRQCHIP_MODES: tuple[str | None, ...] = (None, "on", "split", "off")
# QOM type names (QEMU hw/intc/ioapic.c TYPE_IOAPIC "ioapic", hw/i386/kvm/ioapic.c
# "kvm-ioapic"; hw/intc/apic.c "apic", hw/i386/kvm/apic.c "kvm-apic").
USER_IOAPIC, KVM_IOAPIC = "ioapic", "kvm-ioapic"
KVM_LAPIC = "kvm-apic"
START_TIMEOUT = 5.0


@dataclass(frozen=True)
class MachineEntry:
    """One ``query-machines`` entry."""

    name: str
    alias: str | None = None
    default: bool = False
    deprecated: bool = False


@dataclass(frozen=True)
class IoapicDevice:
    type: str  # "ioapic" (QEMU's) or "kvm-ioapic" (KVM's, no version property)
    version: str | None  # "0x20"; None where the device has no version property


@dataclass(frozen=True)
class MachineObservation:
    machine: str
    option: str | None  # the kernel-irqchip value given; None: QEMU's default
    lapic: str | None  # QOM type of CPU 0's LAPIC; None: the CPU has none
    ioapics: tuple[IoapicDevice, ...] = field(default=())

    @property
    def irqchip(self) -> str | None:
        """The irqchip mode the devices show; None without a LAPIC."""
        if self.lapic is None:
            return None
        if self.lapic != KVM_LAPIC:
            return "off"
        return "on" if any(d.type == KVM_IOAPIC for d in self.ioapics) else "split"

    def describe(self) -> str:
        devices = ", ".join(f"{d.type} {d.version}" if d.version else d.type for d in self.ioapics)
        return f"LAPIC {self.lapic or 'none'}, IOAPIC {devices or 'none'}"

    def as_json(self) -> dict[str, Any]:
        return {"machine": self.machine, "kernel_irqchip": self.option or "default",
                "irqchip": self.irqchip, "lapic": self.lapic,
                "ioapics": [{"type": d.type, "version": d.version} for d in self.ioapics]}


_DEV = re.compile(r"^(?P<indent> *)dev: (?P<type>[^,\s]+), id ")
_VERSION = re.compile(r"^ *version = \d+ \((?P<hex>0x[0-9a-fA-F]+)\)\s*$")


def parse_qtree_ioapics(qtree: str) -> tuple[IoapicDevice, ...]:
    """IOAPIC devices of ``info qtree`` output, in tree order, with their version.

    A device's properties are the lines indented deeper than its ``dev:`` line up to
    the next ``dev:`` or ``bus:`` line.
    """
    found: list[IoapicDevice] = []
    current: str | None = None
    version: str | None = None
    for line in qtree.splitlines():
        dev = _DEV.match(line)
        if dev or line.lstrip().startswith("bus:"):
            if current is not None:
                found.append(IoapicDevice(current, version))
            current, version = None, None
            if dev and dev.group("type") in (USER_IOAPIC, KVM_IOAPIC):
                current = dev.group("type")
            continue
        m = _VERSION.match(line)
        if current is not None and m:
            version = f"0x{int(m.group('hex'), 16):x}"
    if current is not None:
        found.append(IoapicDevice(current, version))
    return tuple(found)


def list_machines(binary: str, *, accel: str = "kvm", timeout: float = START_TIMEOUT) -> list[MachineEntry]:
    """``query-machines`` of ``binary`` (started with ``-machine none``)."""
    with QmpSession(binary, ["-machine", "none", "-accel", accel], timeout=timeout) as qmp:
        answer = qmp.execute("query-machines")
    if not isinstance(answer, list):
        raise QemuError(f"{binary}: query-machines did not return a list")
    out = []
    for m in answer:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            raise QemuError(f"{binary}: query-machines returned an entry without a name")
        alias = m.get("alias")
        out.append(MachineEntry(m["name"], alias if isinstance(alias, str) else None,
                                m.get("is-default") is True, m.get("deprecated") is True))
    return sorted(out, key=lambda e: e.name)


def _lapic(qmp: QmpSession) -> str | None:
    cpus = qmp.execute("query-cpus-fast")
    if not isinstance(cpus, list) or not cpus or not isinstance(cpus[0], dict):
        return None
    try:
        kind = qmp.execute("qom-get", {"path": f"{cpus[0]['qom-path']}/lapic", "property": "type"})
    except QmpCommandError as err:
        if err.error_class == "DeviceNotFound":
            return None  # a CPU model without a LAPIC (isapc's)
        raise
    return kind if isinstance(kind, str) else None


def observe(binary: str, machine: str, option: str | None = None, *, accel: str = "kvm",
            extra: Sequence[str] = (), timeout: float = START_TIMEOUT) -> MachineObservation:
    """Start ``machine`` paused with ``kernel-irqchip=option`` and read its interrupt chips."""
    accel_arg = accel if option is None else f"{accel},kernel-irqchip={option}"
    with QmpSession(binary, ["-machine", machine, "-accel", accel_arg, *extra],
                    timeout=timeout) as qmp:
        qtree = qmp.execute("human-monitor-command", {"command-line": "info qtree"})
        lapic = _lapic(qmp)
    if not isinstance(qtree, str):
        raise QemuError(f"{binary}: info qtree did not return text")
    return MachineObservation(machine, option, lapic, parse_qtree_ioapics(qtree))
