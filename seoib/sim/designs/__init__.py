"""Each QEMU SEOIB design as code, one module per design, written from its source.

``none`` and ``rfc-v2`` follow code (upstream QEMU; the RFC v2 diff);
``machine-gated`` and ``accel-property`` follow their descriptions, with every
assumption listed in the module docstring. The simulator is told a design's name
only; how it behaves lives here, never in rules/.
"""

from __future__ import annotations

from typing import Any

from ..assumptions import DEFAULT, Assumptions
from ..config import SimHost
from .accel_property import AccelProperty
from .base import QemuDesign
from .machine_gated import MachineGated
from .none import NoSeoib
from .rfc_v2 import RfcV2, globals_ioapic_version

__all__ = ["DESIGNS", "QemuDesign", "design", "design_facts", "globals_ioapic_version"]

DESIGNS: dict[str, QemuDesign] = {
    d.name: d for d in (NoSeoib(), RfcV2(), MachineGated(), AccelProperty())
}


def design(name: str) -> QemuDesign:
    """The design a QEMU build ships, by name."""
    return DESIGNS[name]


def design_facts(host: SimHost, assume: Assumptions = DEFAULT) -> dict[str, Any]:
    """What the host's design does, for reports: its gate and its IOAPIC lookup."""
    d = design(host.seoib)
    gate = assume.get("machine-gated-gate") if isinstance(d, MachineGated) else None
    return {"gate": gate, "ioapic_lookup": d.ioapic_lookup}
