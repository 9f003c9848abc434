"""Which KVM implementation answers on this host, and whether it EOIs at delivery.

Contract: :func:`kvm_implementation` names the module behind /dev/kvm - ``vmx``
(kvm_intel), ``svm`` (kvm_amd), ``pvm`` (kvm_pvm, the paravirtualized nested
backend) or ``other`` - from /sys/module, and says whether that implementation
processes a guest's LAPIC EOI when it delivers the interrupt rather than when the
guest writes EOI. kvm_pvm does (measured: its EOI exits come before the handler
runs, docs/domain.md "Measured on real binaries"); VMX and SVM process the EOI at
the guest's write. Unknown is None, never a guess.

This is the lab's one reading of the host's KVM: a shared detection in
seoib/kvmhost can replace the body without touching its callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["KvmImplementation", "kvm_implementation"]

# module directory under /sys/module -> (name, EOI processed at delivery)
_MODULES: tuple[tuple[str, str, bool | None], ...] = (
    ("kvm_intel", "vmx", False),
    ("kvm_amd", "svm", False),
    ("kvm_pvm", "pvm", True),
)


@dataclass(frozen=True)
class KvmImplementation:
    """``name``: vmx, svm, pvm, other or none; ``module``: the kernel module seen."""

    name: str
    module: str | None
    eoi_at_delivery: bool | None

    def as_json(self) -> dict[str, object]:
        return {"implementation": self.name, "module": self.module,
                "eoi_at_delivery": self.eoi_at_delivery}

    def describe(self) -> str:
        eoi = {True: "EOIs processed at delivery", False: "EOIs processed at the guest's write",
               None: "EOI timing unknown"}[self.eoi_at_delivery]
        return f"{self.name} ({self.module or 'no KVM module seen'}; {eoi})"


def kvm_implementation(sys_module: str | Path = "/sys/module") -> KvmImplementation:
    """The KVM implementation loaded on this host.

    >>> kvm_implementation("/nonexistent").name
    'none'
    """
    root = Path(sys_module)
    for module, name, at_delivery in _MODULES:
        if (root / module).is_dir():
            return KvmImplementation(name, module, at_delivery)
    if (root / "kvm").is_dir():
        return KvmImplementation("other", "kvm", None)
    return KvmImplementation("none", None, None)
