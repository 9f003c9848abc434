"""Matrix row keys as specs: a cell's ``src``/``dst``/``host`` and ``vm`` pasted into the CLI.

The matrices (migration.csv, policy.csv, matrix.json) name a stack class
``kernel 4.8..6.17, 6.18.0..6.18.16 | QEMU 10.1..11.0 | rfc-v2`` and a VM class
``pc-q35-5.1..9.2,irqchip=default,guest=any`` (seoib.query.classes and
seoib.matrix.space write them). Every release or machine type a label covers gives
the same input facts, so any member answers for the class; these functions pick
the one the matrix itself evaluated where it can (the newest of a run, as
``Stack.rep`` and ``MachineClass.machine`` do) and return ordinary spec items.
A text that is not a matrix key is returned unchanged.

The examples are made-up releases: the functions read labels, not the rules.

>>> host_key_spec("kernel 2.0, 1.8.17+, 1.9.7+ | QEMU 3.1..4.0 | rfc-v2")
{'kernel': '2.0', 'qemu': '4.0', 'seoib': 'rfc-v2'}
>>> vm_key_spec("pc-q35-1.1..2.2, 3.0,irqchip=default,guest=any")
{'machine': 'pc-q35-3.0', 'guest': 'any'}
>>> vm_key_spec("pc-i440fx-1.2,irqchip=split,ioapic=0x11,guest=linux")["machine"]
'pc-i440fx-1.2'
>>> vm_key_spec("machine=q35,irqchip=split")
'machine=q35,irqchip=split'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["host_key_spec", "vm_key_spec"]

_HOST_KEY = re.compile(r"^kernel (?P<kernel>[^|]+) \| QEMU (?P<qemu>[^|]+) \| (?P<design>[a-z0-9-]+)$")
_VERSION = r"[0-9]+\.[0-9]+(?:\.[0-9]+)?"
# A VM label: the machine class label, then key=value items (vocabulary.VM_SPEC_KEYS).
_VM_KEY = re.compile(r"^(?P<machine>[^=]+?)"
                     r"(?P<items>(?:,(?:irqchip|ioapic|x2apic|guest|seoib-policy)=[^,]+)+)$")
_FAMILY = re.compile(rf"^(?P<family>.+?)-(?P<version>{_VERSION})(?:\.\.{_VERSION})?$")


def _last_release(label: str) -> str:
    """The newest release a run label names: ``4.8..6.17, 6.18.0..6.18.16`` -> ``6.18.16``;
    ``6.18.17+`` -> ``6.18.17``. The first run of a kernel label is mainline, so a kernel
    takes the end of the first run instead (see :func:`host_key_spec`)."""
    return label.split(", ")[-1].split("..")[-1].rstrip("+")


def host_key_spec(raw: str | Mapping[str, Any]) -> str | Mapping[str, Any] | dict[str, str]:
    """Spec items for a matrix stack key; anything else as given."""
    found = _HOST_KEY.match(raw) if isinstance(raw, str) else None
    if found is None:
        return raw
    first_run = found.group("kernel").split(", ")[0]
    return {"kernel": first_run.split("..")[-1].rstrip("+"), "qemu": _last_release(found.group("qemu")),
            "seoib": found.group("design")}


def vm_key_spec(raw: str | Mapping[str, Any]) -> str | Mapping[str, Any] | dict[str, str]:
    """Spec items for a matrix VM class key; anything else as given."""
    found = _VM_KEY.match(raw) if isinstance(raw, str) else None
    if found is None:
        return raw
    label = found.group("machine")
    head = _FAMILY.match(label.split(", ")[0])  # later runs drop the family: 4.1..9.2, 10.0
    machine = label
    if head is not None:
        newest = label.split(", ")[-1].split("..")[-1]
        machine = f"{head.group('family')}-{newest.removeprefix(head.group('family') + '-')}"
    items = dict(item.split("=", 1) for item in found.group("items")[1:].split(","))
    if items.get("irqchip") == "default":
        del items["irqchip"]
    return {"machine": machine, **items}
