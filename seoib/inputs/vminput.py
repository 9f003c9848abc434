"""The value every input reader returns: the VM spec keys an input really determines."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..vocabulary import SEOIB_POLICIES, VM_SPEC_KEYS

__all__ = ["SEOIB_POLICIES", "VM_KEYS", "VMInput"]

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

    def __post_init__(self) -> None:
        unknown = set(self.spec) - set(VM_KEYS)
        if unknown:  # a programming error, not bad input
            raise ValueError(f"not VM spec keys: {sorted(unknown)}")
