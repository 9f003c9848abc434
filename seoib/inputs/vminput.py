"""The value every input reader returns: the VM spec keys an input really determines.

Some refusals depend on what only the rules know: QEMU refuses interrupt remapping
with kernel-irqchip=on, and the irqchip may be the machine type's default; it
refuses ``-device intel-iommu`` on a machine whose board does not take it, and the
machine may be an alias or a downstream type. A reader states such a condition as a
:data:`Requirement` and the resolver holds the resolved VM to it (exit 3 with
QEMU's own words when it fails).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Location
from ..vocabulary import SEOIB_POLICIES, VM_SPEC_KEYS

__all__ = ["SEOIB_POLICIES", "VM_KEYS", "Requirement", "VMInput"]

# (what, allowed, QEMU's refusal, where): "irqchip" with the modes QEMU accepts, or
# "device" with a -device the resolved machine's board must take (machines.yaml).
Requirement = tuple[str, tuple[str, ...], str, Location | None]

# The contract's VM spec keys (docs/contracts.md, "Host and VM specs"); readers never invent others.
VM_KEYS = VM_SPEC_KEYS


@dataclass(frozen=True)
class VMInput:
    """What one domain XML or QEMU command line says about a VM.

    ``spec`` holds only keys the input determines, in contract form; a key that is
    absent means "the machine-type (or contract) default applies". ``notes`` say what
    was ignored, hinted or assumed, so a reader can check the reading.
    """

    spec: dict[str, str]
    notes: tuple[str, ...] = field(default=())
    source: str = "command line"
    requires: tuple[Requirement, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = set(self.spec) - set(VM_KEYS)
        if unknown:  # a programming error, not bad input
            raise ValueError(f"not VM spec keys: {sorted(unknown)}")
